"""The authorization matrix, generated from ``api.admin.ENDPOINT_RULES``: every admin route ×
every role × in scope / child scope / out of scope, on one migrated demo province.

The caller is a fresh account holding exactly one grant, stored in the database, of the role
under test at the tier that role is granted at (``domain.roles``): the department (BL) for the
province roles, the district office BL-DX for the district roles, the school BL-DX-TH01 for the
school roles. The target of the request is, by relation:

- in scope: the caller's own unit;
- child scope: a unit below it (province roles: the school BL-DX-TH01, two levels down; district
  roles: the school BL-DX-TH01 in their district);
- out of scope: an unrelated unit (district roles: the school BL-PL-TH01 of another district;
  school roles: the sibling school BL-DX-THCS01 in the same district).

The platform role archivist is never a person's grant (identity refuses to grant it): its
caller is the archive's platform client at the department, acting for the school leader of
BL-DX-TH01, as the archive's token is. Administration needs a person's own token, so every
route refuses it.

Two combinations cannot be built and are left out on purpose: a province role has nothing out
of its scope (one department per deployment, every unit lies under it), and a school role has
no child scope (nothing hangs under a school). ``test_only_impossible_relations_are_left_out``
checks that these are the only gaps.

The table allows a case exactly when the role is one of the row's roles and the target is in
or below the caller's unit. Allowed answers are 2xx, with one documented exception:
``POST /org-units`` whose parent is a school (a district role's child scope) is authorised but
refused as 422, since no unit hangs under a school. Refused answers are 403 problem+json, and a
refused write changes nothing (row counts, audit, outbox, password hashes, revocation list).

Writes use fresh names and fresh target accounts, so cases share one database per module.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from openpyxl import load_workbook
from redis.asyncio import Redis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.app import API_PREFIX
from common.auth import Grant as TokenGrant
from common.auth import Principal, current_principal
from common.db import create_sessionmaker
from common.events.identity import OrgLevel, Role
from common.testing import DatabaseFactory, alembic
from identity.api.admin import ENDPOINT_RULES, EndpointRule, ScopeRule
from identity.app import create_app
from identity.cli import PLATFORM_ID
from identity.demo import DEPARTMENT_SCHOOLS, DISTRICTS, PROVINCE_ADMIN, PROVINCE_CODE, load_demo
from identity.domain import PLATFORM_ROLES, Grant, Grantee
from identity.domain.roles import unit_kind_for
from identity.excel_import import ROLE_LABELS, XLSX_MEDIA_TYPE, build_template
from identity.excel_import import SHEET as STAFF_SHEET
from identity.handlers.admin import CreateGroup, CreateUser, add_group, add_user, record_grant
from identity.handlers.auth import create_client, create_platform_client, utcnow
from identity.models import OrgUnitRow, UserRow
from identity.settings import IdentitySettings
from identity.tokens import mint_access_token
from identity.uow import IdentityUnitOfWork

REPO = Path(__file__).resolve().parents[4]
PASSWORD = "rừng cao su xanh mướt"
TEMPORARY_PASSWORD = "tạm thời đổi ngay nhé"

# Routes under /api/v1 that have no row in ENDPOINT_RULES, each with whether it needs a token.
# Every other route is an admin route and must have a row.
PUBLIC: Final[dict[tuple[str, str], bool]] = {
    ("GET", "/.well-known/jwks.json"): False,
    ("POST", "/auth/sign-in"): False,
    ("POST", "/auth/refresh"): False,
    ("POST", "/auth/totp/enrol"): False,
    ("POST", "/auth/totp/confirm"): False,
    ("POST", "/oauth/token"): False,
    # Token-free for the forced change after an admin's reset (a single-use change token);
    # the voluntary change takes a Bearer token and the current password instead.
    ("POST", "/auth/password/change"): False,
    ("POST", "/auth/logout"): True,  # any valid token; no role
    ("GET", "/me"): True,  # any valid token; no role
    # A person's own second factor: any person's token, no role; never school software's
    # (PERSON_ONLY below).
    ("POST", "/auth/me/totp"): True,
    ("POST", "/auth/me/totp/confirm"): True,
    ("POST", "/auth/step-up"): True,
}
# Routes where a token must be a person's own: school software, even acting for a teacher,
# cannot present that teacher's second factor. Each with the code of its 403 and a body.
PERSON_ONLY: Final[dict[tuple[str, str], tuple[str, dict[str, str]]]] = {
    ("POST", "/auth/me/totp"): ("totp-needs-person", {"current_password": PASSWORD}),
    ("POST", "/auth/me/totp/confirm"): ("totp-needs-person", {"code": "123456"}),
    ("POST", "/auth/step-up"): ("step-up-needs-person", {"code": "123456", "purpose": "signing"}),
}


class Relation(StrEnum):
    IN_SCOPE = "in_scope"
    CHILD_SCOPE = "child_scope"
    OUT_OF_SCOPE = "out_of_scope"


DISTRICT: Final = DISTRICTS[0]  # BL-DX
OTHER_DISTRICT: Final = DISTRICTS[1]  # BL-PL
SCHOOL: Final = DISTRICT.schools[0].code  # BL-DX-TH01
SIBLING_SCHOOL: Final = DISTRICT.schools[1].code  # BL-DX-THCS01
OTHER_DISTRICT_SCHOOL: Final = OTHER_DISTRICT.schools[0].code  # BL-PL-TH01

# Where the caller's one grant is held, by the tier its role is granted at.
HOLDER: Final[dict[str, str]] = {
    OrgLevel.PROVINCE: PROVINCE_CODE,
    OrgLevel.DISTRICT: DISTRICT.code,
    OrgLevel.SCHOOL: SCHOOL,
}
# The unit a request is about, by the caller's tier and the relation.
TARGET: Final[dict[tuple[str, Relation], str]] = {
    (OrgLevel.PROVINCE, Relation.IN_SCOPE): PROVINCE_CODE,
    (OrgLevel.PROVINCE, Relation.CHILD_SCOPE): SCHOOL,
    (OrgLevel.DISTRICT, Relation.IN_SCOPE): DISTRICT.code,
    (OrgLevel.DISTRICT, Relation.CHILD_SCOPE): SCHOOL,
    (OrgLevel.DISTRICT, Relation.OUT_OF_SCOPE): OTHER_DISTRICT_SCHOOL,
    (OrgLevel.SCHOOL, Relation.IN_SCOPE): SCHOOL,
    (OrgLevel.SCHOOL, Relation.OUT_OF_SCOPE): SIBLING_SCHOOL,
}
# ScopeRule.PARENT names the new unit's parent: a province role's child is the district (a new
# school under it), and another district's office for a district role out of scope.
PARENT_TARGET: Final[dict[tuple[str, Relation], str]] = {
    **TARGET,
    (OrgLevel.PROVINCE, Relation.CHILD_SCOPE): DISTRICT.code,
    (OrgLevel.DISTRICT, Relation.OUT_OF_SCOPE): OTHER_DISTRICT.code,
}
# The role given to and taken from accounts at a unit of each tier: one every grantor of that
# tier may grant (domain.roles), so that the table, not the role picked, decides the case.
LOW_ROLE: Final[dict[str, Role]] = {
    OrgLevel.PROVINCE: Role.PROVINCE_INSPECTOR,
    OrgLevel.DISTRICT: Role.DISTRICT_INSPECTOR,
    OrgLevel.SCHOOL: Role.TEACHER,
}


def kind_of(code: str) -> OrgLevel:
    if code == PROVINCE_CODE:
        return OrgLevel.PROVINCE
    if code in {d.code for d in DISTRICTS}:
        return OrgLevel.DISTRICT
    return OrgLevel.SCHOOL


def tier(role: Role) -> OrgLevel:
    return OrgLevel(unit_kind_for(role))


def relations(role: Role) -> list[Relation]:
    return [r for r in Relation if (tier(role), r) in TARGET]


def target_of(rule: EndpointRule, role: Role, relation: Relation) -> str:
    table = PARENT_TARGET if rule.scope is ScopeRule.PARENT else TARGET
    return table[tier(role), relation]


def allowed(rule: EndpointRule, role: Role, relation: Relation) -> bool:
    return role in rule.roles and relation is not Relation.OUT_OF_SCOPE


def _migrate(database_url: str) -> None:
    alembic("identity", database_url)


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    redis: Redis
    settings: IdentitySettings
    units: dict[str, uuid.UUID] = field(default_factory=dict)
    actors: dict[Role, uuid.UUID] = field(default_factory=dict)  # the people's roles
    groups: dict[str, uuid.UUID] = field(default_factory=dict)
    platform_client: str = ""  # the archive's client id, at the department

    def uow(self) -> IdentityUnitOfWork:
        return IdentityUnitOfWork(create_sessionmaker(self.engine), source="identity")

    async def user_id(self, username: str) -> uuid.UUID:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(UserRow.id).where(UserRow.username == username))
        assert found is not None, username
        return found

    async def add_account(self, unit: str, role: Role | None = None) -> tuple[uuid.UUID, uuid.UUID]:
        """A fresh account at ``unit`` holding ``role`` there (if given): (user id, grant id)."""
        uow = self.uow()
        async with uow:
            tree = await uow.admin.tree()
            assert tree is not None
            at = datetime.now(UTC)
            row = await add_user(
                uow,
                CreateUser(fresh("thu."), "Người Thử Nghiệm", self.units[unit]),
                tree,
                created_by=None,
                at=at,
                must_change_password=False,
            )
            grant_id = uuid.uuid4()
            if role is not None:
                grant = Grant(
                    grant_id, role, self.units[unit], Grantee.user(row.id), at, PLATFORM_ID
                )
                record_grant(uow, grant, tree, at)
            await uow.commit()
            return row.id, grant_id

    async def group_at(self, unit: str) -> uuid.UUID:
        """A group at ``unit`` that holds the unit's low role (as a school's team holds
        teacher), made once per unit."""
        if unit not in self.groups:
            uow = self.uow()
            async with uow:
                tree = await uow.admin.tree()
                assert tree is not None
                at = datetime.now(UTC)
                cmd = CreateGroup(self.units[unit], "team", fresh("Tổ thử "))
                row = await add_group(uow, cmd, tree, actor_id=None)
                role = LOW_ROLE[kind_of(unit)]
                grant = Grant(
                    uuid.uuid4(),
                    role,
                    self.units[unit],
                    Grantee.group(row.id),
                    at,
                    PLATFORM_ID,
                )
                record_grant(uow, grant, tree, at)
                await uow.commit()
                self.groups[unit] = row.id
        return self.groups[unit]

    async def add_to_group(self, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
        uow = self.uow()
        async with uow:
            await uow.admin.add_member(group_id, user_id)
            await uow.commit()

    def act_as(self, user_id: uuid.UUID, *grants: TokenGrant) -> None:
        principal = Principal(
            subject=str(user_id),
            kind="user",
            grants=grants,
            token_id=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
        )
        self.app.dependency_overrides[current_principal] = lambda: principal

    def act_as_role(self, role: Role) -> None:
        """The caller holding ``role`` at its tier's unit: the account made for it, or for a
        platform role the archive's client acting for the school leader (as identity issues
        its token)."""
        grant = TokenGrant(role.value, str(self.units[HOLDER[tier(role)]]))
        if role not in PLATFORM_ROLES:
            self.act_as(self.actors[role], grant)
            return
        principal = Principal(
            subject=self.platform_client,
            kind="client",
            grants=(grant,),
            token_id=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
            acting_for=str(self.actors[Role.SCHOOL_LEADER]),
        )
        self.app.dependency_overrides[current_principal] = lambda: principal

    async def subtree(self, code: str) -> set[str]:
        """Ids of ``code``'s unit and every unit below it, as stored now."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "WITH RECURSIVE t(id) AS (SELECT id FROM org_units WHERE code = :code"
                    " UNION SELECT u.id FROM org_units u JOIN t ON u.parent_id = t.id)"
                    " SELECT id FROM t"
                ),
                {"code": code},
            )
            return {str(r.id) for r in rows}

    async def snapshot(self, subject: uuid.UUID | None) -> dict[str, Any]:
        """What a write could change: counts, password hashes, the subject's revocation."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT"
                        " (SELECT count(*) FROM audit_log) AS audit,"
                        " (SELECT count(*) FROM outbox) AS outbox,"
                        " (SELECT count(*) FROM org_units) AS units,"
                        " (SELECT count(*) FROM users) AS users,"
                        " (SELECT count(*) FROM users WHERE status <> 'active') AS disabled,"
                        " (SELECT count(*) FROM groups) AS groups,"
                        " (SELECT count(*) FROM group_members) AS members,"
                        " (SELECT count(*) FROM grants) AS grants,"
                        " (SELECT count(*) FROM grants WHERE revoked_at IS NOT NULL) AS revoked,"
                        " (SELECT count(*) FROM clients) AS clients,"
                        " (SELECT count(*) FROM clients WHERE status <> 'active') AS clients_off,"
                        " (SELECT md5(string_agg(coalesce(encode(totp_secret, 'hex'), '-'),"
                        "  ',' ORDER BY user_id)) FROM credentials) AS totp,"
                        " (SELECT md5(string_agg(password_hash || must_change_password::text,"
                        "  ',' ORDER BY user_id)) FROM credentials) AS passwords"
                    )
                )
            ).one()
        state = dict(row._mapping)
        if subject is not None:
            state["revoked_sub"] = await self.redis.get(
                f"{self.settings.redis_prefix}revoked:sub:{subject}"
            )
        return state


@pytest_asyncio.fixture(scope="module")
async def env(
    make_database: DatabaseFactory, amqp_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Env]:
    database_url = await make_database(f"idmatrix_{uuid.uuid4().hex[:8]}")
    _migrate(database_url)
    engine = create_async_engine(database_url)
    await load_demo(IdentityUnitOfWork(create_sessionmaker(engine), source="identity"), PASSWORD)
    settings = IdentitySettings(
        database_url=database_url, amqp_url=amqp_url, redis_url=redis_url, redis_prefix=redis_prefix
    )
    app = create_app(settings)
    redis = Redis.from_url(redis_url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://id") as client,
    ):
        state = Env(app, client, engine, redis, settings)
        async with engine.connect() as conn:
            state.units = {r.code: r.id for r in await conn.execute(select(OrgUnitRow))}
        for role in Role:
            if role not in PLATFORM_ROLES:
                state.actors[role], _ = await state.add_account(HOLDER[tier(role)], role)
        state.platform_client, _ = await create_platform_client(
            state.uow(),
            name="archive",
            province_id=state.units[PROVINCE_CODE],
            scopes=[r.value for r in PLATFORM_ROLES],
        )
        # School software at SCHOOL, so that every reader's own scope lists one.
        await create_client(
            state.uow(),
            name="Phần mềm thử",
            school_id=state.units[SCHOOL],
            scopes=["teacher"],
            created_by=PLATFORM_ID,
        )
        yield state
        app.dependency_overrides.clear()
    await redis.aclose()
    await engine.dispose()


def _problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


# --- one request per route, with realistic values from the demo province


@dataclass
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    files: dict[str, Any] | None = None  # a multipart upload (the Excel import)
    subject: uuid.UUID | None = None  # the account a write acts on: its tokens must not be revoked
    ok: frozenset[int] = frozenset({200, 201, 204})
    why_ok: str = ""


Builder = Callable[[Env, str], Awaitable[Call]]


def _username_at(code: str) -> str:
    # The demo's accounts: the province admin, each district's admin, each school's teachers.
    if kind_of(code) is OrgLevel.PROVINCE:
        return PROVINCE_ADMIN
    suffix = "quantri" if kind_of(code) is OrgLevel.DISTRICT else "gv1"
    return f"{suffix}.{code.lower().replace('-', '')}"


async def _create_unit(env: Env, parent: str) -> Call:
    body: dict[str, Any] = {
        "code": f"{parent}-{fresh('M')}".upper(),
        "parent_id": str(env.units[parent]),
        "school_years": ["2025-2026"],
    }
    if kind_of(parent) is OrgLevel.PROVINCE:
        body |= {"kind": "district", "name": "Phòng GDĐT huyện Thử Nghiệm"}
    else:
        body |= {"kind": "school", "name": "Trường Tiểu học Thử Nghiệm", "levels": ["primary"]}
    if kind_of(parent) is OrgLevel.SCHOOL:
        return Call(
            "POST",
            "/org-units",
            body,
            ok=frozenset({422}),
            why_ok="authorised, but no unit hangs under a school",
        )
    return Call("POST", "/org-units", body)


async def _list(path: str, env: Env, unit: str) -> Call:
    return Call("GET", path, params={"unit": str(env.units[unit])})


async def _get_unit(env: Env, unit: str) -> Call:
    return Call("GET", f"/org-units/{env.units[unit]}")


_years = itertools.count(2030)


async def _update_unit(env: Env, unit: str) -> Call:
    # A year not set before, so every allowed case changes something (and is audited).
    year = next(_years)
    body = {"school_years": ["2025-2026", f"{year}-{year + 1}"]}
    return Call("PATCH", f"/org-units/{env.units[unit]}", body)


async def _create_user(env: Env, unit: str) -> Call:
    body = {
        "username": fresh("moi."),
        "full_name": "Hoàng Thị Thử",
        "home_unit_id": str(env.units[unit]),
    }
    return Call("POST", "/users", body)


async def _get_user(env: Env, unit: str) -> Call:
    return Call("GET", f"/users/{await env.user_id(_username_at(unit))}")


async def _disable(env: Env, unit: str) -> Call:
    user, _ = await env.add_account(unit, LOW_ROLE[kind_of(unit)])
    body = {"reason": "left_organisation"}
    return Call("POST", f"/users/{user}/disable", body, subject=user)


async def _reset(env: Env, unit: str) -> Call:
    user, _ = await env.add_account(unit, LOW_ROLE[kind_of(unit)])
    body = {"temporary_password": TEMPORARY_PASSWORD}
    return Call("POST", f"/users/{user}/password-reset", body, subject=user)


async def _create_group(env: Env, unit: str) -> Call:
    body = {"unit_id": str(env.units[unit]), "kind": "department", "name": fresh("Bộ phận ")}
    return Call("POST", "/groups", body)


async def _add_member(env: Env, unit: str) -> Call:
    group = await env.group_at(unit)
    user, _ = await env.add_account(unit)
    return Call("POST", f"/groups/{group}/members", {"user_id": str(user)}, subject=user)


async def _remove_member(env: Env, unit: str) -> Call:
    group = await env.group_at(unit)
    user, _ = await env.add_account(unit)
    await env.add_to_group(group, user)
    return Call("DELETE", f"/groups/{group}/members/{user}", subject=user)


async def _grant(env: Env, unit: str) -> Call:
    user, _ = await env.add_account(unit)
    body = {
        "role": LOW_ROLE[kind_of(unit)].value,
        "unit_id": str(env.units[unit]),
        "grantee_kind": "user",
        "grantee_id": str(user),
    }
    return Call("POST", "/grants", body, subject=user)


async def _revoke(env: Env, unit: str) -> Call:
    user, grant = await env.add_account(unit, LOW_ROLE[kind_of(unit)])
    return Call("POST", f"/grants/{grant}/revoke", subject=user)


async def _template(env: Env, unit: str) -> Call:
    return Call("GET", "/imports/staff/template", params={"unit": str(env.units[unit])})


async def _import(env: Env, unit: str) -> Call:
    """A real import of one account at ``unit`` with the unit's low role."""
    book = load_workbook(io.BytesIO(build_template()))
    role = LOW_ROLE[kind_of(unit)]
    book[STAFF_SHEET].append([fresh("nhap."), "Đỗ Thị Nhập", None, unit, ROLE_LABELS[role], None])
    out = io.BytesIO()
    book.save(out)
    upload = ("nhan-su.xlsx", out.getvalue(), XLSX_MEDIA_TYPE)
    return Call("POST", "/imports/staff", params={"dry_run": "false"}, files={"file": upload})


