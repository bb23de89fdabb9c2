"""argon2id hashing of passwords, off the event loop and at most a few at a time.

Parameters come from the settings (see ``IdentitySettings``); a stored hash made with other
parameters still verifies and is rehashed at the next successful sign-in.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class PasswordHasher:
    """Hash and verify passwords with argon2id in worker threads.

    The semaphore bounds CPU and memory: a burst of sign-ins queues here instead of running a
    hundred 19 MiB hashes at once.
    """

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int = 2
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(concurrency)
        # Verified against when the account does not exist, so that answering "wrong password"
        # takes as long for an unknown user name as for a known one.
        self._dummy_hash = self._argon2.hash("not a password of anyone")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; with no stored hash, spend the same time and say no."""
        target = stored_hash if stored_hash is not None else self._dummy_hash
        async with self._slots:
            ok = await asyncio.to_thread(self._verify, target, password)
        return ok and stored_hash is not None

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
