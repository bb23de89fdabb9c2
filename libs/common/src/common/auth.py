"""Verification of the access tokens that the identity service issues.

Every service verifies tokens itself: an EdDSA (Ed25519) JWT signed with a key from identity's
JWKS, then a look-up in the revocation list that identity keeps in Redis, so that disabling an
account takes effect at once rather than when its tokens expire.

The token contract (identity issues exactly this):

- header: ``alg`` = ``EdDSA``, ``kid`` = id of a key in the JWKS;
- ``iss``, ``aud``, ``exp``, ``iat``, optional ``nbf``;
- ``sub``: the user or service-client id; ``kind``: ``"user"`` or ``"client"``;
- ``jti``: the token id; ``fid``: optional id of the refresh-token family it came from;
- ``acting_for``: optional, on a client's token only: the user the school software acts for,
  so what it does is attributed to both (R23: nobody works in another person's name);
- ``grants``: list of ``"role@unit_id"`` strings (a role granted at an org unit).

Revocation keys in Redis (``<prefix>`` is the deployment's key prefix):

- ``<prefix>revoked:jti:<jti>``: this token is revoked (any value);
- ``<prefix>revoked:sub:<sub>``: unix time; the subject's tokens issued at or before it are
  revoked (an account disabled, a password changed);
- ``<prefix>revoked:family:<fid>``: every token of this refresh family is revoked (any value).

Identity signs one other kind of token with the same keys: the single-use step-up token that
proves a fresh second factor (``common.step_up``). Its audience is ``<aud>:step-up``, so it never
passes ``JwksVerifier.verify``, and an access token never passes ``verify_step_up``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Protocol, cast

import httpx
import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWK
from pydantic import BaseModel
from redis.exceptions import RedisError

from common.errors import Problem, http_problem, problem_responses

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

ACCEPTED_ALGORITHMS: Final = ("EdDSA",)
_REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub", "jti")


@dataclass(frozen=True, slots=True)
class Grant:
    """A role granted at an org unit (province, district or school)."""

    role: str
    unit_id: str

    @classmethod
    def parse(cls, compact: str) -> Grant:
        role, sep, unit_id = compact.partition("@")
        if not sep or not role or not unit_id:
            raise ValueError(f"grant {compact!r} is not role@unit")
        return cls(role, unit_id)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the verified access token says."""

    subject: str
    kind: Literal["user", "client"]
    grants: tuple[Grant, ...]
    token_id: str
    expires_at: datetime
    family_id: str | None = None
    acting_for: str | None = None

    def has_grant(self, role: str, unit_id: str) -> bool:
        return Grant(role, unit_id) in self.grants

    def units_with(self, role: str) -> frozenset[str]:
        """Units where this principal holds ``role``; the owner of the org tree expands them."""
        return frozenset(g.unit_id for g in self.grants if g.role == role)


class InvalidToken(Problem):
    """401: the token is missing, malformed, expired, not ours or revoked."""

    def __init__(self, detail: str, *, missing: bool = False) -> None:
        # RFC 6750 §3: no error code when the request carried no credentials at all.
        challenge = 'Bearer realm="hsdt"' if missing else 'Bearer error="invalid_token"'
        super().__init__(
            401,
            "unauthenticated",
            "Chưa xác thực",
            detail,
            headers={"WWW-Authenticate": challenge},
        )


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