async def _totp_reset(env: Env, unit: str) -> Call:
    user, _ = await env.add_account(unit, LOW_ROLE[kind_of(unit)])
    return Call("POST", f"/users/{user}/totp-reset", subject=user)


def _school_under(code: str) -> str:
    """A school at or right under ``code``: clients are bound to schools only."""
    if kind_of(code) is OrgLevel.PROVINCE:
        return DEPARTMENT_SCHOOLS[0].code
    if kind_of(code) is OrgLevel.DISTRICT:
        return next(d for d in DISTRICTS if d.code == code).schools[0].code
    return code


async def _create_client(env: Env, unit: str) -> Call:
    body = {"name": fresh("Phần mềm "), "school_id": str(env.units[unit]), "scopes": ["teacher"]}
    if kind_of(unit) is not OrgLevel.SCHOOL:
        return Call(
            "POST",
            "/clients",
            body,
            ok=frozenset({422}),
            why_ok="authorised, but a client is bound to a school",
        )
    return Call("POST", "/clients", body)


async def _disable_client(env: Env, unit: str) -> Call:
    client_id, _ = await create_client(
        env.uow(),
        name=fresh("Phần mềm "),
        school_id=env.units[_school_under(unit)],
        scopes=["teacher"],
        created_by=PLATFORM_ID,
    )
    return Call("POST", f"/clients/{client_id}/disable")


