"""School-software clients, TOTP reset and racing creates, over HTTP on real PostgreSQL and Redis.

Each test has its own database, migrated and loaded with the demo province; the caller is a fixed
principal (``current_principal`` overridden), as in ``test_identity_admin_api``: what matters is
what the caller's *stored* grants allow. The token endpoint is called on the same app.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.auth import Principal, current_principal
from common.db import create_sessionmaker
from common.messaging.tables import outbox
from common.testing import DatabaseFactory, alembic
from identity.app import create_app
from identity.demo import load_demo
from identity.handlers.auth import create_platform_client
from identity.models import (
    AuditRow,
    ClientRow,
    CredentialRow,
    GrantRow,
    GroupRow,
    OrgUnitRow,
    UserRow,
)
from identity.repository.admin import AdminRepository
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork

REPO = Path(__file__).resolve().parents[4]
PASSWORD = "rừng cao su xanh mướt"
SCHOOL = "BL-DX-TH01"
SIBLING_SCHOOL = "BL-DX-THCS01"
SCHOOL_ADMIN = "quantri.bldxth01"
SCHOOL_TEACHER = "gv1.bldxth01"


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
            grants=(),
            token_id=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
        )
        self.app.dependency_overrides[current_principal] = lambda: principal
        return user_id

    async def count(self, table: Any) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(table)) or 0)

    async def token(self, client_id: str, secret: str) -> httpx.Response:
        return await self.client.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )


@pytest_asyncio.fixture
async def env(
    make_database: DatabaseFactory, amqp_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Env]:
    database_url = await make_database(f"idcli_{uuid.uuid4().hex[:8]}")
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
        app.dependency_overrides.clear()
    await redis.aclose()
    await engine.dispose()


def _problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


# --- school-software clients


async def test_a_school_admin_registers_software_whose_secret_gets_a_token(env: Env) -> None:
    await env.act_as(SCHOOL_ADMIN)
    school = await env.unit_id(SCHOOL)

    created = await env.client.post(
        "/api/v1/clients",
        json={"name": "Sổ điểm điện tử", "school_id": str(school), "scopes": ["teacher"]},
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["unit_id"], body["school_id"]) == (
        "school",
        str(school),
        str(school),
    )
    assert body["scopes"] == ["teacher"]
    assert body["status"] == "active"
    token = await env.token(body["client_id"], body["client_secret"])
    assert token.status_code == 200, token.text
    assert token.json()["access_token"]

    listed = await env.client.get("/api/v1/clients", params={"unit": str(school)})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["client_id"] for i in items] == [body["client_id"]]
    assert "client_secret" not in items[0]
    assert body["client_secret"] not in listed.text


async def test_software_for_another_school_or_above_the_callers_roles_is_refused(
    env: Env,
) -> None:
    await env.act_as(SCHOOL_ADMIN)
    before = (await env.count(ClientRow), await env.count(AuditRow))

    other = await env.client.post(
        "/api/v1/clients",
        json={
            "name": "Phần mềm lạ",
            "school_id": str(await env.unit_id(SIBLING_SCHOOL)),
            "scopes": ["teacher"],
        },
    )
    await env.act_as(SCHOOL_TEACHER)
    teacher = await env.client.post(
        "/api/v1/clients",
        json={
            "name": "Phần mềm lạ",
            "school_id": str(await env.unit_id(SCHOOL)),
            "scopes": ["teacher"],
        },
    )

    _problem(other, 403, "outside-scope")
    _problem(teacher, 403, "outside-scope")
    assert (await env.count(ClientRow), await env.count(AuditRow)) == before


async def test_a_scope_that_is_not_a_client_scope_is_refused(env: Env) -> None:
    await env.act_as(SCHOOL_ADMIN)

    response = await env.client.post(
        "/api/v1/clients",
        json={
            "name": "Phần mềm",
            "school_id": str(await env.unit_id(SCHOOL)),
            "scopes": ["school_admin"],
        },
    )

    _problem(response, 422, "client-scope-invalid")
    assert await env.count(ClientRow) == 0


async def test_a_disabled_client_gets_no_token_and_its_tokens_are_revoked(env: Env) -> None:
    await env.act_as(SCHOOL_ADMIN)
    created = (
        await env.client.post(
            "/api/v1/clients",
            json={
                "name": "Sổ liên lạc",
                "school_id": str(await env.unit_id(SCHOOL)),
                "scopes": ["teacher", "staff"],
            },
        )
    ).json()
    assert (await env.token(created["client_id"], created["client_secret"])).status_code == 200

    disabled = await env.client.post(f"/api/v1/clients/{created['client_id']}/disable")

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    refused = await env.token(created["client_id"], created["client_secret"])
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    key = f"{env.redis_prefix}revoked:sub:{created['client_id']}"
    assert await env.redis.get(key) is not None
    async with env.engine.connect() as conn:
        actions = (
            await conn.scalars(
                select(AuditRow.action).where(AuditRow.target == created["client_id"])
            )
        ).all()
    assert "client.disable" in actions


async def test_another_schools_admin_cannot_disable_a_client(env: Env) -> None:
    await env.act_as(SCHOOL_ADMIN)
    created = (
        await env.client.post(
            "/api/v1/clients",
            json={
                "name": "Sổ điểm",
                "school_id": str(await env.unit_id(SCHOOL)),
                "scopes": ["teacher"],
            },
        )
    ).json()
    await env.act_as("quantri.bldxthcs01")

    response = await env.client.post(f"/api/v1/clients/{created['client_id']}/disable")

    _problem(response, 403, "outside-scope")
    assert (await env.token(created["client_id"], created["client_secret"])).status_code == 200


# --- TOTP reset


async def test_a_totp_reset_clears_the_second_factor_and_revokes_the_tokens(env: Env) -> None:
    teacher = await env.user_id(SCHOOL_TEACHER)
    async with env.engine.begin() as conn:
        await conn.execute(
            update(CredentialRow)
            .where(CredentialRow.user_id == teacher)
            .values(
                totp_secret=b"sealed",
                totp_confirmed_at=datetime.now(UTC),
                totp_last_step=123,
                recovery_code_hashes=["a", "b"],
            )
        )
    await env.act_as(SCHOOL_ADMIN)

    response = await env.client.post(f"/api/v1/users/{teacher}/totp-reset")

    assert response.status_code == 204, response.text
    async with env.engine.connect() as conn:
        row = (
            await conn.execute(select(CredentialRow).where(CredentialRow.user_id == teacher))
        ).one()
        actions = (
            await conn.scalars(select(AuditRow.action).where(AuditRow.target == str(teacher)))
        ).all()
    assert row.totp_secret is None
    assert row.totp_confirmed_at is None
    assert row.totp_last_step is None
    assert row.recovery_code_hashes == []
    assert await env.redis.get(f"{env.redis_prefix}revoked:sub:{teacher}") is not None
    assert "user.totp_reset" in actions


async def test_a_school_admin_cannot_reset_the_leaders_totp(env: Env) -> None:
    leader = await env.user_id("hieutruong.bldxth01")
    await env.act_as(SCHOOL_ADMIN)

    response = await env.client.post(f"/api/v1/users/{leader}/totp-reset")

    _problem(response, 403, "account-above-actor")
    assert await env.redis.get(f"{env.redis_prefix}revoked:sub:{leader}") is None


# --- racing creates: 409, never 500


async def test_a_username_taken_between_the_check_and_the_commit_is_a_409(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other request commits the same username after this one's check passed."""
    await env.act_as(SCHOOL_ADMIN)
    school = await env.unit_id(SCHOOL)
    checked = AdminRepository.user_by_username

    async def check_then_lose_the_race(self: AdminRepository, username: str) -> UserRow | None:
        found = await checked(self, username)
        async with env.engine.begin() as conn:
            await conn.execute(
                insert(UserRow).values(
                    id=uuid.uuid4(),
                    username=username,
                    full_name="Người Nhanh Hơn",
                    status="active",
                    home_unit_id=school,
                )
            )
        return found

    monkeypatch.setattr(AdminRepository, "user_by_username", check_then_lose_the_race)

    response = await env.client.post(
        "/api/v1/users",
        json={"username": "dua.tranh", "full_name": "Lê Văn Chậm", "home_unit_id": str(school)},
    )

    _problem(response, 409, "username-taken")


