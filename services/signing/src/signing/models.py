"""Tables of the signing service.

A signing request holds its document as a list of revisions: the original and one revision per
signature, each an incremental update of the one before, never rewritten. Steps are the places
of the chain, in order. Certificates are the signers' and schools' X.509 chains; the private
keys never come here: they live in the PKCS#11 token under ``key_label`` (or on the signer's
own USB token, when ``key_label`` is null).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
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
    parent_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID] = mapped_column(index=True)
    district_id: Mapped[uuid.UUID | None] = mapped_column(index=True)


class ChainRuleRow(Base):
    """A province's signer chain for one kind of document (roles in chain order)."""

    __tablename__ = "chain_rules"

    province_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    updated_by: Mapped[uuid.UUID]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class CertificateRow(Base):
    """A holder's certificate chain: a person's, or a school's organisation certificate."""

    __tablename__ = "certificates"
    __table_args__ = (
        # One certificate in use per holder; replaced ones stay for the validation of old files.
        Index(
            "uq_certificates_active",
            "holder_kind",
            "holder_id",
            unique=True,
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    holder_kind: Mapped[str] = mapped_column(String(8))  # person | school
    holder_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    chain_pem: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    serial: Mapped[str] = mapped_column(String(64))
    common_name: Mapped[str] = mapped_column(String(256))
    not_before: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Label of the private key in the PKCS#11 token; null: the key is on the signer's USB token.
    key_label: Mapped[str | None] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_by: Mapped[uuid.UUID]
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class SigningRequestRow(Base):
    __tablename__ = "signing_requests"
    __table_args__ = (
        Index("ix_signing_requests_school_state", "school_id", "state"),
        # One request in progress per document: archive's retries find the one they opened.
        Index(
            "uq_signing_requests_document_open",
            "document_id",
            unique=True,
            postgresql_where=text("state IN ('open', 'refused')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    document_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    school_id: Mapped[uuid.UUID]
    district_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID]
    school_year: Mapped[str] = mapped_column(String(9))
    term: Mapped[str | None] = mapped_column(String(16))
    class_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    student_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(16))
    # +1 at every restart; steps and client sessions of an earlier round no longer count.
    round: Mapped[int] = mapped_column(SmallInteger, default=1)
    revisions: Mapped[int] = mapped_column(Integer, default=1)
    document_sha256: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[uuid.UUID]
    owner_client: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningStepRow(Base):
    """One place of a request's chain."""

    __tablename__ = "signing_steps"
    __table_args__ = (Index("ix_signing_steps_waiting", "user_id", "state"),)

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("signing_requests.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[uuid.UUID | None]
    field: Mapped[str] = mapped_column(String(64))
    page: Mapped[int] = mapped_column(SmallInteger, default=0)
    # [x1, y1, x2, y2] in PDF points; null: an invisible signature.
    box: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    state: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who acted: the signer, or the leader who applied the seal.
    signed_by: Mapped[uuid.UUID | None]
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str | None] = mapped_column(String(8))
    refused_reason: Mapped[str | None] = mapped_column(String(1000))
    refused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevisionRow(Base):
    """One revision of a request's document; never updated."""

    __tablename__ = "document_revisions"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("signing_requests.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # original | signature | lta | restart
    what: Mapped[str] = mapped_column(String(16))
    position: Mapped[int | None] = mapped_column(SmallInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    made_by: Mapped[uuid.UUID | None]
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ExternalSessionRow(Base):
    """A client-side signature in progress: the prepared document waits for the signer's token."""

    __tablename__ = "external_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("signing_requests.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)
    round: Mapped[int] = mapped_column(SmallInteger)
    base_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[uuid.UUID]
    certificate_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BatchRow(Base):
    """Batch signing: everything waiting for one person in a class or a school, confirmed once."""

    __tablename__ = "signing_batches"
    __table_args__ = (Index("ix_signing_batches_state", "state"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID]
    class_id: Mapped[uuid.UUID | None]
    include_seal: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued | running | done
    state: Mapped[str] = mapped_column(String(16))
    request_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    signed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
