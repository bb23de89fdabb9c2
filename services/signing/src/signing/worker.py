"""The signing service's worker: its outbox relay and consumers.

Run with ``python -m signing.worker``.
"""

from __future__ import annotations

import asyncio

from common.logs import configure_logging
from common.telemetry import setup_telemetry
from common.worker import run_worker
from signing import __version__
from signing.bootstrap import bootstrap
from signing.consumers import SUBSCRIPTIONS
from signing.settings import SigningSettings


async def main(settings: SigningSettings | None = None) -> None:
    settings = settings or SigningSettings()
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
