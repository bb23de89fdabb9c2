"""When a failed step of the pipeline is tried again: exponential back-off with a ceiling.

A step fails when a service it needs is down (records, signing, the object store); the work stays
pending and an operator sees the last error. Nothing is half-archived: each step either commits
its whole effect or nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

FIRST_DELAY: Final = timedelta(seconds=5)
MAX_DELAY: Final = timedelta(minutes=30)


def next_attempt(now: datetime, attempts: int) -> datetime:
    """After ``attempts`` failures (1 or more): 5 s, 10 s, 20 s, … at most 30 minutes."""
    # The exponent is capped before it overflows a timedelta: the ceiling is reached at 9.
    delay: timedelta = FIRST_DELAY * (2 ** min(max(attempts - 1, 0), 20))
    return now + min(delay, MAX_DELAY)
