"""Access tokens (signed JWT), step-up tokens and refresh-token families (rotating, with reuse
detection).

The access token is exactly what ``common.auth.JwksVerifier`` accepts: EdDSA, ``kid`` in the
header, ``iss aud sub kind grants iat nbf exp jti`` and, when it came from a refresh, ``fid``.
The step-up token is exactly what ``common.step_up.verify_step_up`` accepts, signed with the same
keys for another audience.

Refresh tokens are opaque random strings; identity stores only their SHA-256. Each sign-in starts
a family; every refresh spends the presented token and hands out the next one. A spent token
presented again means two parties hold the family (one of them a thief), so the whole family is
revoked, and with it the access tokens minted from it (``revoked:family:<fid>`` in Redis).

Everything here is pure apart from drawing random tokens: the current time is always passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal, Protocol

import jwt

from common.auth import Grant
from common.step_up import STEP_UP_TYP, step_up_claims
from identity.keys import MAX_ACCESS_TOKEN_LIFETIME, KeyRing

TokenKind = Literal["user", "client"]

DEFAULT_ACCESS_TOKEN_LIFETIME: Final = timedelta(minutes=10)
REFRESH_IDLE_LIFETIME: Final = timedelta(hours=12)
"""A refresh token unused this long is dead: a school day plus evening marking, not a week."""
REFRESH_FAMILY_LIFETIME: Final = timedelta(days=7)
"""A sign-in lasts a week at most however often it is refreshed; then the password (and TOTP)."""
REFRESH_TOKEN_BYTES: Final = 32  # 256 bits


def mint_access_token(
    ring: KeyRing,
    *,
    subject: str,
    kind: TokenKind,
    grants: Sequence[str],
    issuer: str,
    audience: str,
    now: datetime,
    lifetime: timedelta = DEFAULT_ACCESS_TOKEN_LIFETIME,
    family_id: str | None = None,
    acting_for: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sign an access token with the ring's active key; returns the token and its claims.

    ``acting_for`` names the teacher a school-software client acts for (R23: the action is
    attributed to both); only a client may carry it.
    """
    if not timedelta(0) < lifetime <= MAX_ACCESS_TOKEN_LIFETIME:
        raise ValueError(f"access token lifetime must be within (0, {MAX_ACCESS_TOKEN_LIFETIME}]")
    if kind not in ("user", "client"):
        raise ValueError("kind must be user or client")
    if not subject:
        raise ValueError("subject must not be empty")
    if acting_for is not None and (kind != "client" or not acting_for):
        raise ValueError("only a client acts for someone, and it must name them")
    if family_id is not None and (kind != "user" or not family_id):
        # Client credentials get no refresh token (RFC 6749 §4.4.3), so no family either.
        raise ValueError("only a user token comes from a refresh family")
    for compact in grants:
        Grant.parse(compact)  # the verifier refuses a token with one malformed grant: fail here
    key = ring.active(now)
    issued_at = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "kind": kind,
        "grants": list(grants),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + int(lifetime.total_seconds()),
        "jti": uuid.uuid4().hex,
    }
    if family_id is not None:
        claims["fid"] = family_id
    if acting_for is not None:
        claims["acting_for"] = acting_for
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})
    return token, claims


