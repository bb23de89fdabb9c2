"""The archive service's worker: its outbox relay and consumers.

Run with ``python -m archive.worker``.
"""

from __future__ import annotations

import asyncio

from archive import __version__
from archive.bootstrap import bootstrap
from archive.consumers import SUBSCRIPTIONS
from archive.settings import ArchiveSettings
from common.logs import configure_logging
from common.telemetry import setup_telemetry
from common.worker import run_worker


async def main(settings: ArchiveSettings | None = None) -> None:
    settings = settings or ArchiveSettings()
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
