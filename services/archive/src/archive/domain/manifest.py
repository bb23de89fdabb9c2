"""The manifest of an archival package, BagIt-style (RFC 8493): every file with its SHA-256,
and the facts that pin the package to its source.

The manifest is itself stored as an object beside the files and its hash travels in
``archive.package.stored``, so a package can be checked without the archive's database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

BAGIT_VERSION: Final = "1.0"
MANIFEST_SCHEMA: Final = "hsdt-archive-package/1"


@dataclass(frozen=True, slots=True)
class PackageFile:
    path: str  # inside the package: data/<name>
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True, slots=True)
class Manifest:
    package_id: str
    document_id: str
    document_kind: str
    version: int
    school_id: str
    school_year: str
    period: str
    class_id: str | None
    student_id: str | None
    snapshot_version: int
    snapshot_sha256: str | None
    audit_head: str | None
    rule_set: str | None
    rule_version: str | None
    signing_request_id: str | None
    signatures: list[dict[str, Any]]
    retention: dict[str, Any]
    files: list[PackageFile]
    created_at: datetime
    supersedes_package_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Canonical bytes: sorted keys, no spaces; the same manifest hashes the same."""
        body = {
            "schema": MANIFEST_SCHEMA,
            "bagit": {
                "version": BAGIT_VERSION,
                "manifest-sha256": {f.path: f.sha256 for f in self.files},
                "payload-oxum": f"{sum(f.size for f in self.files)}.{len(self.files)}",
            },
            "package_id": self.package_id,
            "document": {
                "id": self.document_id,
                "kind": self.document_kind,
                "version": self.version,
                "supersedes_package_id": self.supersedes_package_id,
            },
            "scope": {
                "school_id": self.school_id,
                "school_year": self.school_year,
                "period": self.period,
                "class_id": self.class_id,
                "student_id": self.student_id,
            },
            "source": {
                "snapshot_version": self.snapshot_version,
                "snapshot_sha256": self.snapshot_sha256,
                "audit_head": self.audit_head,
                "rule_set": self.rule_set,
                "rule_version": self.rule_version,
            },
            "signing": {
                "request_id": self.signing_request_id,
                "signatures": self.signatures,
            },
            "retention": self.retention,
            "files": [
                {"path": f.path, "sha256": f.sha256, "size": f.size, "media_type": f.media_type}
                for f in self.files
            ],
            "created_at": self.created_at.isoformat(),
            **({"extra": self.extra} if self.extra else {}),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def file_entry(path: str, content: bytes, media_type: str) -> PackageFile:
    return PackageFile(path, hashlib.sha256(content).hexdigest(), len(content), media_type)


def verify(manifest_json: bytes, files: dict[str, bytes]) -> list[str]:
    """Paths whose content is missing or does not match the manifest (empty: intact)."""
    listed = json.loads(manifest_json)["bagit"]["manifest-sha256"]
    broken = []
    for path, expected in sorted(listed.items()):
        content = files.get(path)
        if content is None or hashlib.sha256(content).hexdigest() != expected:
            broken.append(path)
    return broken