class JwksVerifier:
    """Verify access tokens against identity's JWKS and the revocation list in Redis.

    The key set is cached for ``cache_seconds``. A token with an unknown ``kid`` triggers a
    refetch (identity rotated its key) but at most once per ``min_refresh_seconds``, so a flood
    of forged kids costs identity one request per interval; callers that need the keys while a
    fetch is in flight wait for that one request. If a refetch fails the cached keys stay in use.
    """

    def __init__(  # noqa: PLR0917 - the settings map one to one onto these
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        cache_seconds: float,
        http_client: httpx.AsyncClient,
        redis: Redis,
        redis_prefix: str,
        *,
        leeway_seconds: float = 30.0,
        min_refresh_seconds: float = 10.0,
        fetch_timeout_seconds: float = 5.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.cache_seconds = cache_seconds
        self.leeway_seconds = leeway_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self._http = http_client
        self._redis = redis
        self._prefix = redis_prefix
        self._timeout = fetch_timeout_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None  # monotonic time of the last successful fetch
        self._attempted_at: float | None = None  # … of the last attempt, successful or not
        self._inflight: asyncio.Task[None] | None = None
        self.fetch_count = 0

    async def verify(self, token: str) -> Principal:
        claims = await self.decode(token, audience=self.audience)
        try:
            principal = _principal(claims)
        except (ValueError, TypeError, KeyError):
            raise InvalidToken("Token claims malformed") from None
        await self.check_revoked(
            principal.subject,
            principal.token_id,
            principal.family_id,
            claims["iat"],
            acting_for=principal.acting_for,
        )
        return principal

    async def decode(
        self,
        token: str,
        *,
        audience: str,
        required: Sequence[str] = _REQUIRED_CLAIMS,
        typ: str | None = None,
    ) -> dict[str, Any]:
        """The claims of a token signed by a key of the JWKS, for ``audience`` and our issuer,
        not expired; raises ``InvalidToken`` saying why not. ``typ``, when given, is the JOSE
        header's explicit type (RFC 8725 §3.11) the token must carry.

        ``verify`` uses it for access tokens; other tokens identity signs with the same keys
        (``common.step_up``) use it with their own audience, so they share the key cache."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("Malformed token") from None
        # Checked before any key is chosen: "none" and HMAC with the public key as secret are
        # the classic confusions.
        if header.get("alg") not in ACCEPTED_ALGORITHMS:
            raise InvalidToken("Token algorithm not accepted")
        if typ is not None and header.get("typ") != typ:
            raise InvalidToken(f"Token is not of type {typ}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("Token has no key id")
        key = await self._signing_key(kid)
        if key is None:
            raise InvalidToken("Token signed with an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(ACCEPTED_ALGORITHMS),
                audience=audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": list(required)},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("Token not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("Token from an unknown issuer") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("Token not valid yet") from None
        except jwt.PyJWTError:
            raise InvalidToken("Invalid token") from None
        return claims

    async def _signing_key(self, kid: str) -> PyJWK | None:
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at >= self.cache_seconds
        if stale or kid not in self._keys:
            if self._inflight is None and self._may_fetch(now):
                self._inflight = asyncio.create_task(self._fetch())
            if self._inflight is not None:
                # Everyone who needs the keys meanwhile waits for the one request; shielded so
                # a caller that goes away does not cancel it for the others.
                await asyncio.shield(self._inflight)
        if self._fetched_at is None:
            raise http_problem(503, "Token signing keys are not available yet")
        return self._keys.get(kid)

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self.min_refresh_seconds

    async def _fetch(self) -> None:
        self._attempted_at = time.monotonic()
        self.fetch_count += 1
        try:
            response = await self._http.get(self.jwks_url, timeout=self._timeout)
            response.raise_for_status()
            self._keys = _parse_jwks(response.json())
            self._fetched_at = time.monotonic()
        except (httpx.HTTPError, ValueError, TypeError) as exc:
            logger.warning(
                "could not fetch the JWKS; keeping cached keys",
                extra={"url": self.jwks_url, "error_type": type(exc).__name__},
            )
        finally:
            self._inflight = None

    async def check_revoked(
        self,
        subject: str,
        token_id: str,
        family_id: str | None,
        issued_at: Any,
        *,
        acting_for: str | None = None,
    ) -> None:
        """Raise ``InvalidToken`` when the revocation list in Redis covers this token: its id,
        its subject, its refresh family, or the person a client acts for (software must not go
        on working in the name of an account that was just disabled, R23)."""
        p = self._prefix
        keys = [f"{p}revoked:jti:{token_id}", f"{p}revoked:family:{family_id or '-'}"]
        people = [subject] + ([acting_for] if acting_for else [])
        keys += [f"{p}revoked:sub:{person}" for person in people]
        try:
            # One round trip for all; redis-py's async typing does not say it is awaitable.
            mget = cast("Callable[[list[str]], Awaitable[list[Any]]]", self._redis.mget)
            values = await mget(keys)
        except (RedisError, OSError) as exc:
            # Failing open would let a disabled account in; a 503 tells the client to retry.
            logger.warning("revocation list unavailable", extra={"error_type": type(exc).__name__})
            raise http_problem(503, "Token revocation list is unavailable") from None
        jti_revoked, family_revoked, *revoked_before = values
        if jti_revoked is not None or (family_id is not None and family_revoked is not None):
            raise InvalidToken("Token revoked")
        for marker in revoked_before:
            if marker is None:
                continue
            try:
                cutoff = float(marker)
            except ValueError:
                cutoff = float("inf")  # unreadable marker: treat the subject as revoked
            if float(issued_at) <= cutoff:
                raise InvalidToken("Token revoked")


def _parse_jwks(document: Any) -> dict[str, PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise TypeError("not a JWK set")
    keys: dict[str, PyJWK] = {}
    for jwk in document["keys"]:
        # Only Ed25519 signing keys: anything else in the set must never verify our tokens.
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") != "EdDSA":
            continue
        try:
            keys[jwk["kid"]] = PyJWK(jwk, algorithm="EdDSA")
        except jwt.PyJWTError:
            continue
    return keys


def _principal(claims: dict[str, Any]) -> Principal:
    subject, kind, jti = claims["sub"], claims.get("kind"), claims["jti"]
    if not isinstance(subject, str) or not subject or not isinstance(jti, str) or not jti:
        raise ValueError("sub and jti must be non-empty strings")
    if kind not in ("user", "client"):
        raise ValueError("kind must be user or client")
    raw_grants = claims.get("grants", [])
    if not isinstance(raw_grants, list) or not all(isinstance(g, str) for g in raw_grants):
        raise ValueError("grants must be a list of strings")
    family = claims.get("fid")
    if family is not None and not isinstance(family, str):
        raise ValueError("fid must be a string")
    acting_for = claims.get("acting_for")
    if acting_for is not None and (not isinstance(acting_for, str) or kind != "client"):
        raise ValueError("acting_for must be a string, on a client's token")
    return Principal(
        subject=subject,
        kind=kind,
        grants=tuple(Grant.parse(g) for g in raw_grants),
        token_id=jti,
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        family_id=family,
        acting_for=acting_for,
    )


# auto_error=False: a missing or non-Bearer header gets our problem answer, not FastAPI's 403.
_bearer = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="Access token issued by identity"
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller; 401 problem when the token is missing or not valid."""
    if credentials is None:
        raise InvalidToken("Bearer token required", missing=True)
    verifier = cast("TokenVerifier", request.app.state.token_verifier)
    principal = await verifier.verify(credentials.credentials)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class PrincipalRead(BaseModel):
    """The caller as this service sees it: who, what kind, which grants where."""

    subject: str
    kind: Literal["user", "client"]
    grants: list[str]
    acting_for: str | None = None
    expires_at: datetime


principal_router = APIRouter(tags=["auth"])


@principal_router.get(
    "/me",
    response_model=PrincipalRead,
    summary="The verified caller",
    responses=problem_responses(401, 503),
)
async def read_principal(principal: CurrentPrincipal) -> PrincipalRead:
    """Echo the verified token's caller: lets school software check its token against any
    service, and shows the grants this service will authorise by."""
    return PrincipalRead(
        subject=principal.subject,
        kind=principal.kind,
        grants=[f"{g.role}@{g.unit_id}" for g in principal.grants],
        acting_for=principal.acting_for,
        expires_at=principal.expires_at,
    )
