"""Object storage of the archive: a locked, versioned S3 bucket (``store``), the retention
the law sets for each record (``retention``), and a one-node Ceph gateway to run it on in
tests and development (``rgw``)."""

from archive.storage.retention import (
    RETENTION_TABLE,
    LockMode,
    RecordType,
    Retention,
    RetentionTable,
    retention_for,
)
from archive.storage.store import (
    ChecksumMismatch,
    ObjectInfo,
    ObjectMissing,
    ObjectStore,
    RetentionNotExtended,
    StoredObject,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "RETENTION_TABLE",
    "ChecksumMismatch",
    "LockMode",
    "ObjectInfo",
    "ObjectMissing",
    "ObjectStore",
    "RecordType",
    "Retention",
    "RetentionNotExtended",
    "RetentionTable",
    "StoreError",
    "StoreUnavailable",
    "StoredObject",
    "retention_for",
]