def _lister(path: str) -> Builder:
    async def build(env: Env, unit: str) -> Call:
        return await _list(path, env, unit)

    return build


BUILDERS: Final[dict[tuple[str, str], Builder]] = {
    ("POST", "/org-units"): _create_unit,
    ("GET", "/org-units"): _lister("/org-units"),
    ("GET", "/org-units/{unit_id}"): _get_unit,
    ("PATCH", "/org-units/{unit_id}"): _update_unit,
    ("POST", "/users"): _create_user,
    ("GET", "/users"): _lister("/users"),
    ("GET", "/users/{user_id}"): _get_user,
    ("POST", "/users/{user_id}/disable"): _disable,
    ("POST", "/users/{user_id}/password-reset"): _reset,
    ("POST", "/groups"): _create_group,
    ("GET", "/groups"): _lister("/groups"),
    ("POST", "/groups/{group_id}/members"): _add_member,
    ("DELETE", "/groups/{group_id}/members/{user_id}"): _remove_member,
    ("POST", "/grants"): _grant,
    ("POST", "/grants/{grant_id}/revoke"): _revoke,
    ("GET", "/grants"): _lister("/grants"),
    ("GET", "/audit"): _lister("/audit"),
    ("GET", "/imports/staff/template"): _template,
    ("POST", "/imports/staff"): _import,
    ("POST", "/users/{user_id}/totp-reset"): _totp_reset,
    ("POST", "/clients"): _create_client,
    ("GET", "/clients"): _lister("/clients"),
    ("POST", "/clients/{client_id}/disable"): _disable_client,
}


