"""The attendance service's worker: its outbox relay, its consumers, and the deadline sweep
with the month close (one replica acts at a time).

Run with ``python -m attendance.worker``.
"""

from __future__ import annotations

import asyncio

from attendance import __version__
from attendance.bootstrap import bootstrap
from attendance.consumers import SUBSCRIPTIONS
from attendance.handlers.sweep import run_sweeper
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.bootstrap import Deps
from common.worker import run_service_worker


def main() -> None:
    settings = AttendanceSettings()

    async def sweeper(deps: Deps, stop: asyncio.Event) -> None:
        def uow() -> AttendanceUnitOfWork:
            made = deps.uow_factory()
            assert isinstance(made, AttendanceUnitOfWork)
            return made

        await run_sweeper(uow, settings, stop)

    asyncio.run(
        run_service_worker(
            settings,
            lambda: bootstrap(settings),
            SUBSCRIPTIONS,
            version=__version__,
            scheduled=[sweeper],
        )
    )


if __name__ == "__main__":
    main()
