"""Sign-in lockout in Redis, per account and per source address.

Failures are counted in a fixed window; the failure that reaches the threshold extends the key
to the lock duration, and while the count is at the threshold every attempt is refused before
any password is checked (so a locked account costs no argon2 time). The account counter is
keyed by the user name as typed (folded), whether or not such an account exists, so the answers
never tell an attacker which user names are real.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from redis.asyncio import Redis

_COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return n
"""

LockScope = Literal["account", "address"]


@dataclass(frozen=True, slots=True)
class Locked:
    scope: LockScope
    retry_after_seconds: int


class Lockout:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        window_seconds: int,
        lock_seconds: int,
        account_threshold: int,
        address_threshold: int,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._window = window_seconds
        self._lock = lock_seconds
        self._thresholds: dict[LockScope, int] = {
            "account": account_threshold,
            "address": address_threshold,
        }

    def _key(self, scope: LockScope, value: str) -> str:
        # Hashed: user names and addresses are personal data and need not sit in Redis as such.
        digest = hashlib.sha256(value.casefold().strip().encode()).hexdigest()[:32]
        return f"{self._prefix}lockout:{scope}:{digest}"

    async def check(self, username: str, address: str) -> Locked | None:
        """The lock in force for this account or address, if any (the address first)."""
        checks: list[tuple[LockScope, str]] = [("address", address), ("account", username)]
        for scope, value in checks:
            key = self._key(scope, value)
            raw: Any = await self._redis.get(key)
            if raw is not None and int(raw) >= self._thresholds[scope]:
                ttl = int(await self._redis.ttl(key))
                return Locked(scope, max(ttl, 1))
        return None

    async def record_failure(self, username: str, address: str) -> None:
        counted: list[tuple[LockScope, str]] = [("account", username), ("address", address)]
        for scope, value in counted:
            key = self._key(scope, value)
            threshold = self._thresholds[scope]
            await self._redis.eval(_COUNT_FAILURE, 1, key, self._window, threshold, self._lock)

    async def record_success(self, username: str) -> None:
        # Only the account: a success must not let an attacker reset their address's counter
        # by signing in to an account of their own between guesses.
        await self._redis.delete(self._key("account", username))


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