# --- the table covers every route


def _api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, routers included (FastAPI keeps included
    routers as branches of ``app.routes``; ``iter_route_contexts`` flattens them)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path.startswith(f"{API_PREFIX}/"):
            assert isinstance(route.original_route, APIRoute), path
            methods = set(route.methods or ()) - {"HEAD", "OPTIONS"}
            found.update((m, path.removeprefix(API_PREFIX)) for m in methods)
    return found


async def test_every_route_has_a_row_or_is_declared_public(env: Env) -> None:
    routes = _api_routes(env.app)

    without_row = sorted(routes - ENDPOINT_RULES.keys() - PUBLIC.keys())
    stale = sorted((ENDPOINT_RULES.keys() | PUBLIC.keys()) - routes)

    assert without_row == [], f"routes with no row in ENDPOINT_RULES: {without_row}"
    assert stale == [], f"rows for routes that do not exist: {stale}"
    assert not ENDPOINT_RULES.keys() & PUBLIC.keys()
    assert BUILDERS.keys() == ENDPOINT_RULES.keys(), "each row needs a request in BUILDERS"


def test_only_impossible_relations_are_left_out() -> None:
    left_out = {(role, r) for role in Role for r in Relation if r not in relations(role)}

    assert left_out == {
        (Role.PROVINCE_ADMIN, Relation.OUT_OF_SCOPE),
        (Role.PROVINCE_INSPECTOR, Relation.OUT_OF_SCOPE),
        (Role.ARCHIVIST, Relation.OUT_OF_SCOPE),
        (Role.SCHOOL_LEADER, Relation.CHILD_SCOPE),
        (Role.SCHOOL_ADMIN, Relation.CHILD_SCOPE),
        (Role.TEACHER, Relation.CHILD_SCOPE),
        (Role.STAFF, Relation.CHILD_SCOPE),
    }
    # Why: one department holds every unit, and schools have no units under them.
    assert all(kind_of(s.code) is OrgLevel.SCHOOL for d in DISTRICTS for s in d.schools)
    assert all(kind_of(s.code) is OrgLevel.SCHOOL for s in DEPARTMENT_SCHOOLS)


