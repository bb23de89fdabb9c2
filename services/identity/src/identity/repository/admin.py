"""Queries for administration: org units, users, groups, grants, audit.

Rows go in and out as domain values where the domain has one (``OrgUnit``, ``Grant``); lists are
keyset-paged on a unique, stable key (code, username, id), never by offset.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from common.events.identity import GranteeKind, OrgLevel, Role
from identity.domain import (
    Grant,
    Grantee,
    GroupMembership,
    OrgTree,
    OrgUnit,
    SchoolLevel,
    Status,
    effective_grants,
)
from identity.models import (
    AuditRow,
    ClientRow,
    CredentialRow,
    GrantRow,
    GroupMemberRow,
    GroupRow,
    OrgUnitRow,
    UserRow,
    UserUnitRow,
)


def unit_of(row: OrgUnitRow) -> OrgUnit:
    return OrgUnit(
        id=row.id,
        kind=OrgLevel(row.kind),
        code=row.code,
        name=row.name,
        parent_id=row.parent_id,
        levels=frozenset(SchoolLevel(level) for level in row.levels),
    )


def grant_of(row: GrantRow) -> Grant:
    return Grant(
        id=row.id,
        role=Role(row.role),
        unit_id=row.unit_id,
        grantee=Grantee(GranteeKind(row.grantee_kind), row.grantee_id),
        valid_from=row.valid_from,
        granted_by=row.granted_by,
        valid_to=row.valid_to,
    )


class AdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- org tree

    async def unit_rows(self) -> Sequence[OrgUnitRow]:
        return (await self.session.scalars(select(OrgUnitRow).order_by(OrgUnitRow.code))).all()

    async def tree(self) -> OrgTree | None:
        """The whole org tree (a province is a few thousand units at most); None before
        bootstrap."""
        rows = await self.unit_rows()
        return OrgTree.build(unit_of(r) for r in rows) if rows else None

    async def unit_row(self, unit_id: uuid.UUID) -> OrgUnitRow | None:
        return await self.session.get(OrgUnitRow, unit_id)

    async def unit_row_by_code(self, code: str) -> OrgUnitRow | None:
        return await self.session.scalar(select(OrgUnitRow).where(OrgUnitRow.code == code))

    async def lock_tree(self) -> None:
        # Units are added one at a time: two admins adding the same code or a second
        # department would otherwise both pass the tree's checks.
        await self.session.execute(
            select(OrgUnitRow.id).where(OrgUnitRow.kind == "province").with_for_update()
        )

    def add_unit(
        self, unit: OrgUnit, *, created_by: uuid.UUID | None, school_years: Sequence[str] = ()
    ) -> OrgUnitRow:
        row = OrgUnitRow(
            id=unit.id,
            kind=unit.kind.value,
            code=unit.code,
            name=unit.name,
            parent_id=unit.parent_id,
            levels=sorted(level.value for level in unit.levels),
            school_years=list(school_years),
            created_by=created_by,
        )
        self.session.add(row)
        return row

    async def units_page(
        self, unit_ids: Collection[uuid.UUID], after_code: str | None, limit: int
    ) -> Sequence[OrgUnitRow]:
        query = select(OrgUnitRow).where(OrgUnitRow.id.in_(list(unit_ids)))
        if after_code is not None:
            query = query.where(OrgUnitRow.code > after_code)
        return (await self.session.scalars(query.order_by(OrgUnitRow.code).limit(limit))).all()

    # --- users

    async def user(self, user_id: uuid.UUID, *, for_update: bool = False) -> UserRow | None:
        return await self.session.get(UserRow, user_id, with_for_update=for_update)

    async def user_by_username(self, username: str) -> UserRow | None:
        return await self.session.scalar(select(UserRow).where(UserRow.username == username))

    def add_user(self, row: UserRow, unit_ids: Collection[uuid.UUID]) -> None:
        self.session.add(row)
        for unit_id in unit_ids:
            self.session.add(UserUnitRow(user_id=row.id, unit_id=unit_id))

    async def user_unit_ids(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        found = await self.session.scalars(
            select(UserUnitRow.unit_id).where(UserUnitRow.user_id == user_id)
        )
        return sorted(found.all())

    async def unit_ids_of(
        self, user_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        found: dict[uuid.UUID, list[uuid.UUID]] = {u: [] for u in user_ids}
        rows = await self.session.execute(
            select(UserUnitRow.user_id, UserUnitRow.unit_id)
            .where(UserUnitRow.user_id.in_(list(user_ids)))
            .order_by(UserUnitRow.unit_id)
        )
        for user_id, unit_id in rows:
            found[user_id].append(unit_id)
        return found

    async def users_page(
        self, unit_ids: Collection[uuid.UUID], after_username: str | None, limit: int
    ) -> Sequence[UserRow]:
        # A user is visible where they have their home or work in one of the units.
        works_in = select(UserUnitRow.user_id).where(UserUnitRow.unit_id.in_(list(unit_ids)))
        query = select(UserRow).where(
            UserRow.home_unit_id.in_(list(unit_ids)) | UserRow.id.in_(works_in)
        )
        if after_username is not None:
            query = query.where(UserRow.username > after_username)
        return (await self.session.scalars(query.order_by(UserRow.username).limit(limit))).all()

    async def set_password(
        self, user_id: uuid.UUID, password_hash: str, *, must_change: bool, at: datetime
    ) -> None:
        values: dict[str, Any] = {
            "user_id": user_id,
            "password_hash": password_hash,
            "must_change_password": must_change,
            "password_changed_at": at,
            "recovery_code_hashes": [],
        }
        await self.session.execute(
            pg_insert(CredentialRow)
            .values(values)
            .on_conflict_do_update(
                index_elements=[CredentialRow.user_id],
                set_={
                    "password_hash": password_hash,
                    "must_change_password": must_change,
                    "password_changed_at": at,
                },
            )
        )

    # --- groups

    async def group(self, group_id: uuid.UUID) -> GroupRow | None:
        return await self.session.get(GroupRow, group_id)

    async def group_by_name(self, unit_id: uuid.UUID, name: str) -> GroupRow | None:
        return await self.session.scalar(
            select(GroupRow).where(GroupRow.unit_id == unit_id, GroupRow.name == name)
        )

    def add_group(self, row: GroupRow) -> None:
        self.session.add(row)

    async def groups_page(
        self, unit_ids: Collection[uuid.UUID], after_id: uuid.UUID | None, limit: int
    ) -> Sequence[GroupRow]:
        query = select(GroupRow).where(GroupRow.unit_id.in_(list(unit_ids)))
        if after_id is not None:
            query = query.where(GroupRow.id > after_id)
        return (await self.session.scalars(query.order_by(GroupRow.id).limit(limit))).all()

    async def member_ids(self, group_id: uuid.UUID) -> list[uuid.UUID]:
        found = await self.session.scalars(
            select(GroupMemberRow.user_id).where(GroupMemberRow.group_id == group_id)
        )
        return sorted(found.all())

    async def add_member(self, group_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            pg_insert(GroupMemberRow)
            .values(group_id=group_id, user_id=user_id)
            .on_conflict_do_nothing()
            .returning(GroupMemberRow.user_id)
        )
        return result.first() is not None

    async def remove_member(self, group_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(GroupMemberRow)
            .where(GroupMemberRow.group_id == group_id, GroupMemberRow.user_id == user_id)
            .returning(GroupMemberRow.user_id)
        )
        return result.first() is not None

    # --- grants

    def add_grant(self, grant: Grant) -> GrantRow:
        row = GrantRow(
            id=grant.id,
            role=grant.role.value,
            unit_id=grant.unit_id,
            grantee_kind=grant.grantee.kind.value,
            grantee_id=grant.grantee.id,
            valid_from=grant.valid_from,
            valid_to=grant.valid_to,
            granted_by=grant.granted_by,
        )
        self.session.add(row)
        return row

    async def grant_row(self, grant_id: uuid.UUID, *, for_update: bool = False) -> GrantRow | None:
        return await self.session.get(GrantRow, grant_id, with_for_update=for_update)

    async def grants_page(
        self,
        unit_ids: Collection[uuid.UUID],
        grantee_id: uuid.UUID | None,
        after_id: uuid.UUID | None,
        limit: int,
    ) -> Sequence[GrantRow]:
        query = select(GrantRow).where(GrantRow.unit_id.in_(list(unit_ids)))
        if grantee_id is not None:
            query = query.where(GrantRow.grantee_id == grantee_id)
        if after_id is not None:
            query = query.where(GrantRow.id > after_id)
        return (await self.session.scalars(query.order_by(GrantRow.id).limit(limit))).all()

    async def grants_held(self, user_id: uuid.UUID, at: datetime) -> tuple[Grant, ...]:
        """What ``user_id`` may do at ``at``: read from the database, never from a token."""
        user = await self.user(user_id)
        if user is None:
            return ()
        memberships = (
            await self.session.execute(
                select(GroupMemberRow.group_id, GroupRow.status)
                .join(GroupRow, GroupRow.id == GroupMemberRow.group_id)
                .where(GroupMemberRow.user_id == user_id)
            )
        ).all()
        group_ids = [m.group_id for m in memberships]
        rows = (
            await self.session.scalars(
                select(GrantRow).where(
                    GrantRow.revoked_at.is_(None),
                    (GrantRow.grantee_id == user_id) | GrantRow.grantee_id.in_(group_ids),
                )
            )
        ).all()
        grants = [grant_of(r) for r in rows]
        return effective_grants(
            user_id,
            [g for g in grants if not g.grantee.is_group],
            [GroupMembership(user_id, m.group_id, Status(m.status)) for m in memberships],
            [g for g in grants if g.grantee.is_group],
            at,
            user_status=Status(user.status),
        )

    # --- audit

    def audit(
        self,
        actor_id: uuid.UUID | None,
        action: str,
        unit_id: uuid.UUID | None,
        target: str | None,
        details: dict[str, object] | None = None,
        *,
        actor_kind: str | None = None,
        source_address: str | None = None,
        outcome: str = "success",
    ) -> None:
        self.session.add(
            AuditRow(
                actor_kind=actor_kind or ("user" if actor_id is not None else "platform"),
                actor_id=None if actor_id is None else str(actor_id),
                unit_id=unit_id,
                action=action,
                target=target,
                outcome=outcome,
                source_address=source_address,
                details=details or {},
            )
        )

    async def audit_page(
        self,
        unit_ids: Collection[uuid.UUID],
        since: datetime | None,
        before_id: int | None,
        limit: int,
    ) -> Sequence[AuditRow]:
        query = select(AuditRow).where(AuditRow.unit_id.in_(list(unit_ids)))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        return (await self.session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))).all()

    # --- clients (school software, platform services) and second factors

    async def client(self, client_id: str, *, for_update: bool = False) -> ClientRow | None:
        query = select(ClientRow).where(ClientRow.client_id == client_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def clients_page(
        self, unit_ids: Collection[uuid.UUID], after: str | None, limit: int
    ) -> Sequence[ClientRow]:
        query = select(ClientRow).where(ClientRow.unit_id.in_(list(unit_ids)))
        if after is not None:
            query = query.where(ClientRow.client_id > after)
        return (await self.session.scalars(query.order_by(ClientRow.client_id).limit(limit))).all()

    async def clear_totp(self, user_id: uuid.UUID) -> None:
        """Forget the second factor: the user enrols again at the next sign-in."""
        await self.session.execute(
            update(CredentialRow)
            .where(CredentialRow.user_id == user_id)
            .values(
                totp_secret=None,
                totp_confirmed_at=None,
                totp_last_step=None,
                recovery_code_hashes=[],
            )
        )
