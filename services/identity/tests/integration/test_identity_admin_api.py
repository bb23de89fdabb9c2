"""Administration through HTTP on real PostgreSQL and Redis: org units, accounts, grants, audit.

Each test has its own database, migrated with alembic and loaded with the demo province; the
caller is a fixed principal (``current_principal`` overridden), since what matters here is what
the caller's *stored* grants allow.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.auth import Principal, current_principal
from common.db import create_sessionmaker
from common.events.identity import Role
from common.testing import DatabaseFactory, alembic
from identity.app import create_app
from identity.cli import BootstrapRefusedError, bootstrap_province
from identity.demo import load_demo
from identity.models import CredentialRow, GrantRow, OrgUnitRow, UserRow
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork

REPO = Path(__file__).resolve().parents[4]
PASSWORD = "rừng cao su xanh mướt"


def _migrate(database_url: str) -> None:
    alembic("identity", database_url)


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    redis: Redis
    redis_prefix: str

    def uow(self) -> IdentityUnitOfWork:
        return IdentityUnitOfWork(create_sessionmaker(self.engine), source="identity")

    async def user_id(self, username: str) -> uuid.UUID:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(UserRow.id).where(UserRow.username == username))
        assert found is not None, username
        return found

    async def unit_id(self, code: str) -> uuid.UUID:
        async with self.engine.connect() as conn:
            found = await conn.scalar(select(OrgUnitRow.id).where(OrgUnitRow.code == code))
        assert found is not None, code
        return found

    async def act_as(self, username: str) -> uuid.UUID:
        user_id = await self.user_id(username)
        principal = Principal(
            subject=str(user_id),
            kind="user",
            grants=(),  # authority is read from the database, not the token
            token_id=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
        )
        self.app.dependency_overrides[current_principal] = lambda: principal
        return user_id

    async def count(self, table: Any) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table)) or 0)

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT body FROM outbox WHERE event_type = :t ORDER BY id"),
                {"t": event_type},
            )
            return [json.loads(bytes(r.body)) for r in rows]

    async def revoked_at(self, user_id: uuid.UUID) -> bytes | str | None:
        value: bytes | str | None = await self.redis.get(
            f"{self.redis_prefix}revoked:sub:{user_id}"
        )
        return value


@pytest_asyncio.fixture
async def env(
    make_database: DatabaseFactory, amqp_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Env]:
    database_url = await make_database(f"idadm_{uuid.uuid4().hex[:8]}")
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
        yield Env(app, client, engine, redis, redis_prefix)
    await redis.aclose()
    await engine.dispose()


def _problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


async def test_province_admin_creates_a_district_and_a_school_under_it(env: Env) -> None:
    await env.act_as("quantri.so")
    department = await env.unit_id("BL")

    district = await env.client.post(
        "/api/v1/org-units",
        json={
            "kind": "district",
            "code": " bl-hq ",
            "name": "Phòng GDĐT huyện Hớn Quảng",
            "parent_id": str(department),
        },
    )
    assert district.status_code == 201, district.text
    assert district.json()["code"] == "BL-HQ"
    school = await env.client.post(
        "/api/v1/org-units",
        json={
            "kind": "school",
            "code": "BL-HQ-TH01",
            "name": "Trường Tiểu học An Khương",
            "parent_id": district.json()["id"],
            "levels": ["primary"],
        },
    )
    assert school.status_code == 201, school.text

    events = await env.outbox("vn.hsdt.identity.orgunit.created.v1")
    last = events[-1]["data"]
    assert last["unit_id"] == school.json()["id"]
    assert last["district_id"] == district.json()["id"]
    assert last["province_id"] == str(department)
    assert last["levels"] == ["primary"]
    audit = await env.client.get("/api/v1/audit", params={"unit": district.json()["id"]})
    assert {e["action"] for e in audit.json()["items"]} == {"orgunit.create"}
    assert {e["source_address"] for e in audit.json()["items"]} == {"127.0.0.1"}


async def test_a_school_is_refused_where_its_levels_do_not_belong(env: Env) -> None:
    await env.act_as("quantri.so")
    before = await env.count(OrgUnitRow)

    response = await env.client.post(
        "/api/v1/org-units",
        json={
            "kind": "school",
            "code": "BL-DX-THPT9",
            "name": "Trường THPT Lạc",
            "parent_id": str(await env.unit_id("BL-DX")),
            "levels": ["upper_secondary"],
        },
    )

    _problem(response, 422, "org-school-misplaced")
    assert await env.count(OrgUnitRow) == before


async def test_district_admin_adds_schools_only_in_their_own_district(env: Env) -> None:
    await env.act_as("quantri.bldx")
    before = await env.count(OrgUnitRow)
    events_before = len(await env.outbox("vn.hsdt.identity.orgunit.created.v1"))
    body = {"kind": "school", "name": "Trường Tiểu học Mới", "levels": ["primary"]}

    own = await env.client.post(
        "/api/v1/org-units",
        json={**body, "code": "BL-DX-TH02", "parent_id": str(await env.unit_id("BL-DX"))},
    )
    other = await env.client.post(
        "/api/v1/org-units",
        json={**body, "code": "BL-PL-TH02", "parent_id": str(await env.unit_id("BL-PL"))},
    )
    district = await env.client.post(
        "/api/v1/org-units",
        json={
            "kind": "district",
            "code": "BL-XX",
            "name": "Phòng GDĐT X",
            "parent_id": str(await env.unit_id("BL")),
        },
    )

    assert own.status_code == 201, own.text
    _problem(other, 403, "outside-scope")
    _problem(district, 403, "outside-scope")
    assert await env.count(OrgUnitRow) == before + 1
    assert len(await env.outbox("vn.hsdt.identity.orgunit.created.v1")) == events_before + 1


async def test_a_district_admin_opens_a_school_year_and_renames_a_school(env: Env) -> None:
    await env.act_as("quantri.bldx")
    school = await env.unit_id("BL-DX-TH01")

    updated = await env.client.patch(
        f"/api/v1/org-units/{school}",
        json={
            "name": "  Trường Tiểu học  Đồng Xoài 1 ",
            "school_years": ["2026-2027", "2025-2026"],
        },
    )
    not_consecutive = await env.client.patch(
        f"/api/v1/org-units/{school}", json={"school_years": ["2025-2027"]}
    )
    other_district = await env.client.patch(
        f"/api/v1/org-units/{await env.unit_id('BL-PL-TH01')}", json={"name": "Tên khác"}
    )

    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "Trường Tiểu học Đồng Xoài 1"  # NFC, trimmed, spaces collapsed
    assert body["school_years"] == ["2025-2026", "2026-2027"]
    assert body["code"] == "BL-DX-TH01"
    _problem(not_consecutive, 422, "validation-failed")
    _problem(other_district, 403, "outside-scope")
    fetched = await env.client.get(f"/api/v1/org-units/{school}")
    assert fetched.json()["school_years"] == ["2025-2026", "2026-2027"]


async def test_a_school_cannot_rename_itself(env: Env) -> None:
    await env.act_as("hieutruong.bldxth01")
    school = await env.unit_id("BL-DX-TH01")
    before = (await env.client.get(f"/api/v1/org-units/{school}")).json()

    response = await env.client.patch(f"/api/v1/org-units/{school}", json={"name": "Tên mới"})

    assert response.status_code == 403
    assert (await env.client.get(f"/api/v1/org-units/{school}")).json() == before


async def test_listing_shows_only_the_callers_subtree_page_by_page(env: Env) -> None:
    await env.act_as("quantri.bldx")

    first = await env.client.get("/api/v1/org-units", params={"limit": 2})
    second = await env.client.get(
        "/api/v1/org-units", params={"limit": 2, "cursor": first.json()["next_cursor"]}
    )
    elsewhere = await env.client.get(
        "/api/v1/org-units", params={"unit": str(await env.unit_id("BL-PL"))}
    )

    codes = [u["code"] for u in first.json()["items"] + second.json()["items"]]
    assert codes == ["BL-DX", "BL-DX-TH01", "BL-DX-THCS01"]
    assert second.json()["next_cursor"] is None
    _problem(elsewhere, 403, "outside-scope")


async def test_unknown_units_are_clear_problems_and_change_nothing(env: Env) -> None:
    await env.act_as("quantri.so")
    units, users = await env.count(OrgUnitRow), await env.count(UserRow)
    nowhere = str(uuid.uuid4())

    school = await env.client.post(
        "/api/v1/org-units",
        json={
            "kind": "school",
            "code": "BL-Z",
            "name": "Trường Z",
            "parent_id": nowhere,
            "levels": ["primary"],
        },
    )
    user = await env.client.post(
        "/api/v1/users",
        json={"username": "ai.do", "full_name": "Ai Đó", "home_unit_id": nowhere},
    )
    read = await env.client.get(f"/api/v1/org-units/{nowhere}")

    _problem(school, 422, "org-unit-unknown")
    _problem(user, 422, "org-unit-unknown")
    _problem(read, 404, "org-unit-unknown")
    assert (await env.count(OrgUnitRow), await env.count(UserRow)) == (units, users)


async def test_school_admin_creates_a_teacher_and_grants_the_teacher_role(env: Env) -> None:
    admin = await env.act_as("quantri.bldxth01")
    school = await env.unit_id("BL-DX-TH01")

    created = await env.client.post(
        "/api/v1/users",
        json={
            "username": "Mai.Lan",
            "full_name": "Đỗ Thị Mai Lan",
            "home_unit_id": str(school),
            "email": "mai.lan@example.edu.vn",
            "initial_password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["username"] == "mai.lan"
    granted = await env.client.post(
        "/api/v1/grants",
        json={
            "role": "teacher",
            "unit_id": str(school),
            "grantee_kind": "user",
            "grantee_id": user["id"],
        },
    )

    assert granted.status_code == 201, granted.text
    assert granted.json()["granted_by"] == str(admin)
    changed = (await env.outbox("vn.hsdt.identity.grant.changed.v1"))[-1]["data"]
    assert (changed["change"], changed["role"], changed["school_id"]) == (
        "granted",
        "teacher",
        str(school),
    )
    created_events = await env.outbox("vn.hsdt.identity.user.created.v1")
    assert created_events[-1]["data"]["user_id"] == user["id"]
    listed = await env.client.get("/api/v1/grants", params={"grantee": user["id"]})
    assert [g["id"] for g in listed.json()["items"]] == [granted.json()["id"]]


async def test_grants_outside_scope_or_above_the_grantor_are_refused(env: Env) -> None:
    await env.act_as("quantri.bldxth01")
    teacher = await env.user_id("gv1.bldxth01")
    before = await env.count(GrantRow)

    def grant(role: str, unit: uuid.UUID) -> dict[str, str]:
        return {
            "role": role,
            "unit_id": str(unit),
            "grantee_kind": "user",
            "grantee_id": str(teacher),
        }

    other_school = await env.client.post(
        "/api/v1/grants", json=grant("teacher", await env.unit_id("BL-PL-TH01"))
    )
    escalation = await env.client.post(
        "/api/v1/grants", json=grant("school_leader", await env.unit_id("BL-DX-TH01"))
    )

    _problem(other_school, 403, "outside-grantor-scope")
    _problem(escalation, 403, "role-above-grantor")
    assert await env.count(GrantRow) == before


async def test_inspectors_read_their_scope_and_write_nothing(env: Env) -> None:
    await env.act_as("quantri.so")
    inspector = await env.client.post(
        "/api/v1/users",
        json={
            "username": "thanhtra.so",
            "full_name": "Thanh Tra",
            "home_unit_id": str(await env.unit_id("BL")),
        },
    )
    await env.client.post(
        "/api/v1/grants",
        json={
            "role": "province_inspector",
            "unit_id": str(await env.unit_id("BL")),
            "grantee_kind": "user",
            "grantee_id": inspector.json()["id"],
        },
    )
    await env.act_as("thanhtra.so")
    before = await env.count(OrgUnitRow), await env.count(GrantRow)

    listed = await env.client.get("/api/v1/org-units", params={"limit": 200})
    audit = await env.client.get("/api/v1/audit")
    write = await env.client.post(
        "/api/v1/org-units",
        json={
            "kind": "district",
            "code": "BL-YY",
            "name": "Phòng Y",
            "parent_id": str(await env.unit_id("BL")),
        },
    )
    grant = await env.client.post(
        "/api/v1/grants",
        json={
            "role": "teacher",
            "unit_id": str(await env.unit_id("BL-DX-TH01")),
            "grantee_kind": "user",
            "grantee_id": inspector.json()["id"],
        },
    )

    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 9
    assert audit.status_code == 200
    _problem(write, 403)
    _problem(grant, 403, "role-above-grantor")
    assert (await env.count(OrgUnitRow), await env.count(GrantRow)) == before


async def test_revoking_a_grant_ends_it_and_the_grantees_tokens(env: Env) -> None:
    await env.act_as("quantri.bldxth01")
    teacher = await env.user_id("gv2.bldxth01")
    listed = await env.client.get(
        "/api/v1/grants",
        params={"grantee": str(teacher), "unit": str(await env.unit_id("BL-DX-TH01"))},
    )
    (grant,) = listed.json()["items"]

    revoked = await env.client.post(f"/api/v1/grants/{grant['id']}/revoke")

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    changed = (await env.outbox("vn.hsdt.identity.grant.changed.v1"))[-1]["data"]
    assert (changed["grant_id"], changed["change"]) == (grant["id"], "revoked")
    assert await env.revoked_at(teacher) is not None


async def test_a_school_admin_cannot_revoke_the_leaders_grant(env: Env) -> None:
    await env.act_as("quantri.bldxth01")
    leader = await env.user_id("hieutruong.bldxth01")
    listed = await env.client.get("/api/v1/grants", params={"grantee": str(leader)})
    (grant,) = listed.json()["items"]

    response = await env.client.post(f"/api/v1/grants/{grant['id']}/revoke")

    _problem(response, 403, "role-above-grantor")


async def test_disabling_a_user_emits_the_event_and_revokes_their_tokens(env: Env) -> None:
    admin = await env.act_as("quantri.bldxth01")
    teacher = await env.user_id("gv1.bldxth01")

    response = await env.client.post(
        f"/api/v1/users/{teacher}/disable", json={"reason": "left_organisation"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "disabled"
    (event,) = await env.outbox("vn.hsdt.identity.user.disabled.v1")
    assert event["subject"] == str(teacher)
    assert event["data"]["disabled_by"] == str(admin)
    assert event["data"]["reason"] == "left_organisation"
    assert event["data"]["school_id"] == str(await env.unit_id("BL-DX-TH01"))
    assert await env.revoked_at(teacher) is not None


async def test_a_school_admin_cannot_disable_or_reset_the_principal(env: Env) -> None:
    await env.act_as("quantri.bldxth01")
    leader = await env.user_id("hieutruong.bldxth01")

    disable = await env.client.post(f"/api/v1/users/{leader}/disable", json={"reason": "suspended"})
    reset = await env.client.post(
        f"/api/v1/users/{leader}/password-reset", json={"temporary_password": PASSWORD}
    )

    _problem(disable, 403, "account-above-actor")
    _problem(reset, 403, "account-above-actor")
    assert await env.outbox("vn.hsdt.identity.user.disabled.v1") == []
    assert await env.revoked_at(leader) is None


async def test_password_reset_sets_a_temporary_password(env: Env) -> None:
    await env.act_as("quantri.bldxth01")
    teacher = await env.user_id("gv2.bldxth01")

    weak = await env.client.post(
        f"/api/v1/users/{teacher}/password-reset", json={"temporary_password": "matkhau123"}
    )
    reset = await env.client.post(
        f"/api/v1/users/{teacher}/password-reset",
        json={"temporary_password": "tạm thời đổi ngay nhé"},
    )

    _problem(weak, 422, "password-rejected")
    assert reset.status_code == 204, reset.text
    async with env.engine.connect() as conn:
        must_change = await conn.scalar(
            select(CredentialRow.must_change_password).where(CredentialRow.user_id == teacher)
        )
    assert must_change is True
    assert await env.revoked_at(teacher) is not None


async def test_groups_are_created_listed_and_change_members(env: Env) -> None:
    await env.act_as("quantri.bldxthcs01")
    school = await env.unit_id("BL-DX-THCS01")
    teacher = await env.user_id("gv1.bldxthcs01")

    created = await env.client.post(
        "/api/v1/groups",
        json={"unit_id": str(school), "kind": "department", "name": "Bộ phận Văn phòng"},
    )
    added = await env.client.post(
        f"/api/v1/groups/{created.json()['id']}/members", json={"user_id": str(teacher)}
    )
    listed = await env.client.get("/api/v1/groups", params={"unit": str(school)})
    removed = await env.client.delete(f"/api/v1/groups/{created.json()['id']}/members/{teacher}")

    assert created.status_code == 201, created.text
    assert added.json()["member_ids"] == [str(teacher)]
    assert {g["name"] for g in listed.json()["items"]} == {
        "Ban quản trị HSĐT",
        "Tổ Toán - Tin",
        "Bộ phận Văn phòng",
    }
    assert removed.json()["member_ids"] == []
    assert await env.revoked_at(teacher) is not None


async def test_requests_without_a_token_are_401_problems(env: Env) -> None:
    env.app.dependency_overrides.clear()

    response = await env.client.get("/api/v1/org-units")

    _problem(response, 401, "unauthenticated")


async def test_bootstrap_is_idempotent_and_refuses_a_second_province(env: Env) -> None:
    units, users = await env.count(OrgUnitRow), await env.count(UserRow)

    again = await bootstrap_province(
        env.uow(), "BL", "Sở Giáo dục và Đào tạo tỉnh Bình Lâm", "quantri.so", PASSWORD
    )
    assert again.created is False
    with pytest.raises(BootstrapRefusedError, match="already holds province BL"):
        await bootstrap_province(env.uow(), "XY", "Sở GDĐT tỉnh Khác", "admin.xy", PASSWORD)
    assert (await env.count(OrgUnitRow), await env.count(UserRow)) == (units, users)


async def test_the_demo_province_loads_once(env: Env) -> None:
    counts: Callable[[], Any] = lambda: [  # noqa: E731
        env.count(t) for t in (OrgUnitRow, UserRow, GrantRow)
    ]
    before = [await c for c in counts()]
    outbox_before = await env.count(table("outbox"))

    second = await load_demo(env.uow(), PASSWORD)

    assert second.created is False
    assert [await c for c in counts()] == before
    assert await env.count(table("outbox")) == outbox_before
    # 1 department, 2 districts, 4 district schools, 2 department schools.
    assert before[0] == 9
    # Province admin, 2 district admins, 4 staff in each of 6 schools.
    assert before[1] == 1 + 2 + 6 * 4
    async with env.engine.connect() as conn:
        roles = set(await conn.scalars(select(GrantRow.role)))
    assert roles == {
        r.value
        for r in (
            Role.PROVINCE_ADMIN,
            Role.DISTRICT_ADMIN,
            Role.SCHOOL_LEADER,
            Role.SCHOOL_ADMIN,
            Role.TEACHER,
        )
    }