# --- the matrix

CASES: Final = [
    pytest.param(method, path, role, relation, id=f"{method} {path}-{role.value}-{relation}")
    for (method, path) in ENDPOINT_RULES
    for role in Role
    for relation in relations(role)
]


@pytest.mark.parametrize(("method", "path", "role", "relation"), CASES)
async def test_authorization_matrix(
    env: Env, method: str, path: str, role: Role, relation: Relation
) -> None:
    rule = ENDPOINT_RULES[method, path]
    call = await BUILDERS[method, path](env, target_of(rule, role, relation))
    assert call.method == method
    env.act_as_role(role)
    before = await env.snapshot(call.subject)

    response = await env.client.request(
        method, f"{API_PREFIX}{call.path}", json=call.json, params=call.params, files=call.files
    )

    after = await env.snapshot(call.subject)
    if allowed(rule, role, relation):
        assert response.status_code in call.ok, (call.why_ok, response.text)
        assert response.status_code not in {401, 403}
        if rule.writes and response.is_success:
            assert after["audit"] > before["audit"], "an allowed write leaves an audit row"
        if rule.scope is ScopeRule.SUBTREE:
            target = target_of(rule, role, relation)
            assert _outside(response.json()["items"], await env.subtree(target)) == []
    else:
        _problem(response, 403)
        if rule.writes:
            assert after == before, "a refused write changed something"


