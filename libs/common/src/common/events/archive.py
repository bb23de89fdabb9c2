"""Events published by ``services/archive``: stored archival packages and failed fixity checks.

Archive owns the rendered documents, so the kinds of document are defined here; signing uses
them to say what it signed.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from common.events.base import IntegrationEvent
from common.events.identity import DistrictId, ProvinceId, SchoolId
from common.events.records import SchoolYear, Sha256Hex, Term


class DocumentKind(StrEnum):
    """A record of the school charter (R2) that archive renders, has signed and keeps.

    transcript: học bạ; tracking_book: sổ theo dõi và đánh giá học sinh; class_summary: bảng
    tổng hợp kết quả đánh giá giáo dục (primary); class_log: sổ ghi đầu bài; teaching_plan:
    kế hoạch giáo dục bộ môn.
    """

    TRANSCRIPT = "transcript"
    TRACKING_BOOK = "tracking_book"
    CLASS_SUMMARY = "class_summary"
    CLASS_LOG = "class_log"
    TEACHING_PLAN = "teaching_plan"


class FixityFailure(StrEnum):
    """What a fixity check found wrong with a stored package."""

    CHECKSUM_MISMATCH = "checksum_mismatch"
    OBJECT_MISSING = "object_missing"
    RETENTION_MISSING = "retention_missing"
    MANIFEST_INVALID = "manifest_invalid"


class StorageLocation(StrEnum):
    """Which copy of a package: the primary object store or a replica."""

    PRIMARY = "primary"
    REPLICA = "replica"


class PackageStored(IntegrationEvent):
    """A signed document was stored as an archival package (gói lưu trữ) under retention.

    Published by archive once the document and its manifest of checksums are in object storage
    with the retention the law sets for its kind (WORM). A correction stores a new version as
    a new package; the package it supersedes stays.
    """

    event_type: ClassVar[str] = "vn.hsdt.archive.package.stored.v1"
    subject_field: ClassVar[str] = "package_id"

    package_id: uuid.UUID = Field(description="Id of the archival package.")
    document_id: uuid.UUID = Field(description="Id of the rendered document it holds.")
    document_kind: DocumentKind = Field(description="Which record the document is.")
    version: int = Field(ge=1, description="Version of the document; corrections add versions.")
    supersedes_package_id: uuid.UUID | None = Field(
        description="Package of the previous version; null for the first version."
    )
    signing_request_id: uuid.UUID | None = Field(
        description="Signing request whose signatures the document carries; null if unsigned."
    )
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    term: Term | None = Field(description="Period of the document; null for whole-level ones.")
    class_id: uuid.UUID | None = Field(description="Class of the document, if it has one.")
    student_id: uuid.UUID | None = Field(description="Student of a transcript; null otherwise.")
    document_sha256: Sha256Hex = Field(description="Hex SHA-256 of the stored document.")
    manifest_sha256: Sha256Hex = Field(description="Hex SHA-256 of the package manifest.")
    size_bytes: int = Field(ge=0, le=2**53, description="Size of the package in bytes.")
    retain_until: date | None = Field(
        description="End of the retention period; null for permanent keeping (vĩnh viễn)."
    )
    retention_basis: str = Field(
        min_length=1,
        max_length=120,
        description="Legal basis of the retention period, e.g. TT 08/2025/TT-BGDĐT.",
    )
    stored_at: AwareDatetime = Field(description="When the package was stored.")


class FixityFailed(IntegrationEvent):
    """A fixity check (kiểm tra tính toàn vẹn) found a stored package damaged or missing.

    Published by the scheduled fixity check for each failing package and copy; the operations
    team restores it from another copy.
    """

    event_type: ClassVar[str] = "vn.hsdt.archive.fixity.failed.v1"
    subject_field: ClassVar[str] = "package_id"

    package_id: uuid.UUID = Field(description="Id of the failing archival package.")
    check_id: uuid.UUID = Field(description="Id of the fixity check run.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    location: StorageLocation = Field(description="Which copy failed.")
    failure: FixityFailure = Field(description="What was wrong.")
    failed_objects: int = Field(ge=1, description="Objects of the package that failed.")
    checked_at: AwareDatetime = Field(description="When the check ran.")