async def test_racing_creates_of_one_unit_code_and_one_group_name_answer_409(env: Env) -> None:
    await env.act_as("quantri.so")
    district = await env.unit_id("BL-DX")
    school = await env.unit_id(SCHOOL)
    unit = {
        "kind": "school",
        "code": "BL-DX-DUATRANH",
        "name": "Trường Tiểu học Đua Tranh",
        "parent_id": str(district),
        "levels": ["primary"],
    }
    group = {"unit_id": str(school), "kind": "team", "name": "Tổ Đua Tranh"}

    units = await asyncio.gather(*(env.client.post("/api/v1/org-units", json=unit) for _ in "ab"))
    groups = await asyncio.gather(*(env.client.post("/api/v1/groups", json=group) for _ in "abc"))

    assert sorted(r.status_code for r in units) == [201, 409], [r.text for r in units]
    assert sorted(r.status_code for r in groups) == [201, 409, 409], [r.text for r in groups]
    _problem(next(r for r in units if r.status_code == 409), 409, "org-code-duplicate")
    _problem(next(r for r in groups if r.status_code == 409), 409, "group-name-taken")
    async with env.engine.connect() as conn:
        named = await conn.scalar(
            select(func.count()).select_from(GroupRow).where(GroupRow.name == "Tổ Đua Tranh")
        )
    assert named == 1