def _units_of(item: dict[str, Any]) -> set[str]:
    """The units a listed item belongs to (a user: the home unit and every work unit)."""
    if "home_unit_id" in item:
        return {item["home_unit_id"], *item["unit_ids"]}
    if "client_id" in item:  # school software (its school) or a platform client (the province)
        return {str(item["unit_id"])}
    if "parent_id" in item:  # an org unit
        return {item["id"]}
    return {str(item["unit_id"])}


def _outside(items: list[dict[str, Any]], units: set[str]) -> list[dict[str, Any]]:
    return [item for item in items if not _units_of(item) & units]


LISTINGS: Final = [
    pytest.param(path, role, id=f"GET {path}-{role.value}-no_unit")
    for (method, path), rule in ENDPOINT_RULES.items()
    if rule.scope is ScopeRule.SUBTREE
    for role in Role
]


@pytest.mark.parametrize(("path", "role"), LISTINGS)
async def test_a_listing_without_a_unit_shows_only_the_callers_scope(
    env: Env, path: str, role: Role
) -> None:
    rule = ENDPOINT_RULES["GET", path]
    holder = HOLDER[tier(role)]
    env.act_as_role(role)

    response = await env.client.get(f"{API_PREFIX}{path}", params={"limit": 200})

    if role in PLATFORM_ROLES:  # a client's token: administration needs a person's
        _problem(response, 403)
        return
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    if role in rule.roles:
        assert items, "the caller's own scope is not empty in the demo province"
        assert _outside(items, await env.subtree(holder)) == []
    else:
        assert items == [], f"{role} is not among {sorted(rule.roles)}"


