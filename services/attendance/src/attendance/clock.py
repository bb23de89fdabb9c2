"""The service's clock. Deadlines are about wall time, so tests need to stand at a chosen
instant (a second before a deadline, on a holiday); they freeze this clock, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        return self._frozen or datetime.now(UTC)

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("freeze the clock at an aware instant")
        self._frozen = at

    def thaw(self) -> None:
        self._frozen = None


CLOCK = Clock()
