"""Voluntary TOTP and step-up tokens through the identity app, on real PostgreSQL and Redis: a
teacher turns TOTP on, proves it again for one action, and the token is checked by
``common.step_up.verify_step_up`` against the app's own JWKS, as the signing service will."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from redis.asyncio import Redis

from common.auth import InvalidToken, JwksVerifier
from common.step_up import StepUp, StepUpInvalid, verify_step_up
from common.testing import TokenIssuer
from identity.handlers.auth import create_client, utcnow
from identity.keys import KeyRing
from identity.testing import (
    PASSWORD,
    SCHOOL,
    Identity,
    assert_problem,
    audit_rows,
    sign_in,
)
from identity.tokens import mint_step_up_token

ADDRESS = "10.0.0.1"  # sign_in's default


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Forwarded-For": ADDRESS}


async def signed_in(identity: Identity, username: str, **extra: str) -> dict[str, Any]:
    response = await sign_in(identity, username, **extra)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def enrol_teacher(identity: Identity, access_token: str) -> tuple[pyotp.TOTP, list[str]]:
    """The teacher turns TOTP on by choice; returns the authenticator and the recovery codes.
    The confirmation spends the current step: the next code is that of the step after."""
    enrol = await identity.client.post(
        "/auth/me/totp", json={"current_password": PASSWORD}, headers=bearer(access_token)
    )
    assert enrol.status_code == 200, enrol.text
    data = enrol.json()
    assert data["provisioning_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(data["secret"])
    confirm = await identity.client.post(
        "/auth/me/totp/confirm", json={"code": totp.now()}, headers=bearer(access_token)
    )
    assert confirm.status_code == 204, confirm.text
    return totp, data["recovery_codes"]


def next_code(totp: pyotp.TOTP, steps: int = 1) -> str:
    """A code of a later step, still within the one step of drift identity accepts."""
    return totp.at(utcnow() + timedelta(seconds=30 * steps))


async def step_up(
    identity: Identity, access_token: str, code: str, purpose: str = "signing"
) -> httpx.Response:
    return await identity.client.post(
        "/auth/step-up", json={"code": code, "purpose": purpose}, headers=bearer(access_token)
    )


async def spend(identity: Identity, token: str, subject: str, purpose: str = "signing") -> StepUp:
    return await verify_step_up(
        identity.verifier,
        token,
        subject=subject,
        purpose=purpose,
        redis=identity.deps.redis,
        redis_prefix=identity.deps.settings.redis_prefix,
    )


async def test_a_teacher_enrols_by_choice_and_a_step_up_token_works_once(
    identity: Identity,
) -> None:
    teacher = str(identity.users["teacher"])
    tokens = await signed_in(identity, "teacher")
    totp, _ = await enrol_teacher(identity, tokens["access_token"])

    response = await step_up(identity, tokens["access_token"], next_code(totp))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == 300
    token = body["step_up_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    access_claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert header["typ"] == "step-up+jwt"
    assert header["kid"] == jwt.get_unverified_header(tokens["access_token"])["kid"]
    assert claims["aud"] == "hsdt:step-up"
    assert claims["iss"] == access_claims["iss"]
    assert claims["sub"] == teacher
    assert claims["kind"] == "step-up"
    assert claims["amr"] == ["otp"]
    assert claims["purpose"] == "signing"
    assert claims["fid"] == access_claims["fid"]
    assert claims["exp"] - claims["iat"] == 300
    assert "grants" not in claims

    spent = await spend(identity, token, teacher)
    assert spent.subject == teacher
    assert spent.purpose == "signing"
    assert spent.token_id == claims["jti"]
    assert int(spent.expires_at.timestamp()) == claims["exp"]
    with pytest.raises(StepUpInvalid, match="already used") as again:
        await spend(identity, token, teacher)
    assert again.value.status == 403
    assert again.value.code == "step-up-invalid"
    assert again.value.title == "Xác thực bước hai không hợp lệ"

    audit = [(a.action, a.outcome, a.details) for a in await audit_rows(identity)]
    assert ("totp-enrolled", "success", {"voluntary": True}) in audit
    assert (
        "step-up",
        "success",
        {"purpose": "signing", "method": "totp", "token_id": claims["jti"]},
    ) in audit


async def test_after_voluntary_enrolment_sign_in_asks_for_the_code(identity: Identity) -> None:
    tokens = await signed_in(identity, "teacher")
    totp, recovery_codes = await enrol_teacher(identity, tokens["access_token"])

    assert_problem(await sign_in(identity, "teacher"), 401, "totp-required")
    assert (await sign_in(identity, "teacher", totp_code=next_code(totp))).status_code == 200
    # The factor cannot be replaced with an access token and the password either.
    again = await identity.client.post(
        "/auth/me/totp", json={"current_password": PASSWORD}, headers=bearer(tokens["access_token"])
    )
    assert_problem(again, 409, "totp-already-enrolled")
    # A recovery code steps up once, as it signs in once.
    recovery = await step_up(identity, tokens["access_token"], recovery_codes[0])
    assert recovery.status_code == 200, recovery.text
    replayed = await step_up(identity, tokens["access_token"], recovery_codes[0])
    assert_problem(replayed, 401, "totp-invalid")


async def test_voluntary_enrolment_needs_the_current_password(identity: Identity) -> None:
    tokens = await signed_in(identity, "teacher")

    wrong = await identity.client.post(
        "/auth/me/totp",
        json={"current_password": "not the password at all"},
        headers=bearer(tokens["access_token"]),
    )

    assert_problem(wrong, 401, "invalid-current-password")
    audit = [(a.action, a.outcome) for a in await audit_rows(identity)]
    assert ("totp-enrolment", "failure") in audit
    assert ("totp-enrolment-started", "success") not in audit
    not_started = await identity.client.post(
        "/auth/me/totp/confirm", json={"code": "123456"}, headers=bearer(tokens["access_token"])
    )
    assert_problem(not_started, 409, "totp-not-enrolled")


async def test_a_step_up_token_is_refused_for_another_purpose_or_another_user(
    identity: Identity,
) -> None:
    teacher = str(identity.users["teacher"])
    tokens = await signed_in(identity, "teacher")
    totp, _ = await enrol_teacher(identity, tokens["access_token"])
    token = (await step_up(identity, tokens["access_token"], next_code(totp))).json()[
        "step_up_token"
    ]

    with pytest.raises(StepUpInvalid, match="another purpose"):
        await spend(identity, token, teacher, purpose="signing:batch")
    with pytest.raises(StepUpInvalid, match="another user"):
        await spend(identity, token, str(identity.users["leader"]))
    # A refusal does not spend it: its own user, for its own purpose, still can.
    assert (await spend(identity, token, teacher)).token_id


async def test_access_and_step_up_tokens_cannot_stand_in_for_each_other(
    identity: Identity,
) -> None:
    teacher = str(identity.users["teacher"])
    tokens = await signed_in(identity, "teacher")
    totp, _ = await enrol_teacher(identity, tokens["access_token"])
    token = (await step_up(identity, tokens["access_token"], next_code(totp))).json()[
        "step_up_token"
    ]

    with pytest.raises(StepUpInvalid):
        await spend(identity, tokens["access_token"], teacher)
    # Even with the step-up token's type in its header, an access token's audience is refused.
    with pytest.raises(InvalidToken, match="audience"):
        await identity.verifier.verify(token)
    me = await identity.client.get("/me", headers=bearer(token))
    assert_problem(me, 401, "unauthenticated")
    assert (await spend(identity, token, teacher)).subject == teacher


async def test_a_step_up_token_dies_with_the_sign_in_it_came_from(identity: Identity) -> None:
    teacher = str(identity.users["teacher"])
    tokens = await signed_in(identity, "teacher")
    totp, _ = await enrol_teacher(identity, tokens["access_token"])
    token = (await step_up(identity, tokens["access_token"], next_code(totp))).json()[
        "step_up_token"
    ]

    logout = await identity.client.post("/auth/logout", headers=bearer(tokens["access_token"]))

    assert logout.status_code == 204, logout.text
    with pytest.raises(StepUpInvalid, match="revoked"):
        await spend(identity, token, teacher)


async def test_an_expired_step_up_token_is_refused(identity: Identity) -> None:
    teacher = str(identity.users["teacher"])
    now = utcnow()
    key = (await identity.deps.auth_services.keys.ring(now)).active(now)
    # The same key, as if made an hour ago, to sign a token ten minutes old.
    earlier = KeyRing([replace(key, created_at=now - timedelta(hours=1))])
    settings = identity.deps.settings
    token, _ = mint_step_up_token(
        earlier,
        subject=teacher,
        purpose="signing",
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        now=now - timedelta(minutes=10),
        lifetime=timedelta(minutes=5),
    )

    with pytest.raises(StepUpInvalid, match="expired"):
        await spend(identity, token, teacher)


async def test_a_wrong_code_is_refused_and_counted_like_a_failed_sign_in(
    identity: Identity,
) -> None:
    leader = pyotp.TOTP(identity.totp_secret)
    tokens = await signed_in(identity, "leader", totp_code=leader.now())

    wrong = await step_up(identity, tokens["access_token"], "000000")

    assert_problem(wrong, 401, "totp-invalid")
    failures = [a for a in await audit_rows(identity) if a.action == "step-up"]
    assert [(a.outcome, a.details["reason"], a.details["purpose"]) for a in failures] == [
        ("failure", "wrong-totp", "signing")
    ]
    # Three failures lock the account (the fixture's threshold), step-up and sign-in alike.
    for _ in range(2):
        assert_problem(
            await step_up(identity, tokens["access_token"], "000000"), 401, "totp-invalid"
        )
    locked = await step_up(identity, tokens["access_token"], next_code(leader))
    assert_problem(locked, 429, "sign-in-locked")
    assert int(locked.headers["retry-after"]) > 0
    signing_in = await sign_in(identity, "leader", totp_code=next_code(leader), address="10.9.9.9")
    assert_problem(signing_in, 429, "sign-in-locked")


async def test_a_replayed_totp_step_is_refused(identity: Identity) -> None:
    leader = pyotp.TOTP(identity.totp_secret)
    code = leader.now()
    tokens = await signed_in(identity, "leader", totp_code=code)

    # The code that signed in is spent; so is any code of an earlier step.
    assert_problem(await step_up(identity, tokens["access_token"], code), 401, "totp-invalid")
    later = next_code(leader)
    assert (await step_up(identity, tokens["access_token"], later)).status_code == 200
    assert_problem(await step_up(identity, tokens["access_token"], later), 401, "totp-invalid")
    assert_problem(await sign_in(identity, "leader", totp_code=later), 401, "totp-invalid")


async def test_step_up_needs_totp_turned_on(identity: Identity) -> None:
    tokens = await signed_in(identity, "teacher")

    response = await step_up(identity, tokens["access_token"], "123456")

    assert_problem(response, 409, "totp-not-enrolled")
    # Nothing was counted against the account.
    assert (await sign_in(identity, "teacher")).status_code == 200


async def test_school_software_cannot_step_up_nor_enrol_for_a_teacher(identity: Identity) -> None:
    client_id, secret = await create_client(
        identity.deps.identity_uow(),
        name="Phần mềm SMAS",
        school_id=SCHOOL,
        scopes=["teacher"],
        created_by=uuid.uuid4(),
    )
    issued = await identity.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "acting_for": str(identity.users["teacher"])},
        auth=(client_id, secret),
    )
    assert issued.status_code == 200, issued.text
    software = issued.json()["access_token"]

    assert_problem(await step_up(identity, software, "123456"), 403, "step-up-needs-person")
    enrol = await identity.client.post(
        "/auth/me/totp", json={"current_password": PASSWORD}, headers=bearer(software)
    )
    assert_problem(enrol, 403, "totp-needs-person")
    confirm = await identity.client.post(
        "/auth/me/totp/confirm", json={"code": "123456"}, headers=bearer(software)
    )
    assert_problem(confirm, 403, "totp-needs-person")


@pytest.mark.parametrize("purpose", ["", "Signing", "sign ing", "ký", "x" * 101])
async def test_a_purpose_outside_the_pattern_is_refused(identity: Identity, purpose: str) -> None:
    tokens = await signed_in(identity, "teacher")

    response = await step_up(identity, tokens["access_token"], "123456", purpose=purpose)

    assert_problem(response, 422, "validation-failed")


async def test_the_new_routes_document_their_problems(identity: Identity) -> None:
    paths = (await identity.client.get("http://identity/openapi.json")).json()["paths"]
    for path in ("/api/v1/auth/step-up", "/api/v1/auth/me/totp", "/api/v1/auth/me/totp/confirm"):
        operation = paths[path]["post"]
        assert operation["security"], path
        for status in ("401", "403", "409", "429"):
            assert "application/problem+json" in operation["responses"][status]["content"], path
    step_up_ok = paths["/api/v1/auth/step-up"]["post"]["responses"]["200"]
    assert step_up_ok["content"]["application/json"]["schema"]["$ref"].endswith("/StepUpRead")


# --- the stand-in minter other services' tests use keeps identity's contract


@pytest.fixture
async def issuer_verifier(
    token_issuer: TokenIssuer, redis_url: str
) -> AsyncIterator[tuple[JwksVerifier, Redis]]:
    redis = Redis.from_url(redis_url)
    async with httpx.AsyncClient() as http:
        yield (
            JwksVerifier(
                token_issuer.jwks_url,
                token_issuer.issuer,
                token_issuer.audience,
                300,
                http,
                redis,
                f"stepup-{uuid.uuid4().hex[:8]}:",
            ),
            redis,
        )
    await redis.aclose()


async def test_the_test_minters_step_up_tokens_verify_like_identitys(
    identity: Identity,
    token_issuer: TokenIssuer,
    issuer_verifier: tuple[JwksVerifier, Redis],
    redis_prefix: str,
) -> None:
    verifier, redis = issuer_verifier
    subject = str(uuid.uuid4())
    prefix = f"{redis_prefix}{uuid.uuid4().hex[:8]}:"
    minted = token_issuer.mint_step_up(subject, "signing", family_id="f-1")

    spent = await verify_step_up(
        verifier, minted, subject=subject, purpose="signing", redis=redis, redis_prefix=prefix
    )
    assert spent.subject == subject
    with pytest.raises(StepUpInvalid, match="already used"):
        await verify_step_up(
            verifier, minted, subject=subject, purpose="signing", redis=redis, redis_prefix=prefix
        )
    expired = token_issuer.mint_step_up(subject, "signing", expires_in=-120)
    with pytest.raises(StepUpInvalid, match="expired"):
        await verify_step_up(
            verifier, expired, subject=subject, purpose="signing", redis=redis, redis_prefix=prefix
        )
    # The same claims and header as identity's own step-up tokens.
    tokens = await signed_in(identity, "teacher")
    totp, _ = await enrol_teacher(identity, tokens["access_token"])
    ours = (await step_up(identity, tokens["access_token"], next_code(totp))).json()[
        "step_up_token"
    ]
    theirs = jwt.decode(minted, options={"verify_signature": False})
    assert jwt.decode(ours, options={"verify_signature": False}).keys() == theirs.keys()
    assert jwt.get_unverified_header(ours).keys() == jwt.get_unverified_header(minted).keys()
    assert theirs["aud"] == f"{token_issuer.audience}:step-up"


async def test_a_password_reset_keeps_voluntary_totp_and_kills_step_up_tokens(
    identity: Identity,
) -> None:
    teacher = str(identity.users["teacher"])
    tokens = await signed_in(identity, "teacher")
    totp, _ = await enrol_teacher(identity, tokens["access_token"])
    token = (await step_up(identity, tokens["access_token"], next_code(totp))).json()[
        "step_up_token"
    ]
    leader = await signed_in(identity, "leader", totp_code=pyotp.TOTP(identity.totp_secret).now())
    reset = await identity.client.post(
        f"/users/{teacher}/password-reset",
        json={"temporary_password": "tạm thời cho giáo viên"},
        headers=bearer(leader["access_token"]),
    )
    assert reset.status_code == 204, reset.text

    with pytest.raises(StepUpInvalid, match="revoked"):
        await spend(identity, token, teacher)
    first = await sign_in(identity, "teacher", "tạm thời cho giáo viên")
    assert_problem(first, 401, "password-change-required")
    changed = await identity.client.post(
        "/auth/password/change",
        json={
            "password_change_token": first.json()["password_change_token"],
            "new_password": "hoa phượng nở sân trường",
        },
    )
    # The forced change completes the sign-in only as far as the password: TOTP is still on.
    assert_problem(changed, 401, "totp-required")
