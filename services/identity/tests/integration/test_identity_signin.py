"""Sign-in, tokens and school-software clients through the identity app, on real PostgreSQL and
Redis; tokens are checked by ``common.auth.JwksVerifier`` against the app's own JWKS endpoint."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pyotp
import pytest

from common.auth import InvalidToken
from identity.handlers.auth import create_client
from identity.models import (
    CredentialRow,
)
from identity.testing import (
    SCHOOL,
    Identity,
    assert_problem,
    audit_rows,
    sign_in,
)


async def test_teacher_signs_in_and_every_service_accepts_the_token(identity: Identity) -> None:
    response = await sign_in(identity, " Teacher ")  # stored trimmed and in lower case
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    principal = await identity.verifier.verify(body["access_token"])
    assert principal.subject == str(identity.users["teacher"])
    assert principal.kind == "user"
    assert principal.has_grant("teacher", str(SCHOOL))  # granted to the team, held by its member
    assert principal.family_id is not None
    audit = await audit_rows(identity)
    assert [(a.action, a.outcome, a.source_address) for a in audit] == [
        ("sign-in", "success", "10.0.0.1")
    ]
    async with identity.sessions() as s:
        cred = await s.get(CredentialRow, identity.users["teacher"])
        assert cred is not None
        assert "m=19456,t=2,p=1" in cred.password_hash  # rehashed with the current parameters


async def test_jwks_is_public_and_cacheable(identity: Identity) -> None:
    response = await identity.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    (key,) = response.json()["keys"]
    assert key["kty"] == "OKP"
    assert "d" not in key


async def test_wrong_password_and_unknown_user_get_the_same_401_and_are_audited(
    identity: Identity,
) -> None:
    wrong = await sign_in(identity, "teacher", "not the password at all")
    unknown = await sign_in(identity, "nobody", "not the password at all")
    assert_problem(wrong, 401, "invalid-credentials")
    assert_problem(unknown, 401, "invalid-credentials")
    assert wrong.json()["detail"] == unknown.json()["detail"]
    audit = await audit_rows(identity)
    assert [(a.outcome, a.actor_id, a.details["reason"]) for a in audit] == [
        ("failure", str(identity.users["teacher"]), "wrong-password"),
        ("failure", None, "wrong-password"),
    ]


async def test_account_locks_after_repeated_failures_even_with_the_right_password(
    identity: Identity,
) -> None:
    for i in range(3):
        r = await sign_in(identity, "teacher", "wrong password!!", address=f"10.1.0.{i}")
        assert_problem(r, 401, "invalid-credentials")
    locked = await sign_in(identity, "teacher", address="10.1.0.9")
    assert_problem(locked, 429, "sign-in-locked")
    assert int(locked.headers["retry-after"]) > 0
    # An unknown user name locks the same way: the answer does not reveal which names exist.
    for i in range(3):
        await sign_in(identity, "ghost", "wrong password!!", address=f"10.2.0.{i}")
    assert_problem(await sign_in(identity, "ghost", address="10.2.0.9"), 429, "sign-in-locked")


async def test_address_is_blocked_after_failures_across_accounts(identity: Identity) -> None:
    for i in range(5):
        await sign_in(identity, f"guess{i}", "wrong password!!", address="198.51.100.7")
    blocked = await sign_in(identity, "teacher", address="198.51.100.7")
    assert_problem(blocked, 429, "too-many-sign-in-failures")
    # Another address of the same school still signs in.
    assert (await sign_in(identity, "teacher", address="198.51.100.8")).status_code == 200


async def test_disabled_user_cannot_sign_in(identity: Identity) -> None:
    assert_problem(await sign_in(identity, "disabled"), 403, "account-disabled")


async def test_leader_needs_a_totp_code_and_a_code_works_once(identity: Identity) -> None:
    assert_problem(await sign_in(identity, "leader"), 401, "totp-required")
    assert_problem(await sign_in(identity, "leader", totp_code="000000"), 401, "totp-invalid")
    code = pyotp.TOTP(identity.totp_secret).now()
    ok = await sign_in(identity, "leader", totp_code=code)
    assert ok.status_code == 200, ok.text
    principal = await identity.verifier.verify(ok.json()["access_token"])
    assert principal.has_grant("school_leader", str(SCHOOL))
    assert_problem(await sign_in(identity, "leader", totp_code=code), 401, "totp-invalid")


async def test_leader_without_totp_enrols_confirms_and_can_use_a_recovery_code_once(
    identity: Identity,
) -> None:
    first = await sign_in(identity, "newleader")
    assert_problem(first, 401, "totp-enrolment-required")
    enrolment_token = first.json()["enrolment_token"]
    enrol = await identity.client.post(
        "/auth/totp/enrol", json={"enrolment_token": enrolment_token}
    )
    assert enrol.status_code == 200, enrol.text
    data = enrol.json()
    assert data["provisioning_uri"].startswith("otpauth://totp/")
    assert len(data["recovery_codes"]) == 10
    totp = pyotp.TOTP(data["secret"])
    bad = await identity.client.post(
        "/auth/totp/confirm", json={"enrolment_token": enrolment_token, "code": "123456"}
    )
    assert_problem(bad, 401, "totp-invalid")
    confirmed = await identity.client.post(
        "/auth/totp/confirm", json={"enrolment_token": enrolment_token, "code": totp.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    await identity.verifier.verify(confirmed.json()["access_token"])
    # The enrolment token is spent.
    again = await identity.client.post(
        "/auth/totp/enrol", json={"enrolment_token": enrolment_token}
    )
    assert_problem(again, 401, "invalid-enrolment-token")
    recovery = data["recovery_codes"][0]
    assert (await sign_in(identity, "newleader", totp_code=recovery.upper())).status_code == 200
    assert_problem(await sign_in(identity, "newleader", totp_code=recovery), 401, "totp-invalid")


async def test_refresh_rotates_and_reuse_revokes_the_whole_sign_in(identity: Identity) -> None:
    first = (await sign_in(identity, "teacher")).json()
    rotated = await identity.client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    principal = await identity.verifier.verify(second["access_token"])
    assert principal.has_grant("teacher", str(SCHOOL))

    reused = await identity.client.post(
        "/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert_problem(reused, 401, "refresh-token-reused")
    with pytest.raises(InvalidToken):
        await identity.verifier.verify(second["access_token"])
    later = await identity.client.post(
        "/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert_problem(later, 401, "invalid-refresh-token")
    assert "refresh-token-reused" in [a.action for a in await audit_rows(identity)]


async def test_logout_revokes_the_access_token_and_the_refresh_token(identity: Identity) -> None:
    tokens = (await sign_in(identity, "teacher")).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = await identity.client.post("/auth/logout", headers=headers)
    assert response.status_code == 204, response.text
    with pytest.raises(InvalidToken):
        await identity.verifier.verify(tokens["access_token"])
    refused = await identity.client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert_problem(refused, 401, "invalid-refresh-token")
    logout = await identity.client.post("/auth/logout", headers=headers)
    assert_problem(logout, 401, "unauthenticated")


async def test_school_software_gets_a_client_token_acting_for_a_teacher(identity: Identity) -> None:
    uow = identity.deps.identity_uow()
    client_id, secret = await create_client(
        uow, name="Phần mềm SMAS", school_id=SCHOOL, scopes=["teacher"], created_by=uuid.uuid4()
    )
    teacher = str(identity.users["teacher"])
    response = await identity.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "acting_for": teacher},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["acting_for"] == teacher
    principal = await identity.verifier.verify(body["access_token"])
    assert principal.kind == "client"
    assert principal.subject == client_id
    assert principal.grants[0].role == "teacher"
    assert principal.has_grant("teacher", str(SCHOOL))
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["acting_for"] == teacher
    assert "fid" not in claims

    in_body = await identity.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert in_body.status_code == 200, in_body.text
    assert in_body.json()["acting_for"] is None

    not_a_teacher = await identity.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "acting_for": str(identity.users["staff"])},
        auth=(client_id, secret),
    )
    assert_problem(not_a_teacher, 400, "invalid-grant")
    assert not_a_teacher.json()["error"] == "invalid_grant"
    wrong = await identity.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "nope")
    )
    assert_problem(wrong, 401, "invalid-client")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    unsupported = await identity.client.post(
        "/oauth/token", data={"grant_type": "password"}, auth=(client_id, secret)
    )
    assert_problem(unsupported, 400, "unsupported-grant-type")
    audit = [a for a in await audit_rows(identity) if a.action == "client-token"]
    assert audit[0].on_behalf_of == teacher


async def test_create_client_refuses_scopes_that_need_a_second_factor(identity: Identity) -> None:
    from common.errors import Problem  # noqa: PLC0415

    with pytest.raises(Problem) as refused:
        await create_client(
            identity.deps.identity_uow(),
            name="X",
            school_id=SCHOOL,
            scopes=["school_leader"],
            created_by=uuid.uuid4(),
        )
    assert refused.value.code == "client-scope-invalid"


async def test_replicas_share_the_key_ring_and_rotation_keeps_old_tokens_valid(
    identity: Identity,
) -> None:
    from identity.handlers.auth import KeyKeeper, utcnow  # noqa: PLC0415
    from identity.models import SigningKeyRow  # noqa: PLC0415

    old = (await sign_in(identity, "teacher")).json()["access_token"]
    settings = identity.deps.auth_services.settings
    replica = KeyKeeper(identity.deps.identity_uow, settings.passphrase_bytes(), reload_seconds=60)
    first_kids = [k.kid for k in (await replica.load(utcnow())).keys]
    assert len(first_kids) == 1  # the second replica found the key, it did not make its own

    async with identity.sessions() as s:
        row = await s.get(SigningKeyRow, first_kids[0])
        assert row is not None
        row.not_after = utcnow() + timedelta(hours=1)  # due for rotation (a day ahead)
        await s.commit()
    rotated = await identity.deps.auth_services.keys.load(utcnow())
    assert len(rotated.keys) == 2
    new = (await sign_in(identity, "teacher")).json()["access_token"]
    assert jwt.get_unverified_header(new)["kid"] != first_kids[0]
    jwks = (await identity.client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {k.kid for k in rotated.keys}
    await identity.verifier.verify(old)
    await identity.verifier.verify(new)


async def test_auth_routes_document_their_problem_answers(identity: Identity) -> None:
    paths = (await identity.client.get("http://identity/openapi.json")).json()["paths"]
    sign_in = paths["/api/v1/auth/sign-in"]["post"]
    assert sign_in["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/TokenRead"
    )
    for status in ("401", "403", "429"):
        assert "application/problem+json" in sign_in["responses"][status]["content"]
    token = paths["/api/v1/oauth/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert "application/problem+json" in token["responses"]["401"]["content"]
    assert "/api/v1/.well-known/jwks.json" in paths


async def test_two_refreshes_with_one_token_at_once_give_one_new_pair(identity: Identity) -> None:
    import asyncio  # noqa: PLC0415

    token = (await sign_in(identity, "teacher")).json()["refresh_token"]
    answers = await asyncio.gather(
        *(identity.client.post("/auth/refresh", json={"refresh_token": token}) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 401]
