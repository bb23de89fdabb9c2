"""Sign-in, tokens and school-software clients through the identity app, on real PostgreSQL and
Redis; tokens are checked by ``common.auth.JwksVerifier`` against the app's own JWKS endpoint."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import pyotp
import pytest
from redis.asyncio import Redis

from common.auth import InvalidToken
from identity.models import (
    CredentialRow,
)
from identity.testing import (
    PASSWORD,
    SCHOOL,
    Identity,
    assert_problem,
    audit_rows,
    sign_in,
)

TEMPORARY = "tạm thời cho giáo viên mới"
NEW_PASSWORD = "hoa phượng nở sân trường"


async def _next_second() -> None:
    # Revocation cut-offs are whole seconds (``iat``): a token minted in the same second as an
    # admin's reset counts as issued before it. A person never signs in that fast; a test does.
    now = time.time()
    await asyncio.sleep(math.floor(now) + 1 - now + 0.01)


async def _leader_token(idp: Identity) -> str:
    response = await sign_in(idp, "leader", totp_code=pyotp.TOTP(idp.totp_secret).now())
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
    response = await sign_in(idp, username, password)
    assert_problem(response, 401, "password-change-required")
    body = response.json()
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert body["expires_in"] == 600
    return str(body["password_change_token"])


async def test_after_a_reset_sign_in_asks_for_a_new_password_and_gives_no_tokens(
    identity: Identity,
) -> None:
    before = (await sign_in(identity, "teacher")).json()
    await _reset(identity, "teacher")
    assert_problem(await sign_in(identity, "teacher"), 401, "invalid-credentials")
    response = await sign_in(identity, "teacher", TEMPORARY)
    assert_problem(response, 401, "password-change-required")
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
    assert_problem(refused, 401, "invalid-refresh-token")
    reasons = [a.details.get("reason") for a in await audit_rows(identity) if a.action == "sign-in"]
    assert "password-change-required" in reasons


async def test_a_weak_new_password_is_refused_and_changes_nothing(identity: Identity) -> None:
    await _reset(identity, "teacher")
    token = await _change_token(identity, "teacher")
    before = await _credential(identity, "teacher")
    weak = await _change(identity, {"password_change_token": token, "new_password": "teacher123"})
    assert_problem(weak, 422, "password-rejected")
    codes = {p["code"] for p in weak.json()["problems"]}
    assert {"password_too_short", "password_contains_username"} <= codes
    assert all(p["message"] for p in weak.json()["problems"])
    same = await _change(identity, {"password_change_token": token, "new_password": TEMPORARY})
    assert_problem(same, 422, "password-unchanged")
    after = await _credential(identity, "teacher")
    assert after.password_hash == before.password_hash
    assert after.must_change_password is True
    # The token was not spent by the refusals.
    ok = await _change(identity, {"password_change_token": token, "new_password": NEW_PASSWORD})
    assert ok.status_code == 200, ok.text


async def test_a_forced_change_signs_in_clears_the_flag_and_the_token_works_once(
    identity: Identity,
) -> None:
    old = (await sign_in(identity, "teacher")).json()
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
    assert_problem(refused, 401, "invalid-refresh-token")
    again = await _change(
        identity, {"password_change_token": token, "new_password": "một mật khẩu khác hẳn nữa"}
    )
    assert_problem(again, 401, "invalid-password-change-token")
    assert (await _credential(identity, "teacher")).password_hash == cred.password_hash
    renewed = await identity.client.post(
        "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    assert_problem(await sign_in(identity, "teacher", TEMPORARY), 401, "invalid-credentials")
    assert (await sign_in(identity, "teacher", NEW_PASSWORD)).status_code == 200
    changes = [a for a in await audit_rows(identity) if a.action == "password-changed"]
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
    assert_problem(
        await sign_in(identity, "leader", PASSWORD, totp_code=code),
        401,
        "password-change-required",
    )
    done = await _change(identity, {"password_change_token": token, "new_password": NEW_PASSWORD})
    assert_problem(done, 401, "totp-required")
    assert "access_token" not in done.json()
    assert (await _credential(identity, "leader")).must_change_password is False
    ok = await sign_in(identity, "leader", NEW_PASSWORD, totp_code=code)
    assert ok.status_code == 200, ok.text
    # Not enrolled yet: the change leads to the enrolment step, as sign-in would.
    token = await _change_token(identity, "newleader", PASSWORD)
    enrol = await _change(identity, {"password_change_token": token, "new_password": NEW_PASSWORD})
    assert_problem(enrol, 401, "totp-enrolment-required")
    assert enrol.json()["enrolment_token"]


async def test_a_wrong_current_password_is_refused_and_counts_toward_lockout(
    identity: Identity,
) -> None:
    access = (await sign_in(identity, "teacher")).json()["access_token"]
    before = await _credential(identity, "teacher")
    for _ in range(3):  # lockout_account_failures=3 in this suite
        wrong = await _change(
            identity,
            {"current_password": "không phải mật khẩu", "new_password": NEW_PASSWORD},
            access,
        )
        assert_problem(wrong, 401, "invalid-current-password")
    assert_problem(await sign_in(identity, "teacher"), 429, "sign-in-locked")
    locked = await _change(
        identity, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, access
    )
    assert_problem(locked, 429, "sign-in-locked")
    assert (await _credential(identity, "teacher")).password_hash == before.password_hash
    failures = [a for a in await audit_rows(identity) if a.action == "password-change"]
    assert [a.outcome for a in failures] == ["failure"] * 3


async def test_voluntary_change_needs_a_token_and_revokes_the_other_sessions(
    identity: Identity,
) -> None:
    no_token = await _change(identity, {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_problem(no_token, 401, "unauthenticated")
    mine = (await sign_in(identity, "teacher")).json()
    other = (await sign_in(identity, "teacher", address="10.0.0.2")).json()
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
    assert_problem(refused, 401, "invalid-refresh-token")
    # The caller's own sign-in goes on.
    await identity.verifier.verify(mine["access_token"])
    renewed = await identity.client.post(
        "/auth/refresh", json={"refresh_token": mine["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text
    assert_problem(await sign_in(identity, "teacher"), 401, "invalid-credentials")
    assert (await sign_in(identity, "teacher", NEW_PASSWORD)).status_code == 200
    changes = [a for a in await audit_rows(identity) if a.action == "password-changed"]
    assert [(a.details["forced"], a.details["sessions_revoked"]) for a in changes] == [(False, 1)]


async def test_the_change_route_is_public_and_documents_its_problems(identity: Identity) -> None:
    paths = (await identity.client.get("http://identity/openapi.json")).json()["paths"]
    change = paths["/api/v1/auth/password/change"]["post"]
    for status in ("401", "422", "429"):
        assert "application/problem+json" in change["responses"][status]["content"]
