"""The demo province: ``python -m identity.demo`` (the run command calls it).

A fictional Sở GDĐT tỉnh Bình Lâm with two district offices, a primary and a lower-secondary
school under each, and an upper-secondary school and the provincial continuing-education centre
under the department. Every school has a leader (hiệu trưởng), an admin (quản trị HSĐT) and two
teachers, a team (tổ chuyên môn) and its admin board (Ban quản trị HSĐT); each district has an
admin. Names are made up.

All demo accounts share one password: ``HSDT_DEMO_PASSWORD`` if set, otherwise one generated and
printed once, when the accounts are created. Idempotent: one transaction, and a second run that
finds the demo's districts changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from common.db import create_engine, create_sessionmaker
from common.demo import (
    DEPARTMENT_SCHOOLS,
    DISTRICTS,
    PASSWORD_ENV,
    PROVINCE_ADMIN,
    PROVINCE_CODE,
    PROVINCE_NAME,
    SCHOOL_STAFF,
    DemoSchool,
    demo_id,
    username,
)
from common.events.identity import GranteeKind, OrgLevel, OrgUnitCreated, Role
from identity.cli import PLATFORM_ID, bootstrap_province
from identity.domain import Grant, Grantee, OrgTree, OrgUnit, SchoolLevel
from identity.handlers.admin import CreateGroup, CreateUser, add_group, add_user, record_grant
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork

__all__ = ["DEPARTMENT_SCHOOLS", "DISTRICTS", "PROVINCE_ADMIN", "PROVINCE_CODE", "load_demo"]


@dataclass(slots=True)
class DemoResult:
    created: bool
    password: str | None  # the generated password, when one was generated and used
    usernames: list[str] = field(default_factory=list)


class _Loader:
    def __init__(self, uow: IdentityUnitOfWork, tree: OrgTree, password: str) -> None:
        self.uow = uow
        self.tree = tree
        self.password = password
        self.at = datetime.now(UTC)
        self.usernames: list[str] = []

    def unit(
        self,
        kind: OrgLevel,
        code: str,
        name: str,
        parent: OrgUnit,
        levels: frozenset[SchoolLevel] = frozenset(),
    ) -> OrgUnit:
        unit = OrgUnit(demo_id("unit", code), kind, code, name, parent.id, levels)
        self.tree = self.tree.with_unit(unit)
        self.uow.admin.add_unit(unit, created_by=None, school_years=["2025-2026"])
        scope = self.tree.scope_of(unit)
        self.uow.emit(
            OrgUnitCreated(
                unit_id=unit.id,
                kind=kind,
                code=unit.code,
                name=unit.name,
                parent_id=parent.id,
                levels=sorted(level.value for level in levels),
                province_id=scope.province_id,
                district_id=scope.district_id,
                created_at=self.at,
                created_by=None,
            )
        )
        self.uow.admin.audit(None, "orgunit.create", unit.id, unit.code, actor_kind="platform")
        return unit

    async def user(self, unit: OrgUnit, suffix: str, full_name: str, role: Role) -> uuid.UUID:
        name = username(unit.code, suffix)
        row = await add_user(
            self.uow,
            CreateUser(
                name, full_name, unit.id, password=self.password, user_id=demo_id("user", name)
            ),
            self.tree,
            created_by=None,
            at=self.at,
            must_change_password=False,
        )
        self.usernames.append(name)
        grant = Grant(uuid.uuid4(), role, unit.id, Grantee.user(row.id), self.at, PLATFORM_ID)
        record_grant(self.uow, grant, self.tree, self.at)
        return row.id

    async def school(self, spec: DemoSchool, parent: OrgUnit) -> None:
        levels = frozenset(SchoolLevel(level) for level in spec.levels)
        school = self.unit(OrgLevel.SCHOOL, spec.code, spec.name, parent, levels)
        ids = [await self.user(school, s, n, Role(r)) for s, n, r in SCHOOL_STAFF]
        leader, admin, *teachers = ids
        board = CreateGroup(school.id, "admin_board", "Ban quản trị HSĐT", leader, (admin,))
        await add_group(self.uow, board, self.tree, actor_id=None)
        team = CreateGroup(school.id, "team", spec.team, teachers[0], tuple(teachers))
        team_row = await add_group(self.uow, team, self.tree, actor_id=None)
        # R33: the team as a whole holds the teacher role, beside each teacher's own grant.
        grant = Grant(
            uuid.uuid4(),
            Role.TEACHER,
            school.id,
            Grantee.group(team_row.id, GranteeKind.TEAM),
            self.at,
            PLATFORM_ID,
        )
        record_grant(self.uow, grant, self.tree, self.at)


async def load_demo(uow: IdentityUnitOfWork, password: str) -> DemoResult:
    """Load the demo province into an empty database (or one bootstrapped with it)."""
    await bootstrap_province(
        uow,
        PROVINCE_CODE,
        PROVINCE_NAME,
        PROVINCE_ADMIN,
        password,
        unit_id=demo_id("unit", PROVINCE_CODE),
        admin_id=demo_id("user", PROVINCE_ADMIN),
    )
    async with uow:
        await uow.admin.lock_tree()
        if await uow.admin.unit_row_by_code(DISTRICTS[0].code) is not None:
            return DemoResult(created=False, password=None)
        tree = await uow.admin.tree()
        assert tree is not None
        loader = _Loader(uow, tree, password)
        department = tree.department
        loader.usernames.append(PROVINCE_ADMIN)
        for district_spec in DISTRICTS:
            district = loader.unit(
                OrgLevel.DISTRICT, district_spec.code, district_spec.name, department
            )
            await loader.user(district, "quantri", "Võ Thanh Tùng", Role.DISTRICT_ADMIN)
            for school in district_spec.schools:
                await loader.school(school, district)
        for school in DEPARTMENT_SCHOOLS:
            await loader.school(school, department)
        await uow.commit()
        return DemoResult(created=True, password=password, usernames=loader.usernames)


async def _main() -> int:
    given = os.environ.get(PASSWORD_ENV)
    # Generated: four random words' worth of entropy that passes the policy.
    password = given or f"demo-{secrets.token_urlsafe(12)}"
    settings = IdentitySettings()
    engine = create_engine(settings.database_url, pool_size=2, application_name="identity-demo")
    uow = IdentityUnitOfWork(create_sessionmaker(engine), source=settings.service_name)
    try:
        result = await load_demo(uow, password)
    finally:
        await engine.dispose()
    if not result.created:
        print("demo province already loaded; nothing changed")
        return 0
    print(
        f"demo province loaded: {len(result.usernames)} accounts, e.g. {PROVINCE_ADMIN}, "
        f"{', '.join(result.usernames[1:4])}"
    )
    if not given:
        print(f"password of every demo account (set {PASSWORD_ENV} to choose it): {password}")
    return 0


def main() -> int:
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
