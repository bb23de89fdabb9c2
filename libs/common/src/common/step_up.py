"""Step-up tokens: proof that a person has just confirmed one action with their second factor.

A signed-in user asks identity for one at ``POST /auth/step-up`` with a TOTP (or recovery) code
and a ``purpose`` (``"signing"``). Identity checks the code as sign-in does and answers a token
that lives a few minutes (``IDENTITY_STEP_UP_MINUTES``, 5). The service that guards the action
(signing: a teacher's server-side key) verifies it with ``verify_step_up``, which also spends it:
a step-up token works once.

The token contract (identity issues exactly this; ``step_up_claims`` builds the claims for both
identity and ``common.testing.TokenIssuer``):

- header: ``alg`` = ``EdDSA``, ``kid`` = a key in identity's JWKS (the access tokens' keys),
  ``typ`` = ``step-up+jwt`` (RFC 8725 §3.11 explicit typing);
- ``iss`` = identity's issuer; ``aud`` = the access-token audience + ``":step-up"``, so a step-up
  token never passes as an access token, nor an access token as a step-up token;
- ``sub``: the user; ``jti``; ``iat``, ``nbf``, ``exp``;
- ``kind`` = ``"step-up"``; ``amr`` = ``["otp"]`` (RFC 8176); ``purpose``: 1–100 characters of
  ``[a-z0-9:._-]``;
- ``fid``: the refresh family of the access token it was asked with, when it had one.

It is refused once the access tokens of its user, or of its refresh family, are revoked (the
same keys in Redis as ``common.auth``), and once spent: ``<prefix>step-up:used:<jti>`` is set
with ``NX`` until the token has expired for every verifier.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError

from common.auth import InvalidToken, JwksVerifier
from common.errors import Problem, http_problem

if TYPE_CHECKING:
    from redis.asyncio import Redis

STEP_UP_KIND: Final = "step-up"
STEP_UP_TYP: Final = "step-up+jwt"
STEP_UP_AMR: Final = ("otp",)
PURPOSE_PATTERN: Final = r"^[a-z0-9:._-]{1,100}$"
_PURPOSE: Final = re.compile(PURPOSE_PATTERN)
_REQUIRED_CLAIMS: Final = ("exp", "iat", "iss", "aud", "sub", "jti", "kind", "purpose")


def step_up_audience(audience: str) -> str:
    """The audience of step-up tokens, given the access tokens' audience."""
    return f"{audience}:{STEP_UP_KIND}"


def is_purpose(purpose: str) -> bool:
    return _PURPOSE.fullmatch(purpose) is not None


def step_up_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    purpose: str,
    issued_at: int,
    expires_at: int,
    token_id: str | None = None,
    family_id: str | None = None,
) -> dict[str, Any]:
    """The claims of a step-up token; ``audience`` is the access tokens' audience."""
    if not subject:
        raise ValueError("subject must not be empty")
    if not is_purpose(purpose):
        raise ValueError(f"purpose must match {PURPOSE_PATTERN}")
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": step_up_audience(audience),
        "sub": subject,
        "kind": STEP_UP_KIND,
        "amr": list(STEP_UP_AMR),
        "purpose": purpose,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": expires_at,
        "jti": token_id or uuid.uuid4().hex,
    }
    if family_id is not None:
        claims["fid"] = family_id
    return claims


@dataclass(frozen=True, slots=True)
class StepUp:
    """A verified, now spent, step-up: who confirmed what, until when it would have lasted."""

    subject: str
    purpose: str
    token_id: str
    expires_at: datetime


class StepUpInvalid(Problem):
    """403: the step-up token is missing its proof, not for this user or purpose, or spent."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "step-up-invalid", "Xác thực bước hai không hợp lệ", detail)


async def verify_step_up(
    verifier: JwksVerifier,
    token: str,
    *,
    subject: str,
    purpose: str,
    redis: Redis,
    redis_prefix: str,
) -> StepUp:
    """Verify a step-up token for ``subject`` and ``purpose`` and spend it.

    Signature, issuer and expiry are checked with ``verifier``'s JWKS cache and leeway; the
    revocation list is the one ``verifier`` consults for access tokens. The spent marker lives
    in ``redis`` under ``redis_prefix``. Raises ``StepUpInvalid`` (403 ``step-up-invalid``),
    or a 503 problem when the JWKS or Redis cannot be reached (never accepted unchecked).
    """
    try:
        claims = await verifier.decode(
            token,
            audience=step_up_audience(verifier.audience),
            required=_REQUIRED_CLAIMS,
            typ=STEP_UP_TYP,
        )
    except InvalidToken as exc:
        raise StepUpInvalid(f"Step-up token refused: {exc.detail}") from None
    token_subject, token_id = claims["sub"], claims["jti"]
    family_id, amr = claims.get("fid"), claims.get("amr")
    if (
        claims["kind"] != STEP_UP_KIND
        or not isinstance(token_subject, str)
        or not isinstance(token_id, str)
        or not token_id
        or not isinstance(amr, list)
        or not set(STEP_UP_AMR) <= set(amr)
        or (family_id is not None and not isinstance(family_id, str))
    ):
        raise StepUpInvalid("Not a step-up token, or its claims are malformed")
    if token_subject != subject:
        raise StepUpInvalid("The step-up token was issued to another user")
    if claims["purpose"] != purpose:
        raise StepUpInvalid(f"The step-up token was issued for another purpose than {purpose!r}")
    try:
        await verifier.check_revoked(token_subject, token_id, family_id, claims["iat"])
    except InvalidToken:
        raise StepUpInvalid("The step-up token is revoked") from None
    expires_at = int(claims["exp"])
    # Kept until no verifier accepts the token any more, whatever leeway it allows.
    keep = max(1, math.ceil(expires_at - time.time() + verifier.leeway_seconds))
    try:
        fresh: Any = await redis.set(
            f"{redis_prefix}step-up:used:{token_id}", "1", nx=True, ex=keep
        )
    except (RedisError, OSError):
        # Failing open would let one second factor confirm any number of actions.
        raise http_problem(503, "Step-up replay list is unavailable") from None
    if not fresh:
        raise StepUpInvalid("The step-up token was already used")
    return StepUp(
        subject=token_subject,
        purpose=purpose,
        token_id=token_id,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )
