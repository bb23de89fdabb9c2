"""The archive service's worker: its outbox relay, its consumers, and the pipeline from locked
snapshots to archived packages (replicas share its rows with SKIP LOCKED).

Run with ``python -m archive.worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from archive import __version__
from archive.bootstrap import ArchiveDeps, bootstrap
from archive.consumers import SUBSCRIPTIONS
from archive.pipeline import run_pipeline
from archive.settings import ArchiveSettings
from archive.storage.store import StoreError
from archive.uow import ArchiveUnitOfWork
from common.bootstrap import Deps
from common.worker import run_service_worker

logger = logging.getLogger(__name__)


def main() -> None:
    settings = ArchiveSettings()

    async def pipeline(deps: Deps, stop: asyncio.Event) -> None:
        assert isinstance(deps, ArchiveDeps)
        services = deps.pipeline()
        # The object store may start after the worker (one Procfile): wait for it, never die.
        stores = [services.store, *([services.replica] if services.replica else [])]
        while stores and not stop.is_set():
            try:
                await asyncio.to_thread(stores[0].ensure_bucket)
            except StoreError as error:
                logger.warning("object store not ready, retrying: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)
                continue
            stores.pop(0)

        def uow() -> ArchiveUnitOfWork:
            made = deps.uow_factory()
            assert isinstance(made, ArchiveUnitOfWork)
            return made

        await run_pipeline(services, uow, settings.pipeline_every_seconds, stop)

    asyncio.run(
        run_service_worker(
            settings,
            lambda: bootstrap(settings),
            SUBSCRIPTIONS,
            version=__version__,
            scheduled=[pipeline],
        )
    )


if __name__ == "__main__":
    main()
