"""Tokens identity mints verify with ``common.auth.JwksVerifier``: a real JWKS over HTTP (a local
uvicorn server serving the key ring) and the real revocation list in Redis."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from common.auth import Grant, InvalidToken, JwksVerifier, Principal
from common.testing import serving
from identity.keys import MAX_ACCESS_TOKEN_LIFETIME, VERIFIER_LEEWAY, KeyRing
from identity.revocation import RevocationList
from identity.tokens import RefreshFamily, ReuseDetected, Rotated, mint_access_token

ISSUER = "hsdt-identity"
AUDIENCE = "hsdt"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class JwksServer:
    ring: KeyRing
    url: str = ""
    # Shifts the clock the JWKS is computed with, to reach the moment a retired key drops out
    # while the tokens under test are still unexpired for the verifier.
    clock_offset: timedelta = field(default_factory=timedelta)


@pytest.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    state = JwksServer(ring=KeyRing.create(utcnow() - timedelta(hours=1)))
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return state.ring.jwks(utcnow() + state.clock_offset)

    async with serving(app) as base_url:
        state.url = f"{base_url}/.well-known/jwks.json"
        yield state


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def prefix(redis: Redis, redis_prefix: str) -> AsyncIterator[str]:
    value = f"{redis_prefix}identity-tokens-{uuid.uuid4().hex[:8]}:"
    yield value
    keys = [k async for k in redis.scan_iter(match=f"{value}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


VerifierFactory = Callable[[], JwksVerifier]


@pytest.fixture
def new_verifier(
    jwks_server: JwksServer, http_client: httpx.AsyncClient, redis: Redis, prefix: str
) -> VerifierFactory:
    """A verifier with an empty key cache, as a service that just started has."""

    def make() -> JwksVerifier:
        return JwksVerifier(
            jwks_server.url,
            ISSUER,
            AUDIENCE,
            300,
            http_client,
            redis,
            prefix,
            min_refresh_seconds=0.0,
        )

    return make


@pytest.fixture
def verifier(new_verifier: VerifierFactory) -> JwksVerifier:
    return new_verifier()


@pytest.fixture
def revocations(redis: Redis, prefix: str) -> RevocationList:
    return RevocationList(redis, prefix, MAX_ACCESS_TOKEN_LIFETIME)


def mint(ring: KeyRing, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "subject": "user-1",
        "kind": "user",
        "grants": ["homeroom_teacher@school-7", "subject_teacher@school-7"],
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": utcnow(),
    }
    args.update(overrides)
    token, _ = mint_access_token(ring, **args)
    return token


async def refused(verifier: JwksVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert info.value.status == 401
    return info.value.detail or ""


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_minted_token_verifies_with_the_shared_verifier(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    token, claims = mint_access_token(
        jwks_server.ring,
        subject="user-1",
        kind="user",
        grants=["homeroom_teacher@school-7", "subject_teacher@school-7"],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=utcnow(),
        family_id="fam-1",
    )
    assert await verifier.verify(token) == Principal(
        subject="user-1",
        kind="user",
        grants=(Grant("homeroom_teacher", "school-7"), Grant("subject_teacher", "school-7")),
        token_id=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        family_id="fam-1",
    )


async def test_a_client_token_acting_for_a_teacher_verifies_as_the_client(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    token = mint(jwks_server.ring, subject="client-9", kind="client", acting_for="user-3")
    principal = await verifier.verify(token)
    assert (principal.subject, principal.kind, principal.family_id) == ("client-9", "client", None)


async def test_old_tokens_still_verify_after_a_key_rotation(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    ring = jwks_server.ring
    old_token = mint(ring)
    await verifier.verify(old_token)  # the verifier now caches the old key set
    ring.rotate(utcnow())
    new_token = mint(ring)
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    await verifier.verify(new_token)  # unknown kid: the verifier refetches the JWKS
    await verifier.verify(old_token)


async def test_a_token_signed_by_a_dropped_key_is_refused(
    new_verifier: VerifierFactory, jwks_server: JwksServer
) -> None:
    ring = jwks_server.ring
    old_token = mint(ring)
    ring.rotate(utcnow())
    new_token = mint(ring)
    jwks_server.clock_offset = MAX_ACCESS_TOKEN_LIFETIME + VERIFIER_LEEWAY + timedelta(seconds=5)
    verifier = new_verifier()
    assert await refused(verifier, old_token) == "Token signed with an unknown key"
    await verifier.verify(new_token)


async def test_a_tampered_payload_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    header, payload, signature = mint(jwks_server.ring).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = b64({**claims, "grants": ["province_admin@province-1"]})
    assert await refused(verifier, f"{header}.{forged}.{signature}") == "Invalid token"


async def test_a_token_signed_with_a_key_not_in_the_jwks_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    stranger = KeyRing.create(utcnow() - timedelta(minutes=1))
    assert await refused(verifier, mint(stranger)) == "Token signed with an unknown key"
    # A foreign key claiming the kid of identity's active key: the signature does not match.
    active = jwks_server.ring.active(utcnow())
    impostor = KeyRing([replace(stranger.active(utcnow()), kid=active.kid)])
    assert await refused(verifier, mint(impostor)) == "Invalid token"


async def test_an_expired_token_is_refused(verifier: JwksVerifier, jwks_server: JwksServer) -> None:
    issued = utcnow() - timedelta(minutes=20)
    token = mint(jwks_server.ring, now=issued, lifetime=MAX_ACCESS_TOKEN_LIFETIME)
    assert await refused(verifier, token) == "Token expired"


async def test_revoking_a_subject_refuses_its_existing_tokens_at_once(
    verifier: JwksVerifier, jwks_server: JwksServer, revocations: RevocationList, redis: Redis
) -> None:
    now = utcnow()
    ring = jwks_server.ring
    token = mint(ring, subject="user-2", now=now - timedelta(seconds=2))
    same_second = mint(ring, subject="user-2", now=now)
    other = mint(ring, subject="user-3", now=now - timedelta(seconds=2))
    await verifier.verify(token)

    await revocations.revoke_subject("user-2", now)

    assert await refused(verifier, token) == "Token revoked"
    assert await refused(verifier, same_second) == "Token revoked"
    await verifier.verify(other)
    # Signing in again afterwards gives a token that works.
    await verifier.verify(mint(ring, subject="user-2", now=now + timedelta(seconds=2)))
    ttl = await redis.ttl(revocations.subject_key("user-2"))
    assert 0 < ttl <= (MAX_ACCESS_TOKEN_LIFETIME + VERIFIER_LEEWAY).total_seconds() + 1


async def test_a_late_older_subject_revocation_does_not_lower_the_cutoff(
    verifier: JwksVerifier, jwks_server: JwksServer, revocations: RevocationList, redis: Redis
) -> None:
    now = utcnow()
    token = mint(jwks_server.ring, subject="user-4", now=now - timedelta(seconds=2))
    await revocations.revoke_subject("user-4", now)
    await revocations.revoke_subject("user-4", now - timedelta(minutes=5))
    assert await redis.get(revocations.subject_key("user-4")) == str(int(now.timestamp())).encode()
    assert await refused(verifier, token) == "Token revoked"


async def test_a_reused_refresh_token_revokes_the_access_tokens_of_its_family(
    verifier: JwksVerifier, jwks_server: JwksServer, revocations: RevocationList, redis: Redis
) -> None:
    now = utcnow()
    family, first = RefreshFamily.issue_first("user-5", now)
    rotated = family.rotate(first, now)
    assert isinstance(rotated, Rotated)
    token = mint(jwks_server.ring, subject="user-5", family_id=family.family_id)
    unrelated = mint(jwks_server.ring, subject="user-5", family_id="another-sign-in")
    await verifier.verify(token)

    decision = rotated.family.rotate(first, now)  # the spent token comes back
    assert isinstance(decision, ReuseDetected)
    await revocations.revoke_family(decision.revoke_family_id)

    assert await refused(verifier, token) == "Token revoked"
    await verifier.verify(unrelated)
    ttl = await redis.ttl(revocations.family_key(family.family_id))
    assert 0 < ttl <= (MAX_ACCESS_TOKEN_LIFETIME + VERIFIER_LEEWAY).total_seconds()


async def test_revoking_a_token_id_refuses_that_token_only(
    verifier: JwksVerifier, jwks_server: JwksServer, revocations: RevocationList, redis: Redis
) -> None:
    token, claims = mint_access_token(
        jwks_server.ring,
        subject="user-6",
        kind="user",
        grants=[],
        issuer=ISSUER,
        audience=AUDIENCE,
        now=utcnow(),
        lifetime=timedelta(minutes=5),
    )
    sibling = mint(jwks_server.ring, subject="user-6")

    await revocations.revoke_token(claims["jti"], datetime.fromtimestamp(claims["exp"], UTC))

    assert await refused(verifier, token) == "Token revoked"
    await verifier.verify(sibling)
    ttl = await redis.ttl(revocations.jti_key(claims["jti"]))
    lives_for = claims["exp"] + VERIFIER_LEEWAY.total_seconds() - utcnow().timestamp()
    assert lives_for - 5 <= ttl <= lives_for + 1