# --- grants come from the database, not the token


async def test_a_token_claiming_more_than_the_database_holds_is_refused_writes(env: Env) -> None:
    teacher = env.actors[Role.TEACHER]  # holds only teacher at BL-DX-TH01
    department = env.units[PROVINCE_CODE]
    ring = await env.app.state.deps.auth_services.keys.ring(utcnow())
    token, _ = mint_access_token(
        ring,
        subject=str(teacher),
        kind="user",
        grants=[f"{Role.PROVINCE_ADMIN.value}@{department}"],
        issuer=env.settings.token_issuer,
        audience=env.settings.token_audience,
        now=utcnow(),
    )
    env.app.dependency_overrides.clear()
    headers = {"Authorization": f"Bearer {token}"}
    before = await env.snapshot(teacher)

    me = await env.client.get(f"{API_PREFIX}/me", headers=headers)
    district = await env.client.post(
        f"{API_PREFIX}/org-units",
        headers=headers,
        json={
            "kind": "district",
            "code": fresh("BL-").upper(),
            "name": "Phòng GDĐT huyện Giả Mạo",
            "parent_id": str(department),
        },
    )
    user = await env.client.post(
        f"{API_PREFIX}/users",
        headers=headers,
        json={"username": fresh("gia."), "full_name": "Giả Mạo", "home_unit_id": str(department)},
    )
    grant = await env.client.post(
        f"{API_PREFIX}/grants",
        headers=headers,
        json={
            "role": Role.PROVINCE_ADMIN.value,
            "unit_id": str(department),
            "grantee_kind": "user",
            "grantee_id": str(teacher),
        },
    )
    listing = await env.client.get(
        f"{API_PREFIX}/users", headers=headers, params={"unit": str(department)}
    )

    # The token is genuine and says province admin; the database says teacher.
    assert me.status_code == 200, me.text
    assert me.json()["grants"] == [f"province_admin@{department}"]
    _problem(district, 403)
    _problem(user, 403)
    _problem(grant, 403)
    _problem(listing, 403)
    assert await env.snapshot(teacher) == before


