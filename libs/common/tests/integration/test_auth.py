"""Token verification against a real JWKS endpoint (a local uvicorn server) and real Redis."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from jwt.algorithms import OKPAlgorithm
from redis.asyncio import Redis

from common.app import create_service_app
from common.auth import CurrentPrincipal, Grant, InvalidToken, JwksVerifier, Principal
from common.errors import Problem, install_problem_handlers
from common.settings import CommonSettings
from common.testing import serving

REDIS_URL = os.environ.get("HSDT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ISSUER = "hsdt-identity"
AUDIENCE = "hsdt"


@dataclass
class SigningKey:
    kid: str
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def jwk(self) -> dict[str, Any]:
        public = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}


@dataclass
class JwksServer:
    url: str
    keys: list[SigningKey]
    requests: int = 0


@pytest.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    state = JwksServer(url="", keys=[SigningKey("key-1")])
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        state.requests += 1
        # A foreign key in the set must be ignored, not break the set.
        return {
            "keys": [{"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"}]
            + [k.jwk() for k in state.keys]
        }

    async with serving(app) as base_url:
        state.url = f"{base_url}/.well-known/jwks.json"
        yield state


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    value = f"hsdt-test-auth-{uuid.uuid4().hex[:12]}:"
    yield value
    keys = [k async for k in redis.scan_iter(match=f"{value}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def verifier(
    jwks_server: JwksServer, http_client: httpx.AsyncClient, redis: Redis, prefix: str
) -> JwksVerifier:
    return JwksVerifier(
        jwks_server.url,
        ISSUER,
        AUDIENCE,
        300,
        http_client,
        redis,
        prefix,
        min_refresh_seconds=0.3,
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "kind": "user",
        "jti": uuid.uuid4().hex,
        "fid": "family-1",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "grants": ["homeroom_teacher@school-7", "subject_teacher@school-7"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: SigningKey, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key.private, algorithm="EdDSA", headers={"kid": key.kid})


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def refused(verifier: JwksVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert info.value.status == 401
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer")
    return info.value.detail or ""


async def test_a_valid_token_gives_its_principal(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    exp = int(time.time()) + 300
    principal = await verifier.verify(sign(jwks_server.keys[0], jti="t-1", exp=exp))
    assert principal == Principal(
        subject="user-1",
        kind="user",
        grants=(Grant("homeroom_teacher", "school-7"), Grant("subject_teacher", "school-7")),
        token_id="t-1",
        expires_at=datetime.fromtimestamp(exp, UTC),
        family_id="family-1",
    )
    assert principal.has_grant("homeroom_teacher", "school-7")
    assert principal.units_with("subject_teacher") == {"school-7"}


async def test_service_client_tokens_are_told_apart(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    token = sign(jwks_server.keys[0], sub="client-9", kind="client", fid=None, grants=None)
    principal = await verifier.verify(token)
    assert (principal.kind, principal.grants, principal.family_id) == ("client", (), None)


async def test_the_key_set_is_fetched_once_and_cached(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    for _ in range(5):
        await verifier.verify(sign(jwks_server.keys[0]))
    assert jwks_server.requests == 1


async def test_an_expired_token_is_refused(verifier: JwksVerifier, jwks_server: JwksServer) -> None:
    now = int(time.time())
    token = sign(jwks_server.keys[0], iat=now - 3600, nbf=now - 3600, exp=now - 120)
    assert await refused(verifier, token) == "Token expired"


async def test_small_clock_skew_is_tolerated(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    now = int(time.time())
    await verifier.verify(sign(jwks_server.keys[0], iat=now - 600, nbf=now - 600, exp=now - 5))
    await verifier.verify(sign(jwks_server.keys[0], iat=now + 5, nbf=now + 5))


async def test_a_token_not_valid_yet_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    now = int(time.time())
    await refused(verifier, sign(jwks_server.keys[0], nbf=now + 600, exp=now + 900))


async def test_a_token_for_another_audience_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    token = sign(jwks_server.keys[0], aud="another-platform")
    assert await refused(verifier, token) == "Token not meant for this audience"


async def test_a_token_from_another_issuer_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    token = sign(jwks_server.keys[0], iss="someone-else")
    assert await refused(verifier, token) == "Token from an unknown issuer"


async def test_a_token_without_required_claims_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    await refused(verifier, sign(jwks_server.keys[0], jti=None))
    await refused(verifier, sign(jwks_server.keys[0], kind="robot"))
    await refused(verifier, sign(jwks_server.keys[0], grants=["teacher-without-unit"]))


async def test_a_tampered_token_is_refused(verifier: JwksVerifier, jwks_server: JwksServer) -> None:
    header, _payload, signature = sign(jwks_server.keys[0]).split(".")
    forged = b64(claims(grants=["province_admin@province-1"]))
    await refused(verifier, f"{header}.{forged}.{signature}")
    await refused(verifier, "not-a-token")


async def test_alg_none_and_hmac_confusion_are_refused(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    key = jwks_server.keys[0]
    unsigned = f"{b64({'alg': 'none', 'kid': key.kid, 'typ': 'JWT'})}.{b64(claims())}."
    assert await refused(verifier, unsigned) == "Token algorithm not accepted"
    # HS256 keyed with the public key, which anyone can read from the JWKS.
    public_x = key.jwk()["x"].encode()
    hmac_token = jwt.encode(claims(), public_x, algorithm="HS256", headers={"kid": key.kid})
    assert await refused(verifier, hmac_token) == "Token algorithm not accepted"
    # The same with the header claiming EdDSA but an HMAC signature.
    header = b64({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"})
    _, payload, hmac_sig = hmac_token.split(".")
    await refused(verifier, f"{header}.{payload}.{hmac_sig}")


async def test_an_unknown_key_is_refetched_after_rotation_but_not_hammered(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    old = jwks_server.keys[0]
    await verifier.verify(sign(old))
    assert jwks_server.requests == 1

    new = SigningKey("key-2")
    jwks_server.keys.append(new)
    # Right after a fetch, unknown kids (a flood of forged ones) do not reach identity.
    forged = [sign(SigningKey(f"forged-{i}")) for i in range(20)]
    results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert all(isinstance(r, InvalidToken) for r in results)
    assert jwks_server.requests == 1

    await asyncio.sleep(0.35)
    # Concurrent requests with the new kid share one refetch.
    principals = await asyncio.gather(*(verifier.verify(sign(new)) for _ in range(10)))
    assert {p.subject for p in principals} == {"user-1"}
    assert jwks_server.requests == 2

    jwks_server.keys.remove(old)
    await asyncio.sleep(0.35)
    await refused(verifier, sign(SigningKey("forged-again")))  # unknown kid: one refetch
    assert jwks_server.requests == 3
    await refused(verifier, sign(old))  # the retired key is gone from the cache too


async def test_a_revoked_token_id_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer, redis: Redis, prefix: str
) -> None:
    token = sign(jwks_server.keys[0], jti="revoke-me")
    await verifier.verify(token)
    await redis.set(f"{prefix}revoked:jti:revoke-me", "1")
    assert await refused(verifier, token) == "Token revoked"
    await verifier.verify(sign(jwks_server.keys[0], jti="another"))


async def test_tokens_issued_before_a_subject_revocation_are_refused(
    verifier: JwksVerifier, jwks_server: JwksServer, redis: Redis, prefix: str
) -> None:
    now = int(time.time())
    old = sign(jwks_server.keys[0], sub="user-2", iat=now - 120, nbf=now - 120)
    await redis.set(f"{prefix}revoked:sub:user-2", str(now - 60))
    assert await refused(verifier, old) == "Token revoked"
    # Logging in again after the revocation gives a token that works.
    await verifier.verify(sign(jwks_server.keys[0], sub="user-2", iat=now, nbf=now))
    # Other subjects are untouched.
    await verifier.verify(sign(jwks_server.keys[0], sub="user-3", iat=now - 120, nbf=now - 120))


async def test_a_client_acting_for_a_disabled_person_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer, redis: Redis, prefix: str
) -> None:
    # R23: disabling an account stops software working in its name at once, not when the
    # software's token expires.
    now = int(time.time())
    token = sign(
        jwks_server.keys[0],
        sub="client-7",
        kind="client",
        fid=None,
        acting_for="user-5",
        iat=now - 120,
        nbf=now - 120,
    )
    await verifier.verify(token)
    await redis.set(f"{prefix}revoked:sub:user-5", str(now - 60))
    assert await refused(verifier, token) == "Token revoked"
    # The client itself still works for someone else.
    other = sign(jwks_server.keys[0], sub="client-7", kind="client", fid=None, acting_for="user-6")
    await verifier.verify(other)


async def test_a_revoked_family_is_refused(
    verifier: JwksVerifier, jwks_server: JwksServer, redis: Redis, prefix: str
) -> None:
    token = sign(jwks_server.keys[0], fid="family-stolen")
    await verifier.verify(token)
    await redis.set(f"{prefix}revoked:family:family-stolen", str(int(time.time())))
    assert await refused(verifier, token) == "Token revoked"
    await verifier.verify(sign(jwks_server.keys[0], fid="family-ok"))


def protected_app(verifier: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = verifier

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject, "kind": principal.kind}

    return app


async def call(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/me", headers=headers)


async def test_the_dependency_answers_401_problems_with_a_bearer_challenge(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    app = protected_app(verifier)

    missing = await call(app)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "unauthenticated"
    assert missing.json()["title"] == "Chưa xác thực"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="hsdt"'

    basic = await call(app, {"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401

    bad = await call(app, {"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'

    ok = await call(app, {"Authorization": f"Bearer {sign(jwks_server.keys[0])}"})
    assert ok.status_code == 200
    assert ok.json() == {"subject": "user-1", "kind": "user"}


async def test_an_unreachable_revocation_list_fails_closed(
    jwks_server: JwksServer, http_client: httpx.AsyncClient, unused_port: Callable[[], int]
) -> None:
    dead_redis = Redis.from_url(f"redis://127.0.0.1:{unused_port()}/0")
    try:
        verifier = JwksVerifier(
            jwks_server.url, ISSUER, AUDIENCE, 300, http_client, dead_redis, "x:"
        )
        with pytest.raises(Problem) as info:
            await verifier.verify(sign(jwks_server.keys[0]))
        assert info.value.status == 503
    finally:
        await dead_redis.aclose()


async def test_an_unreachable_jwks_endpoint_is_503_until_keys_are_known(
    http_client: httpx.AsyncClient, redis: Redis, unused_port: Callable[[], int]
) -> None:
    verifier = JwksVerifier(
        f"http://127.0.0.1:{unused_port()}/jwks.json",
        ISSUER,
        AUDIENCE,
        300,
        http_client,
        redis,
        "x:",
    )
    with pytest.raises(Problem) as info:
        await verifier.verify(sign(SigningKey("key-1")))
    assert info.value.status == 503


@pytest.fixture
def unused_port() -> Callable[[], int]:
    def pick() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        return port

    return pick


async def test_a_client_acting_for_a_teacher_carries_both(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    token = sign(jwks_server.keys[0], sub="client-9", kind="client", fid=None, acting_for="user-42")
    principal = await verifier.verify(token)
    assert (principal.subject, principal.acting_for) == ("client-9", "user-42")


async def test_only_a_client_may_act_for_someone(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    # R23: a person's token naming another person is not ours to honour.
    token = sign(jwks_server.keys[0], kind="user", acting_for="user-42")
    assert "malformed" in await refused(verifier, token)


async def test_every_service_echoes_the_verified_caller_at_me(
    verifier: JwksVerifier, jwks_server: JwksServer
) -> None:
    app = create_service_app(settings=CommonSettings(), title="t", version="0")
    app.state.token_verifier = verifier
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        anonymous = await client.get("/api/v1/me")
        token = sign(jwks_server.keys[0])
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert me.status_code == 200
    body = me.json()
    assert body["subject"] == "user-1"
    assert body["grants"] == ["homeroom_teacher@school-7", "subject_teacher@school-7"]
