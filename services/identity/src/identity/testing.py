"""Test support for the identity service: a migrated database seeded with a small school, the
app running on it, and the calls tests make (loaded by tests as ``identity.testing``).

Like ``common.testing``, it lives with the code so that every identity test file shares one copy.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from common.auth import JwksVerifier
from common.testing import DatabaseFactory, Unique, alembic
from identity.app import create_app
from identity.bootstrap import IdentityDeps
from identity.models import (
    AuditRow,
    CredentialRow,
    GrantRow,
    GroupMemberRow,
    GroupRow,
    OrgUnitRow,
    UserRow,
)
from identity.passwords import PasswordHasher
from identity.secretbox import SecretBox, identity_secret_box
from identity.settings import IdentitySettings

REPO = Path(__file__).resolve().parents[4]
DATA_KEY = "test-data-key-not-a-secret-0123456789"
PASSWORD = "ba con mèo trèo cây cau"  # noqa: S105 — a throwaway test password
PROVINCE, DISTRICT, SCHOOL = (uuid.uuid4() for _ in range(3))


@dataclass
class Identity:
    app: FastAPI
    client: httpx.AsyncClient
    verifier: JwksVerifier
    deps: IdentityDeps
    sessions: async_sessionmaker  # type: ignore[type-arg]
    users: dict[str, uuid.UUID]
    totp_secret: str


def migrate(database_url: str) -> None:
    alembic("identity", database_url)


async def seed(url: str, box: SecretBox) -> tuple[dict[str, uuid.UUID], str]:
    hasher = PasswordHasher(time_cost=1, memory_kib=8 * 1024, parallelism=1)
    hashed = await hasher.hash(PASSWORD)  # other parameters: sign-in rehashes it
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine)
    users = {name: uuid.uuid4() for name in ("teacher", "leader", "newleader", "disabled", "staff")}
    totp_secret = pyotp.random_base32()
    now = datetime.now(UTC)
    async with sessions() as s:
        s.add(OrgUnitRow(id=PROVINCE, kind="province", code="79", name="Sở GDĐT"))
        await s.flush()
        s.add(
            OrgUnitRow(
                id=DISTRICT, kind="district", code="760", name="Phòng Q1", parent_id=PROVINCE
            )
        )
        await s.flush()
        s.add(
            OrgUnitRow(
                id=SCHOOL,
                kind="school",
                code="76001",
                name="TH Kim Đồng",
                parent_id=DISTRICT,
                levels=["primary"],
            )
        )
        await s.flush()
        for name, uid in users.items():
            status = "disabled" if name == "disabled" else "active"
            s.add(
                UserRow(id=uid, username=name, full_name=name, status=status, home_unit_id=SCHOOL)
            )
        await s.flush()
        for name, uid in users.items():
            cred = CredentialRow(user_id=uid, password_hash=hashed, recovery_code_hashes=[])
            if name == "leader":
                cred.totp_secret = box.encrypt(totp_secret.encode(), owner=str(uid))
                cred.totp_confirmed_at = now
            s.add(cred)
        group = GroupRow(id=uuid.uuid4(), unit_id=SCHOOL, kind="team", name="Tổ Toán")
        s.add(group)
        await s.flush()
        s.add(GroupMemberRow(group_id=group.id, user_id=users["teacher"]))

        def grant(role: str, grantee_kind: str, grantee: uuid.UUID) -> GrantRow:
            return GrantRow(
                id=uuid.uuid4(),
                role=role,
                unit_id=SCHOOL,
                grantee_kind=grantee_kind,
                grantee_id=grantee,
                valid_from=now - timedelta(days=1),
                granted_by=users["leader"],
            )

        s.add(grant("teacher", "team", group.id))  # the teacher's grant comes via the team
        s.add(grant("school_leader", "user", users["leader"]))
        s.add(grant("school_leader", "user", users["newleader"]))
        s.add(grant("teacher", "user", users["disabled"]))
        s.add(grant("staff", "user", users["staff"]))
        await s.commit()
    await engine.dispose()
    return users, totp_secret


@pytest.fixture
async def identity(
    make_database: DatabaseFactory,
    amqp_url: str,
    redis_url: str,
    redis_prefix: str,
    unique: Unique,
) -> AsyncIterator[Identity]:
    url = await make_database(unique("signin").replace("-", "_"))
    migrate(url)
    users, totp_secret = await seed(url, identity_secret_box(DATA_KEY.encode()))
    prefix = f"{redis_prefix}{unique('signin')}:"
    settings = IdentitySettings(
        database_url=url,
        amqp_url=amqp_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        key_passphrase=SecretStr("test-key-passphrase-not-a-secret"),
        data_key=SecretStr(DATA_KEY),
        lockout_account_failures=3,
        lockout_address_failures=5,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity/api/v1"
        ) as client,
    ):
        deps: IdentityDeps = app.state.deps
        verifier = JwksVerifier(
            "http://identity/api/v1/.well-known/jwks.json",
            settings.token_issuer,
            settings.token_audience,
            300,
            client,
            deps.redis,
            prefix,
        )
        yield Identity(app, client, verifier, deps, deps.sessionmaker, users, totp_secret)
        redis: Redis = deps.redis
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)


async def sign_in(
    idp: Identity,
    username: str,
    password: str = PASSWORD,
    *,
    address: str = "10.0.0.1",
    **extra: str,
) -> httpx.Response:
    return await idp.client.post(
        "/auth/sign-in",
        json={"username": username, "password": password, **extra},
        headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
    )


async def audit_rows(idp: Identity) -> list[AuditRow]:
    async with idp.sessions() as s:
        return list((await s.scalars(select(AuditRow).order_by(AuditRow.id))).all())


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["title"]
