"""Tables of the identity service (SQLAlchemy 2, typed).

Rows are the stored form of the domain values in ``identity.domain``; the repository converts
between the two, so the rules never see a session.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class OrgUnitRow(Base):
    """A unit of the org tree: the department (Sở GDĐT), a district office or a school."""

    __tablename__ = "org_units"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    levels: Mapped[list[str]] = mapped_column(ARRAY(String(40)), nullable=False, default=list)
    # Active school years, e.g. "2025-2026"; schools open and close over the years.
    school_years: Mapped[list[str]] = mapped_column(ARRAY(String(9)), nullable=False, default=list)
    created_at: Mapped[datetime] = _now()
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    __table_args__ = (
        CheckConstraint("kind IN ('province', 'district', 'school')", name="org_unit_kind"),
        # One department per deployment.
        Index("one_department", "kind", unique=True, postgresql_where="kind = 'province'"),
    )


class UserRow(Base):
    """An account of a person (tài khoản); staff of one or more units."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    # The unit the account was created in; it scopes who may administer the account.
    home_unit_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("org_units.id"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = _now()
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    __table_args__ = (CheckConstraint("status IN ('active', 'disabled')", name="user_status"),)


class UserUnitRow(Base):
    """A user works in a unit (a teacher may teach in two schools)."""

    __tablename__ = "user_units"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("org_units.id"), primary_key=True, index=True
    )


class CredentialRow(Base):
    """How a user proves who they are: password hash, second factor, recovery codes."""

    __tablename__ = "credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    password_changed_at: Mapped[datetime] = _now()
    # Set after a reset by an admin: the next sign-in must choose a new password.
    must_change_password: Mapped[bool] = mapped_column(nullable=False, default=False)
    # The TOTP secret, encrypted with the service's data key; null until enrolled.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_code_hashes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, default=list
    )


class GroupRow(Base):
    """A named group in a unit: a team (tổ chuyên môn), a department (bộ phận), an admin board."""

    __tablename__ = "groups"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    unit_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("org_units.id"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    head_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id")
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("unit_id", "name", name="group_name_in_unit"),
        CheckConstraint(
            "kind IN ('group', 'team', 'department', 'admin_board')", name="group_kind"
        ),
    )


class GroupMemberRow(Base):
    __tablename__ = "group_members"

    group_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class GrantRow(Base):
    """A role granted at a unit, to a user or a group, for a time; never deleted, only ended."""

    __tablename__ = "grants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    unit_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("org_units.id"), nullable=False, index=True
    )
    grantee_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    grantee_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_grants_grantee", "grantee_kind", "grantee_id"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="grant_window"),
    )


class SigningKeyRow(Base):
    """An Ed25519 signing key, its private half encrypted (PKCS#8) with the key passphrase."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    not_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    private_pem: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class RefreshFamilyRow(Base):
    """One sign-in's chain of refresh tokens; only hashes are stored."""

    __tablename__ = "refresh_families"

    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    current_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    current_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    spent_hashes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False, default=list)
    revoked: Mapped[bool] = mapped_column(nullable=False, default=False)

    __table_args__ = (Index("ix_refresh_spent", "spent_hashes", postgresql_using="gin"),)


class ClientRow(Base):
    """Software using OAuth2 client credentials, bound to one org unit, with its scopes.

    ``kind`` school: school software bound to its school (scopes teacher, staff). ``kind``
    platform: a platform service (the archive) bound to the province (scope archivist), created
    by an operator; its name is unique, so the operator command is idempotent by name.
    """

    __tablename__ = "clients"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(
        String(16), nullable=False, default="school", server_default="school"
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    secret_hash: Mapped[str] = mapped_column(Text, nullable=False)
    # The school of school software, the province of a platform client.
    unit_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("org_units.id"), nullable=False, index=True
    )
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    created_at: Mapped[datetime] = _now()
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)

    __table_args__ = (
        CheckConstraint("kind IN ('school', 'platform')", name="client_kind"),
        Index("platform_client_name", "name", unique=True, postgresql_where="kind = 'platform'"),
    )


class AuditRow(Base):
    """Every change and every sign-in, with who, when, from where and in which unit."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = _now()
    actor_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(64))
    # The client acting for a teacher: both are named (R23).
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    source_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, object]] = mapped_column(JSONB, nullable=False, default=dict)

    __table_args__ = (Index("ix_audit_unit_at", "unit_id", "at"),)
