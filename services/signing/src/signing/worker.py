"""The signing service's worker: its outbox relay and consumers.

Run with ``python -m signing.worker``.
"""

from __future__ import annotations

import asyncio

from common.worker import run_service_worker
from signing import __version__
from signing.bootstrap import bootstrap
from signing.consumers import SUBSCRIPTIONS
from signing.settings import SigningSettings


def main() -> None:
    settings = SigningSettings()
    asyncio.run(
        run_service_worker(
            settings, lambda: bootstrap(settings), SUBSCRIPTIONS, version=__version__
        )
    )


if __name__ == "__main__":
    main()
