"""The archive's object store: write-once versions under object lock, over the MinIO client.

Works against MinIO (production) and Ceph's RADOS gateway (tests, development). It has no
delete: the archive never deletes, and retention is only ever lengthened. Two things the
MinIO client (7.2) does not do for us on these servers, so this module does them:

* It sends Content-MD5 only over HTTPS, and some servers refuse an object-lock upload over
  plain HTTP without a checksum header; the store computes and sends it on every put (the
  server checks it: a damaged upload is refused, not stored).
* It cannot parse RGW's nanosecond retention dates; the store reads the
  ``x-amz-object-lock-*`` headers of a HEAD itself.

Blocking calls: from async code, run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.retention import Retention as MinioRetention

from archive.storage.retention import LockMode, Retention

SHA256_META: Final = "sha256"
_META_PREFIX: Final = "x-amz-meta-"
_META_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_MISSING_CODES: Final = frozenset(
    {"NoSuchKey", "NoSuchVersion", "NoSuchObject", "ResourceNotFound"}
)


class StoreError(Exception):
    """The object store refused or failed an operation."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class StoreUnavailable(StoreError):  # noqa: N818 — named for what happened
    """The object store could not be reached or answered with a server error; try later."""


class ObjectMissing(StoreError):  # noqa: N818 — named for what happened
    """No such object, or no such version of it."""


class ChecksumMismatch(StoreError):  # noqa: N818 — named for what happened
    """The bytes read back do not hash to the SHA-256 recorded when they were stored."""