def mint_step_up_token(
    ring: KeyRing,
    *,
    subject: str,
    purpose: str,
    issuer: str,
    audience: str,
    now: datetime,
    lifetime: timedelta,
    family_id: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Sign a step-up token (``common.step_up``) with the ring's active key: ``subject`` proved a
    second factor just now, for ``purpose``. ``audience`` is the access tokens' audience; the
    token's own is derived from it, so it never passes as an access token."""
    if not timedelta(0) < lifetime <= MAX_ACCESS_TOKEN_LIFETIME:
        # Revocation markers and retired keys are kept as long as an access token lives.
        raise ValueError(f"step-up token lifetime must be within (0, {MAX_ACCESS_TOKEN_LIFETIME}]")
    key = ring.active(now)
    issued_at = int(now.timestamp())
    claims = step_up_claims(
        issuer=issuer,
        audience=audience,
        subject=subject,
        purpose=purpose,
        issued_at=issued_at,
        expires_at=issued_at + int(lifetime.total_seconds()),
        family_id=family_id,
    )
    headers = {"kid": key.kid, "typ": STEP_UP_TYP}
    token = jwt.encode(claims, key.private, algorithm="EdDSA", headers=headers)
    return token, claims


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def hash_refresh_token(token: str) -> str:
    """The only form of a refresh token that is ever stored (hex SHA-256).

    A plain hash suffices: the token has 256 random bits, nothing to brute-force or salt.
    """
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RefreshFamily:
    """The refresh tokens of one sign-in: one current token, the spent ones remembered."""

    family_id: str
    subject: str
    current_hash: str
    generation: int
    created_at: datetime
    expires_at: datetime
    current_expires_at: datetime
    spent_hashes: frozenset[str] = frozenset()
    revoked: bool = False

    @classmethod
    def issue_first(
        cls,
        subject: str,
        now: datetime,
        *,
        idle_lifetime: timedelta = REFRESH_IDLE_LIFETIME,
        family_lifetime: timedelta = REFRESH_FAMILY_LIFETIME,
    ) -> tuple[RefreshFamily, str]:
        """Start a family at sign-in; returns it and the refresh token to hand to the client."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        token = new_refresh_token()
        expires_at = now + family_lifetime
        family = cls(
            family_id=str(uuid.uuid4()),
            subject=subject,
            current_hash=hash_refresh_token(token),
            generation=0,
            created_at=now,
            expires_at=expires_at,
            current_expires_at=min(now + idle_lifetime, expires_at),
        )
        return family, token

    def rotate(
        self,
        presented_token: str,
        now: datetime,
        *,
        idle_lifetime: timedelta = REFRESH_IDLE_LIFETIME,
    ) -> RefreshDecision:
        """Decide what a refresh with ``presented_token`` does; the caller persists and acts.

        ``Rotated``: store the new state (with ``expected_generation``), mint an access token
        with ``fid``. ``ReuseDetected``: store the revoked state and revoke the family in Redis.
        ``Refused``: answer 401 and change nothing.
        """
        presented = hash_refresh_token(presented_token)
        if self.revoked:
            return Refused("family revoked")
        # Checked before expiry: a replay is theft whatever the clock says.
        if presented in self.spent_hashes:
            return ReuseDetected(family=self.revoke(), revoke_family_id=self.family_id)
        if not hmac.compare_digest(presented, self.current_hash):
            # Not a token of this family at all (the store found it by hash, so this means a
            # caller bug or a forged lookup): never a reason to revoke someone else's session.
            return Refused("unknown refresh token")
        if now >= self.current_expires_at:
            return Refused("refresh token expired")
        token = new_refresh_token()
        family = replace(
            self,
            current_hash=hash_refresh_token(token),
            generation=self.generation + 1,
            current_expires_at=min(now + idle_lifetime, self.expires_at),
            spent_hashes=self.spent_hashes | {presented},
        )
        return Rotated(family=family, token=token)

    def revoke(self) -> RefreshFamily:
        """Sign-out or theft: no token of the family refreshes again."""
        return replace(self, revoked=True)

    def all_hashes(self) -> frozenset[str]:
        """Every hash the store must find this family by: the current one and the spent ones."""
        return self.spent_hashes | {self.current_hash}


@dataclass(frozen=True, slots=True)
class Rotated:
    family: RefreshFamily
    token: str


@dataclass(frozen=True, slots=True)
class ReuseDetected:
    family: RefreshFamily
    revoke_family_id: str


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


RefreshDecision = Rotated | ReuseDetected | Refused


class StaleFamilyError(RuntimeError):
    """Another request rotated the family first; the caller answers 401, as for a replay."""


class RefreshStore(Protocol):
    """Persistence of refresh families (a table in identity's database, later)."""

    async def find_by_token_hash(self, token_hash: str) -> RefreshFamily | None:
        """The family whose current or spent tokens include this hash."""
        ...

    async def add(self, family: RefreshFamily) -> None: ...

    async def save(self, family: RefreshFamily, *, expected_generation: int) -> None:
        """Store the new state only if the stored generation is still ``expected_generation``.

        Compare-and-set: two concurrent refreshes with the same token must not both rotate;
        the loser raises ``StaleFamilyError``.
        """
        ...

    async def revoke_all_for_subject(self, subject: str) -> list[str]:
        """Revoke every family of a subject (disable, logout everywhere); returns their ids."""
        ...
