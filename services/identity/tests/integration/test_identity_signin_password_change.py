"""Sign-in, tokens and school-software clients through the identity app, on real PostgreSQL and
Redis; tokens are checked by ``common.auth.JwksVerifier`` against the app's own JWKS endpoint."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
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

from common.auth import InvalidToken, JwksVerifier
from common.testing import DatabaseFactory, Unique
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
from identity.secretbox import SecretBox
from identity.settings import IdentitySettings

REPO = Path(__file__).resolve().parents[4]
DATA_KEY = "test-data-key-not-a-secret-0123456789"
PASSWORD = "ba con mèo trèo cây cau"
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


def _migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "services/identity/alembic.ini", "upgrade", "head"],
        cwd=REPO,
        env={**os.environ, "IDENTITY_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        timeout=120,
    )


async def _seed(url: str, box: SecretBox) -> tuple[dict[str, uuid.UUID], str]:
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
    _migrate(url)
    users, totp_secret = await _seed(url, SecretBox(DATA_KEY.encode()))
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


async def _sign_in(
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


async def _audit(idp: Identity) -> list[AuditRow]:
    async with idp.sessions() as s:
        return list((await s.scalars(select(AuditRow).order_by(AuditRow.id))).all())


def _is_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["title"]


TEMPORARY = "tạm thời cho giáo viên mới"
NEW_PASSWORD = "hoa phượng nở sân trường"


async def _next_second() -> None:
    # Revocation cut-offs are whole seconds (``iat``): a token minted in the same second as an
    # admin's reset counts as issued before it. A person never signs in that fast; a test does.
    now = time.time()
    await asyncio.sleep(math.floor(now) + 1 - now + 0.01)


async def _leader_token(idp: Identity) -> str:
    response = await _sign_in(idp, "leader", totp_code=pyotp.TOTP(idp.totp_secret).now())
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _reset(idp: Identity, username: str, temporary: str = TEMPORARY) -> None:
    leader = await _leader_token(idp)
    response = await idp.client.post(
        f"/users/{idp.users[username]}/password-reset",
        json={"temporary_password": temporary},
        headers={"Authorization": f"Bearer {leader}"},
    )
    assert response.status_code == 204, response.text
    await _next_second()


async def _change(idp: Identity, body: dict[str, str], token: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": "10.0.0.1"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await idp.client.post("/auth/password/change", json=body, headers=headers)


async def _credential(idp: Identity, username: str) -> CredentialRow:
    async with idp.sessions() as s:
        cred: CredentialRow | None = await s.get(CredentialRow, idp.users[username])
        assert cred is not None
        return cred


async def _change_token(idp: Identity, username: str, password: str = TEMPORARY) -> str:
    response = await _sign_in(idp, username, password)
    _is_problem(response, 401, "password-change-required")
    body = response.json()
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert body["expires_in"] == 600
    return str(body["password_change_token"])


async def test_after_a_reset_sign_in_asks_for_a_new_password_and_gives_no_tokens(
    identity: Identity,
) -> None:
    before = (await _sign_in(identity, "teacher")).json()
    await _reset(identity, "teacher")
    _is_problem(await _sign_in(identity, "teacher"), 401, "invalid-credentials")
    response = await _sign_in(identity, "teacher", TEMPORARY)
    _is_problem(response, 401, "password-change-required")
    assert response.json()["title"] == "Cần đổi mật khẩu trước khi đăng nhập"
    token = response.json()["password_change_token"]
    assert len(token) >= 40
    # Only its hash is in Redis, for about ten minutes.
    redis: Redis = identity.deps.redis
    key = identity.deps.auth_services.password_change_key(token)
    assert 0 < int(await redis.ttl(key)) <= 600
    assert not [k async for k in redis.scan_iter(match=f"*{token}*")]
    # A sign-in from before the reset cannot be refreshed into a new access token.
    refused = await identity.client.post(
        "/auth/refresh", json={"refresh_token": before["refresh_token"]}
    )
    _is_problem(refused, 401, "invalid-refresh-token")
    reasons = [a.details.get("reason") for a in await _audit(identity) if a.action == "sign-in"]
    assert "password-change-required" in reasons


async def test_a_weak_new_password_is_refused_and_changes_nothing(identity: Identity) -> None:
    await _reset(identity, "teacher")
    token = await _change_token(identity, "teacher")
    before = await _credential(identity, "teacher")
    weak = await _change(identity, {"password_change_token": token, "new_password": "teacher123"})
    _is_problem(weak, 422, "password-rejected")
    codes = {p["code"] for p in weak.json()["problems"]}
    assert {"password_too_short", "password_contains_username"} <= codes
    assert all(p["message"] for p in weak.json()["problems"])
    same = await _change(identity, {"password_change_token": token, "new_password": TEMPORARY})
    _is_problem(same, 422, "password-unchanged")
    after = await _credential(identity, "teacher")
    assert after.password_hash == before.password_hash
    assert after.must_change_password is True
    # The token was not spent by the refusals.
    ok = await _change(identity, {"password_change_token": token, "new_password": NEW_PASSWORD})
    assert ok.status_code == 200, ok.text


async def test_a_forced_change_signs_in_clears_the_flag_and_the_token_works_once(
    identity: Identity,
) -> None:
    old = (await _sign_in(identity, "teacher")).json()
    await _reset(identity, "teacher")
    token = await _change_token(identity, "teacher")
    response = await _change(
        identity, {"password_change_token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.text
    pair = response.json()
    principal = await identity.verifier.verify(pair["access_token"])
    assert principal.subject == str(identity.users["teacher"])
    assert principal.has_grant("teacher", str(SCHOOL))
    cred = await _credential(identity, "teacher")
    assert cred.must_change_password is False
    refused = await identity.client.post(
        "/auth/refresh", json={"refresh_token": old["refresh_token"]}
    )
    _is_problem(refused, 401, "invalid-refresh-token")
    again = await _change(
        identity, {"password_change_token": token, "new_password": "một mật khẩu khác hẳn nữa"}
    )
    _is_problem(again, 401, "invalid-password-change-token")
    assert (await _credential(identity, "teacher")).password_hash == cred.password_hash
    renewed = await identity.client.post(
        "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    _is_problem(await _sign_in(identity, "teacher", TEMPORARY), 401, "invalid-credentials")
    assert (await _sign_in(identity, "teacher", NEW_PASSWORD)).status_code == 200
    changes = [a for a in await _audit(identity) if a.action == "password-changed"]
    assert [(a.outcome, a.details["forced"]) for a in changes] == [("success", True)]


async def test_password_change_comes_before_the_second_factor(identity: Identity) -> None:
    async with identity.sessions() as s:
        for name in ("leader", "newleader"):
            cred = await s.get(CredentialRow, identity.users[name])
            assert cred is not None
            cred.must_change_password = True
        await s.commit()
    code = pyotp.TOTP(identity.totp_secret).now()
    token = await _change_token(identity, "leader", PASSWORD)
    _is_problem(
        await _sign_in(identity, "leader", PASSWORD, totp_code=code),
        401,
        "password-change-required",
    )
    done = await _change(identity, {"password_change_token": token, "new_password": NEW_PASSWORD})
    _is_problem(done, 401, "totp-required")
    assert "access_token" not in done.json()
    assert (await _credential(identity, "leader")).must_change_password is False
    ok = await _sign_in(identity, "leader", NEW_PASSWORD, totp_code=code)
    assert ok.status_code == 200, ok.text
    # Not enrolled yet: the change leads to the enrolment step, as sign-in would.
    token = await _change_token(identity, "newleader", PASSWORD)
    enrol = await _change(identity, {"password_change_token": token, "new_password": NEW_PASSWORD})
    _is_problem(enrol, 401, "totp-enrolment-required")
    assert enrol.json()["enrolment_token"]


async def test_a_wrong_current_password_is_refused_and_counts_toward_lockout(
    identity: Identity,
) -> None:
    access = (await _sign_in(identity, "teacher")).json()["access_token"]
    before = await _credential(identity, "teacher")
    for _ in range(3):  # lockout_account_failures=3 in this suite
        wrong = await _change(
            identity,
            {"current_password": "không phải mật khẩu", "new_password": NEW_PASSWORD},
            access,
        )
        _is_problem(wrong, 401, "invalid-current-password")
    _is_problem(await _sign_in(identity, "teacher"), 429, "sign-in-locked")
    locked = await _change(
        identity, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, access
    )
    _is_problem(locked, 429, "sign-in-locked")
    assert (await _credential(identity, "teacher")).password_hash == before.password_hash
    failures = [a for a in await _audit(identity) if a.action == "password-change"]
    assert [a.outcome for a in failures] == ["failure"] * 3


async def test_voluntary_change_needs_a_token_and_revokes_the_other_sessions(
    identity: Identity,
) -> None:
    no_token = await _change(identity, {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    _is_problem(no_token, 401, "unauthenticated")
    mine = (await _sign_in(identity, "teacher")).json()
    other = (await _sign_in(identity, "teacher", address="10.0.0.2")).json()
    await identity.verifier.verify(other["access_token"])
    response = await _change(
        identity, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, mine["access_token"]
    )
    assert response.status_code == 204, response.text
    with pytest.raises(InvalidToken):
        await identity.verifier.verify(other["access_token"])
    refused = await identity.client.post(
        "/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    _is_problem(refused, 401, "invalid-refresh-token")
    # The caller's own sign-in goes on.
    await identity.verifier.verify(mine["access_token"])
    renewed = await identity.client.post(
        "/auth/refresh", json={"refresh_token": mine["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    _is_problem(await _sign_in(identity, "teacher"), 401, "invalid-credentials")
    assert (await _sign_in(identity, "teacher", NEW_PASSWORD)).status_code == 200
    changes = [a for a in await _audit(identity) if a.action == "password-changed"]
    assert [(a.details["forced"], a.details["sessions_revoked"]) for a in changes] == [(False, 1)]


async def test_the_change_route_is_public_and_documents_its_problems(identity: Identity) -> None:
    paths = (await identity.client.get("http://identity/openapi.json")).json()["paths"]
    change = paths["/api/v1/auth/password/change"]["post"]
    for status in ("401", "422", "429"):
        assert "application/problem+json" in change["responses"][status]["content"]