# --- no token, no access (except the public routes)


def _concrete(path: str) -> str:
    parts = path.split("/")
    return "/".join(str(uuid.uuid4()) if p.startswith("{") else p for p in parts)


async def test_every_route_but_the_public_ones_needs_a_token(env: Env) -> None:
    env.app.dependency_overrides.clear()
    wrong: list[str] = []
    checked = 0

    for method, path in sorted(_api_routes(env.app)):
        url = f"{API_PREFIX}{_concrete(path)}"
        body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
        if PUBLIC.get((method, path)) is False:
            response = await env.client.request(method, url, json=body)
            if response.status_code == 401 and response.json().get("code") == "unauthenticated":
                wrong.append(f"{method} {path}: public, but asked for a token")
            continue
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await env.client.request(method, url, json=body, headers=headers)
            checked += 1
            problem = response.headers.get("content-type", "").startswith(
                "application/problem+json"
            )
            if not (
                response.status_code == 401
                and problem
                and response.json().get("code") == "unauthenticated"
            ):
                wrong.append(f"{method} {path} {headers}: {response.status_code} {response.text}")

    assert wrong == []
    assert checked == 2 * (len(ENDPOINT_RULES) + sum(PUBLIC.values()))


# --- a person's own second factor: never school software


async def test_school_software_cannot_use_a_persons_second_factor(env: Env) -> None:
    env.app.dependency_overrides.clear()
    teacher = env.actors[Role.TEACHER]
    client_id, secret = await create_client(
        env.uow(),
        name=fresh("Phần mềm "),
        school_id=env.units[SCHOOL],
        scopes=["teacher"],
        created_by=PLATFORM_ID,
    )
    issued = await env.client.post(
        f"{API_PREFIX}/oauth/token",
        data={"grant_type": "client_credentials", "acting_for": str(teacher)},
        auth=(client_id, secret),
    )
    assert issued.status_code == 200, issued.text
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    assert PERSON_ONLY.keys() <= {k for k, needs_token in PUBLIC.items() if needs_token}
    before = await env.snapshot(teacher)

    for (method, path), (code, body) in PERSON_ONLY.items():
        response = await env.client.request(
            method, f"{API_PREFIX}{path}", json=body, headers=headers
        )
        _problem(response, 403, code)

    assert await env.snapshot(teacher) == before