class RetentionNotExtended(StoreError):  # noqa: N818 — named for what happened
    """Asked to shorten a retention: refused here, before the server is asked."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    version_id: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    version_id: str | None
    size: int
    etag: str
    metadata: dict[str, str] = field(default_factory=dict)  # user metadata, keys lower-case
    lock_mode: LockMode | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False
    content_type: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.metadata.get(SHA256_META)


class ObjectStore:
    """One bucket of an S3 server, locked (WORM) and versioned."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        region: str = "us-east-1",
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 2,
    ) -> None:
        url = urlsplit(endpoint)
        if url.scheme not in {"http", "https"} or not url.netloc:
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        self.bucket = bucket
        # The client's own default retries five times with back-off and waits five minutes
        # for a read: a store that is down would hang a request for minutes.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=urllib3.Retry(
                total=retries, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            maxsize=10,
        )
        self.client = Minio(
            url.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=url.scheme == "https",
            region=region,  # known, so presigning asks the server nothing
            http_client=http,
        )

    def ensure_bucket(self) -> None:
        """Create the bucket with object lock (and so versioning) unless it exists; a bucket
        that exists without object lock is an error, never silently used."""
        with self._errors():
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket, object_lock=True)
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":  # a concurrent ensure_bucket
                        raise
            try:
                self.client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                if exc.code == "ObjectLockConfigurationNotFoundError":
                    raise StoreError(
                        f"bucket {self.bucket} exists without object lock", exc.code
                    ) from exc
                raise

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        retention: Retention | None = None,
        legal_hold: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Store ``data`` as a new version of ``key``; returns its version id.

        ``metadata`` keys are lower-case ASCII tokens, values ASCII (S3 carries them in
        headers); the SHA-256 of ``data`` is added as ``sha256``. A legal hold is placed when
        ``legal_hold`` or ``retention.legal_hold`` says so.
        """
        sha256 = hashlib.sha256(data).hexdigest()
        headers: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": content_type,
            "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 — S3's integrity header, not security
        }
        for name, value in (metadata or {}).items():
            if not _META_KEY.match(name) or name == SHA256_META:
                raise ValueError(f"metadata key {name!r}: lower-case token, not {SHA256_META!r}")
            if not value.isascii() or "\n" in value or "\r" in value:
                raise ValueError(f"metadata {name!r}: the value must be one line of ASCII")
            headers[_META_PREFIX + name] = value
        headers[_META_PREFIX + SHA256_META] = sha256
        if retention is not None:
            headers["x-amz-object-lock-mode"] = str(retention.mode)
            headers["x-amz-object-lock-retain-until-date"] = _amz_date(retention.until)
        if legal_hold or (retention is not None and retention.legal_hold):
            headers["x-amz-object-lock-legal-hold"] = "ON"
        with self._errors(key):
            # put_object() cannot carry Content-MD5 (it turns unknown headers into user
            # metadata); _put_object is the single PUT it would make (minio pinned to 7.2.20).
            result = self.client._put_object(self.bucket, key, data, headers)
        if not result.version_id:
            raise StoreError(f"bucket {self.bucket} gave no version id: is it versioned?")
        return StoredObject(key, result.version_id, sha256, len(data))

    def get(self, key: str, version_id: str | None = None) -> bytes:
        """The bytes of ``key`` (its latest version unless ``version_id``), checked against
        the SHA-256 recorded at put."""
        with self._errors(key, version_id):
            response = self.client.get_object(self.bucket, key, version_id=version_id)
            try:
                data = response.read()
                expected = response.headers.get(_META_PREFIX + SHA256_META)
            finally:
                response.close()
                response.release_conn()
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise ChecksumMismatch(f"{key} ({version_id or 'latest'}) does not match its SHA-256")
        return data

    def stat(self, key: str, version_id: str | None = None) -> ObjectInfo:
        with self._errors(key, version_id):
            obj = self.client.stat_object(self.bucket, key, version_id=version_id)
        headers = obj.metadata or {}
        meta: dict[str, str] = {}
        lock: dict[str, str] = {}
        for name, value in headers.items():
            lower = name.lower()
            if lower.startswith(_META_PREFIX):
                meta[lower.removeprefix(_META_PREFIX)] = str(value)
            elif lower.startswith("x-amz-object-lock-"):
                lock[lower] = str(value)
        mode = lock.get("x-amz-object-lock-mode")
        until = lock.get("x-amz-object-lock-retain-until-date")
        return ObjectInfo(
            version_id=obj.version_id,
            size=obj.size or 0,
            etag=(obj.etag or "").strip('"'),
            metadata=meta,
            lock_mode=LockMode(mode.upper()) if mode else None,
            retain_until=parse_amz_date(until) if until else None,
            legal_hold=lock.get("x-amz-object-lock-legal-hold", "").upper() == "ON",
            content_type=obj.content_type,
        )

    def versions(self, key: str) -> list[str]:
        """Version ids of ``key``, newest first (delete markers left out)."""
        with self._errors(key):
            found = [
                obj.version_id
                for obj in self.client.list_objects(
                    self.bucket, prefix=key, recursive=True, include_version=True
                )
                if obj.object_name == key and not obj.is_delete_marker and obj.version_id
            ]
        if not found:
            raise ObjectMissing(f"no versions of {key}")
        return found

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` whose latest version is an object, in key order."""
        with self._errors():
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                if obj.object_name is not None:
                    yield obj.object_name

    def extend_retention(self, key: str, version_id: str, until: datetime) -> Retention:
        """Move the end of the version's retention to ``until``; a version without retention
        gets COMPLIANCE. Refuses to shorten (``RetentionNotExtended``) before asking the
        server to change anything; an equal date changes nothing. Returns the retention now in
        force (its legal hold as it is)."""
        if until.tzinfo is None:
            raise ValueError("until must be an aware datetime")
        until = _ceil_ms(until)
        info = self.stat(key, version_id)
        if info.retain_until is not None and until < info.retain_until:
            raise RetentionNotExtended(
                f"{key} ({version_id}) is retained until {info.retain_until.isoformat()}; "
                f"{until.isoformat()} would shorten it"
            )
        mode = info.lock_mode or LockMode.COMPLIANCE
        if info.retain_until != until:
            with self._errors(key, version_id):
                self.client.set_object_retention(
                    self.bucket, key, MinioRetention(str(mode), until), version_id=version_id
                )
        return Retention(mode, until, info.legal_hold)

    def presigned_get(self, key: str, version_id: str | None, expires: timedelta) -> str:
        """A URL that reads this version without credentials until ``expires`` has passed
        (1 second to 7 days; SigV4 limits)."""
        with self._errors(key, version_id):
            return self.client.presigned_get_object(
                self.bucket, key, expires=expires, version_id=version_id
            )

    @contextmanager
    def _errors(self, key: str | None = None, version_id: str | None = None) -> Iterator[None]:
        what = f"{self.bucket}/{key}" if key else self.bucket
        if version_id:
            what += f" ({version_id})"
        try:
            yield
        except S3Error as exc:
            if exc.code in _MISSING_CODES and key is not None:
                raise ObjectMissing(f"{what}: {exc.code}", exc.code) from exc
            raise StoreError(f"{what}: {exc.code}: {exc.message}", exc.code) from exc
        except (ServerError, InvalidResponseError) as exc:
            raise StoreUnavailable(f"{self.endpoint} answered {what} badly: {exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"{self.endpoint} unreachable ({what}): {exc}") from exc


_AMZ_DATE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$")


def parse_amz_date(text: str) -> datetime:
    """An ISO 8601 date as S3 servers send it, with any number of fractional digits: RGW sends
    nanoseconds (``2026-11-24T08:56:25.926546000Z``), which ``datetime`` cannot read."""
    match = _AMZ_DATE.match(text.strip())
    if match is None:
        raise ValueError(f"not an S3 date: {text!r}")
    base, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    offset = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{base}.{micros}{offset}").astimezone(UTC)


def _ceil_ms(value: datetime) -> datetime:
    """S3 retention dates carry milliseconds: round up, never keeping a record less long."""
    value = value.astimezone(UTC)
    extra = value.microsecond % 1000
    return value + timedelta(microseconds=1000 - extra) if extra else value


def _amz_date(value: datetime) -> str:
    value = _ceil_ms(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
