"""Tables of the archive service.

The pipeline from a lock to an archived package is kept as rows, so a restart at any point
resumes where it stopped and a redelivered event changes nothing:

- ``class_jobs``: one per class and snapshot version that a lock (or a correction) asks to
  archive; rendered into documents, then each document's signing request is opened;
- ``document_versions``: one per document and version; waits for its signing request to
  complete, then is stored as a package;
- ``packages`` and ``package_objects``: what is in object storage, with version ids and hashes
  (the primary store and the replica);
- ``fixity_checks``: the sweep's findings; ``exports``: every export, who asked and why.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _now() -> Any:
    return text("now()")


class OrgUnitRow(Base):
    """Copy of identity's org tree: department, district offices, schools."""

    __tablename__ = "org_units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(300))
    parent_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID] = mapped_column(index=True)
    district_id: Mapped[uuid.UUID | None] = mapped_column(index=True)


class ClassJobRow(Base):
    """A class's snapshot to archive: made by ``records.term.locked`` or a correction."""

    __tablename__ = "class_jobs"
    __table_args__ = (
        UniqueConstraint("class_id", "period", "snapshot_version", "cause_id"),
        Index("ix_class_jobs_due", "state", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    district_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID]
    school_year: Mapped[str] = mapped_column(String(9))
    period: Mapped[str] = mapped_column(String(8))
    snapshot_version: Mapped[int] = mapped_column(Integer)
    # lock | correction, and the lock's or the correction's id
    cause: Mapped[str] = mapped_column(String(16))
    cause_id: Mapped[uuid.UUID]
    # A correction re-archives only its student's transcript and the class's record.
    student_id: Mapped[uuid.UUID | None]
    audit_head: Mapped[str | None] = mapped_column(String(64))
    # The person the archive acts for towards records and signing (R23): who locked or applied.
    acting_for: Mapped[uuid.UUID]
    # pending -> done, or failed after the operator gives up; errors keep it pending.
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DocumentRow(Base):
    """A record of the school charter for one period: its id is stable across versions."""

    __tablename__ = "documents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    district_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID]
    school_year: Mapped[str] = mapped_column(String(9))
    period: Mapped[str] = mapped_column(String(8))
    class_id: Mapped[uuid.UUID] = mapped_column(index=True)
    student_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(300))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)


class DocumentVersionRow(Base):
    """One version of a document: rendered from a snapshot, signed, then stored."""

    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "version"),
        UniqueConstraint("document_id", "snapshot_version"),
        Index("ix_document_versions_due", "state", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"))
    version: Mapped[int] = mapped_column(Integer)
    snapshot_version: Mapped[int] = mapped_column(Integer)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    class_job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("class_jobs.id"))
    rule_set: Mapped[str | None] = mapped_column(String(64))
    rule_version: Mapped[str | None] = mapped_column(String(64))
    rendered_sha256: Mapped[str] = mapped_column(String(64))
    twin: Mapped[bytes] = mapped_column(LargeBinary)
    # signing -> signed -> stored; refused (waits for a restart); failed (operator)
    state: Mapped[str] = mapped_column(String(16))
    signing_request_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    signed_sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now()
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PackageRow(Base):
    """An archival package in object storage: the signed document, its twin, its manifest."""

    __tablename__ = "packages"
    __table_args__ = (Index("ix_packages_scope", "school_id", "school_year", "period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id"), index=True)
    document_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("document_versions.id"), unique=True
    )
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    school_id: Mapped[uuid.UUID]
    school_year: Mapped[str] = mapped_column(String(9))
    period: Mapped[str] = mapped_column(String(8))
    class_id: Mapped[uuid.UUID] = mapped_column(index=True)
    student_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    supersedes_package_id: Mapped[uuid.UUID | None]
    prefix: Mapped[str] = mapped_column(String(400))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    document_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    legal_hold: Mapped[bool] = mapped_column(Boolean)
    retention_basis: Mapped[str] = mapped_column(String(120))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_fixity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_fixity_ok: Mapped[bool | None] = mapped_column(Boolean)


class PackageObjectRow(Base):
    """One object of a package, on the primary store and (when configured) the replica."""

    __tablename__ = "package_objects"

    package_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("packages.id", ondelete="RESTRICT"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(600))
    version_id: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    replica_version_id: Mapped[str | None] = mapped_column(String(200))
    replicated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FixityCheckRow(Base):
    """A failed (or repaired) fixity finding; passing checks only move the package's stamp."""

    __tablename__ = "fixity_findings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id"), index=True)
    location: Mapped[str] = mapped_column(String(16))
    failure: Mapped[str] = mapped_column(String(32))
    paths: Mapped[list[str]] = mapped_column(ARRAY(String(200)))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExportRow(Base):
    """A student's records exported on request (R10, R22): who asked, why, what was given."""

    __tablename__ = "exports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(index=True)
    school_id: Mapped[uuid.UUID]
    requested_by: Mapped[uuid.UUID]
    client_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500))
    package_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    key: Mapped[str] = mapped_column(String(600))
    version_id: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
