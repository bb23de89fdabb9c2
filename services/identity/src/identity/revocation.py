"""The revocation list in Redis that ``common.auth.JwksVerifier`` consults on every request.

Writes exactly the keys the verifier reads (see ``common.auth``), each with an expiry: a marker
is only useful while a token it could match is alive, and the list must not grow for ever.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from identity.keys import VERIFIER_LEEWAY

if TYPE_CHECKING:
    from redis.asyncio import Redis

# Keep the later cut-off: two revocations racing (disable, then an older logout-everywhere
# arriving late) must not lower the cut-off and revive tokens issued in between.
_RAISE_CUTOFF = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
return 1
"""


class RevocationList:
    """Revoke access tokens before they expire: one token, one subject, one refresh family."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        max_token_lifetime: timedelta,
        *,
        leeway: timedelta = VERIFIER_LEEWAY,
    ) -> None:
        if max_token_lifetime <= timedelta(0):
            raise ValueError("max_token_lifetime must be positive")
        self._redis = redis
        self._prefix = prefix
        self._max_lifetime = max_token_lifetime
        self._leeway = leeway

    def jti_key(self, jti: str) -> str:
        return f"{self._prefix}revoked:jti:{jti}"

    def subject_key(self, subject: str) -> str:
        return f"{self._prefix}revoked:sub:{subject}"

    def family_key(self, family_id: str) -> str:
        return f"{self._prefix}revoked:family:{family_id}"

    async def revoke_token(self, jti: str, exp: datetime) -> None:
        """Revoke one access token (its ``jti``) until it has expired for every verifier."""
        until = _unix(exp + self._leeway)
        await self._redis.set(self.jti_key(jti), "1", exat=until)

    async def revoke_subject(self, subject: str, at: datetime) -> None:
        """Revoke every token of ``subject`` issued at or before ``at`` (disable, logout all).

        The cut-off is whole seconds, like ``iat``: a token issued earlier in the same second has
        ``iat == floor(at)`` and is caught. The marker lives until the last such token expired.
        """
        if at.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        cutoff = math.floor(at.timestamp())
        until = cutoff + math.ceil((self._max_lifetime + self._leeway).total_seconds())
        await self._redis.eval(_RAISE_CUTOFF, 1, self.subject_key(subject), cutoff, until)

    async def revoke_family(self, family_id: str) -> None:
        """Revoke the access tokens minted from a refresh family (reuse detected, sign-out).

        No new token of the family is minted once it is revoked in the database, so the last
        one expires within the longest lifetime from now (relative to Redis's own clock).
        """
        ttl = math.ceil((self._max_lifetime + self._leeway).total_seconds())
        await self._redis.set(self.family_key(family_id), "1", ex=ttl)


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    # Rounded up: expiring a second late is harmless, a second early could revive a token.
    return math.ceil(moment.timestamp())
