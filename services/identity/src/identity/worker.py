"""The identity service's worker: its outbox relay and consumers.

Run with ``python -m identity.worker``.
"""

from __future__ import annotations

import asyncio

from common.worker import run_service_worker
from identity import __version__
from identity.bootstrap import bootstrap
from identity.consumers import SUBSCRIPTIONS
from identity.settings import IdentitySettings


def main() -> None:
    settings = IdentitySettings()
    asyncio.run(
        run_service_worker(
            settings, lambda: bootstrap(settings), SUBSCRIPTIONS, version=__version__
        )
    )


if __name__ == "__main__":
    main()
