"""Queries for sign-in and tokens: credentials, grants, signing keys, refresh families, clients."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import String, delete, or_, select, text, type_coerce, update
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from common.events.identity import GranteeKind, OrgLevel, Role
from identity.domain import Grant, Grantee, GroupMembership, OrgTree, OrgUnit, SchoolLevel, Status
from identity.models import (
    AuditRow,
    ClientRow,
    CredentialRow,
    GrantRow,
    GroupMemberRow,
    GroupRow,
    OrgUnitRow,
    RefreshFamilyRow,
    SigningKeyRow,
    UserRow,
)

# One advisory lock id for "someone is creating or rotating the signing keys".
_KEY_RING_LOCK = 0x48534454_4B455953  # "HSDTKEYS"


class AuthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Accounts ---------------------------------------------------------------------------------

    async def user_by_username(self, username: str) -> UserRow | None:
        """By the stored form (NFC, trimmed, lower case, as administration stores it)."""
        return await self.session.scalar(select(UserRow).where(UserRow.username == username))

    async def user(self, user_id: uuid.UUID) -> UserRow | None:
        return await self.session.get(UserRow, user_id)

    async def password_hash(self, user_id: uuid.UUID) -> str | None:
        return await self.session.scalar(
            select(CredentialRow.password_hash).where(CredentialRow.user_id == user_id)
        )

    async def must_change_password(self, user_id: uuid.UUID) -> bool:
        flag = await self.session.scalar(
            select(CredentialRow.must_change_password).where(CredentialRow.user_id == user_id)
        )
        return bool(flag)

    async def credential_for_update(self, user_id: uuid.UUID) -> CredentialRow | None:
        # Locked: TOTP replay protection and recovery-code use must not race each other.
        return await self.session.scalar(
            select(CredentialRow).where(CredentialRow.user_id == user_id).with_for_update()
        )

    async def org_tree(self) -> OrgTree:
        rows = (await self.session.scalars(select(OrgUnitRow))).all()
        return OrgTree.build(
            OrgUnit(
                id=r.id,
                kind=OrgLevel(r.kind),
                code=r.code,
                name=r.name,
                parent_id=r.parent_id,
                levels=frozenset(SchoolLevel(level) for level in r.levels),
            )
            for r in rows
        )

    async def unit(self, unit_id: uuid.UUID) -> OrgUnitRow | None:
        return await self.session.get(OrgUnitRow, unit_id)

    async def grants_of_user(
        self, user_id: uuid.UUID
    ) -> tuple[list[Grant], list[GroupMembership], list[Grant]]:
        """The user's own unrevoked grants, their group memberships, and their groups' grants;
        ``domain.effective_grants`` decides what holds now."""
        memberships = [
            GroupMembership(user_id=user_id, group_id=group_id, group_status=Status(status))
            for group_id, status in (
                await self.session.execute(
                    select(GroupMemberRow.group_id, GroupRow.status)
                    .join(GroupRow, GroupRow.id == GroupMemberRow.group_id)
                    .where(GroupMemberRow.user_id == user_id)
                )
            ).all()
        ]
        group_ids = [m.group_id for m in memberships]
        rows = (
            await self.session.scalars(
                select(GrantRow).where(
                    GrantRow.revoked_at.is_(None),
                    or_(
                        (GrantRow.grantee_kind == GranteeKind.USER.value)
                        & (GrantRow.grantee_id == user_id),
                        (GrantRow.grantee_kind != GranteeKind.USER.value)
                        & GrantRow.grantee_id.in_(group_ids),
                    ),
                )
            )
        ).all()
        direct = [_grant(r) for r in rows if r.grantee_kind == GranteeKind.USER.value]
        via_groups = [_grant(r) for r in rows if r.grantee_kind != GranteeKind.USER.value]
        return direct, memberships, via_groups

    # Signing keys -----------------------------------------------------------------------------

    async def lock_key_ring(self) -> None:
        """Serialise key creation and rotation across replicas until the transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_RING_LOCK}
        )

    async def signing_keys(self) -> Sequence[SigningKeyRow]:
        return (await self.session.scalars(select(SigningKeyRow))).all()

    async def signing_key(self, kid: str) -> SigningKeyRow | None:
        return await self.session.get(SigningKeyRow, kid)

    async def delete_signing_key(self, kid: str) -> None:
        await self.session.execute(delete(SigningKeyRow).where(SigningKeyRow.kid == kid))

    # Refresh families -------------------------------------------------------------------------

    async def refresh_family_by_hash(self, token_hash: str) -> RefreshFamilyRow | None:
        return await self.session.scalar(
            select(RefreshFamilyRow).where(
                or_(
                    RefreshFamilyRow.current_hash == token_hash,
                    # The dialect's ARRAY gives ``@>``, which the GIN index on spent_hashes serves.
                    type_coerce(RefreshFamilyRow.spent_hashes, PG_ARRAY(String(64))).contains(
                        [token_hash]
                    ),
                )
            )
        )

    async def refresh_family(self, family_id: uuid.UUID) -> RefreshFamilyRow | None:
        return await self.session.get(RefreshFamilyRow, family_id)

    async def save_refresh_family_if(
        self, row_values: dict[str, object], family_id: uuid.UUID, expected_generation: int
    ) -> bool:
        result = await self.session.execute(
            update(RefreshFamilyRow)
            .where(
                RefreshFamilyRow.family_id == family_id,
                RefreshFamilyRow.generation == expected_generation,
            )
            .values(**row_values)
            .returning(RefreshFamilyRow.family_id)
        )
        return result.first() is not None

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        """Unconditionally: a revocation must win over any concurrent rotation."""
        await self.session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.family_id == family_id)
            .values(revoked=True)
        )

    async def revoke_families_of(self, subject: str, *, keep: str | None = None) -> list[str]:
        """Revoke the subject's live families (all but ``keep``); their ids."""
        query = update(RefreshFamilyRow).where(
            RefreshFamilyRow.subject == subject, RefreshFamilyRow.revoked.is_(False)
        )
        if keep is not None:
            query = query.where(RefreshFamilyRow.family_id != uuid.UUID(keep))
        result = await self.session.execute(
            query.values(revoked=True).returning(RefreshFamilyRow.family_id)
        )
        return [str(fid) for fid in result.scalars()]

    # Clients ----------------------------------------------------------------------------------

    async def client_by_client_id(self, client_id: str) -> ClientRow | None:
        return await self.session.scalar(select(ClientRow).where(ClientRow.client_id == client_id))

    async def platform_client_by_name(
        self, name: str, *, for_update: bool = False
    ) -> ClientRow | None:
        query = select(ClientRow).where(ClientRow.kind == "platform", ClientRow.name == name)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    # Audit ------------------------------------------------------------------------------------

    def add(self, row: object) -> None:
        self.session.add(row)

    def audit(
        self,
        *,
        action: str,
        outcome: str,
        actor_kind: str,
        actor_id: str | None,
        source_address: str | None,
        unit_id: uuid.UUID | None = None,
        target: str | None = None,
        on_behalf_of: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        self.session.add(
            AuditRow(
                action=action,
                outcome=outcome,
                actor_kind=actor_kind,
                actor_id=actor_id,
                source_address=source_address,
                unit_id=unit_id,
                target=target,
                on_behalf_of=on_behalf_of,
                details=details or {},
            )
        )


def _grant(row: GrantRow) -> Grant:
    return Grant(
        id=row.id,
        role=Role(row.role),
        unit_id=row.unit_id,
        grantee=Grantee(GranteeKind(row.grantee_kind), row.grantee_id),
        valid_from=row.valid_from,
        granted_by=row.granted_by,
        valid_to=row.valid_to,
    )
