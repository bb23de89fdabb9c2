"""The signing service's worker: its outbox relay, its consumers, and batch signing (replicas
share the queued batches).

Run with ``python -m signing.worker``.
"""

from __future__ import annotations

import asyncio

from common.bootstrap import Deps
from common.worker import run_service_worker
from signing import __version__
from signing.bootstrap import SigningDeps, bootstrap
from signing.consumers import SUBSCRIPTIONS
from signing.handlers.batches import run_batches
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork


def main() -> None:
    settings = SigningSettings()

    async def batches(deps: Deps, stop: asyncio.Event) -> None:
        assert isinstance(deps, SigningDeps)

        def uow() -> SigningUnitOfWork:
            made = deps.uow_factory()
            assert isinstance(made, SigningUnitOfWork)
            return made

        await run_batches(uow, deps.signature_tools(), settings.batch_every_seconds, stop)

    asyncio.run(
        run_service_worker(
            settings,
            lambda: bootstrap(settings),
            SUBSCRIPTIONS,
            version=__version__,
            scheduled=[batches],
        )
    )


if __name__ == "__main__":
    main()
