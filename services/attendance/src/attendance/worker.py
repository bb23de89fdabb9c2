"""The attendance service's worker: its outbox relay and consumers.

Run with ``python -m attendance.worker``.
"""

from __future__ import annotations

import asyncio

from attendance import __version__
from attendance.bootstrap import bootstrap
from attendance.consumers import SUBSCRIPTIONS
from attendance.settings import AttendanceSettings
from common.logs import configure_logging
from common.telemetry import setup_telemetry
from common.worker import run_worker


async def main(settings: AttendanceSettings | None = None) -> None:
    settings = settings or AttendanceSettings()
    configure_logging(settings.service_name, settings.log_level)
    setup_telemetry(settings.service_name, settings, service_version=__version__)
    deps = bootstrap(settings)
    try:
        await run_worker(
            settings=settings,
            engine=deps.engine,
            uow_factory=deps.uow_factory,
            subscriptions=SUBSCRIPTIONS,
        )
    finally:
        await deps.aclose()


if __name__ == "__main__":
    asyncio.run(main())
