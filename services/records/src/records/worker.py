"""The records service's worker: its outbox relay and consumers.

Run with ``python -m records.worker``.
"""

from __future__ import annotations

import asyncio

from common.logs import configure_logging
from common.telemetry import setup_telemetry
from common.worker import run_worker
from records import __version__
from records.bootstrap import bootstrap
from records.consumers import SUBSCRIPTIONS
from records.settings import RecordsSettings


async def main(settings: RecordsSettings | None = None) -> None:
    settings = settings or RecordsSettings()
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