async def test_a_group_name_taken_between_the_check_and_the_commit_is_a_409(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.act_as(SCHOOL_ADMIN)
    school = await env.unit_id(SCHOOL)
    checked = AdminRepository.group_by_name

    async def check_then_lose_the_race(
        self: AdminRepository, unit_id: uuid.UUID, name: str
    ) -> GroupRow | None:
        found = await checked(self, unit_id, name)
        async with env.engine.begin() as conn:
            await conn.execute(
                insert(GroupRow).values(
                    id=uuid.uuid4(), unit_id=unit_id, kind="team", name=name, status="active"
                )
            )
        return found

    monkeypatch.setattr(AdminRepository, "group_by_name", check_then_lose_the_race)

    response = await env.client.post(
        "/api/v1/groups", json={"unit_id": str(school), "kind": "team", "name": "Tổ Chậm Chân"}
    )

    _problem(response, 409, "group-name-taken")


# --- the platform role and platform clients


async def test_nobody_grants_the_archivist_role_to_a_person_or_a_group(env: Env) -> None:
    """Not even the province admin: the role belongs to platform clients (422, nothing
    written, no event)."""
    await env.act_as("quantri.so")
    department = await env.unit_id("BL")
    async with env.engine.connect() as conn:
        team = await conn.scalar(select(GroupRow.id).where(GroupRow.kind == "team").limit(1))
    assert team is not None
    before = (await env.count(GrantRow), await env.count(AuditRow), await env.count(outbox))

    to_user = await env.client.post(
        "/api/v1/grants",
        json={
            "role": "archivist",
            "unit_id": str(department),
            "grantee_kind": "user",
            "grantee_id": str(await env.user_id(SCHOOL_TEACHER)),
        },
    )
    to_group = await env.client.post(
        "/api/v1/grants",
        json={
            "role": "archivist",
            "unit_id": str(department),
            "grantee_kind": "team",
            "grantee_id": str(team),
        },
    )

    for response in (to_user, to_group):
        body = _problem(response, 422, "role-platform-only")
        assert "platform service clients" in body["detail"]
    after = (await env.count(GrantRow), await env.count(AuditRow), await env.count(outbox))
    assert after == before


async def test_the_province_admin_lists_and_disables_the_platform_client(env: Env) -> None:
    department = await env.unit_id("BL")
    client_id, secret = await create_platform_client(
        env.uow(), name="archive", province_id=department, scopes=["archivist"]
    )
    await env.act_as("quantri.bldx")  # a district admin: the department is not theirs
    hidden = await env.client.get("/api/v1/clients")
    refused = await env.client.post(f"/api/v1/clients/{client_id}/disable")
    await env.act_as("quantri.so")

    listed = await env.client.get("/api/v1/clients", params={"unit": str(department)})
    disabled = await env.client.post(f"/api/v1/clients/{client_id}/disable")

    assert hidden.status_code == 200, hidden.text
    assert client_id not in {i["client_id"] for i in hidden.json()["items"]}
    _problem(refused, 403, "outside-scope")
    assert listed.status_code == 200, listed.text
    (item,) = [i for i in listed.json()["items"] if i["client_id"] == client_id]
    assert (item["kind"], item["unit_id"], item["school_id"]) == ("platform", str(department), None)
    assert item["scopes"] == ["archivist"]
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled"
    refused_token = await env.token(client_id, secret)
    assert refused_token.status_code == 401, refused_token.text
    assert await env.redis.get(f"{env.redis_prefix}revoked:sub:{client_id}") is not None
