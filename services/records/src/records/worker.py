"""The records service's worker: its outbox relay and consumers.

Run with ``python -m records.worker``.
"""

from __future__ import annotations

import asyncio

from common.worker import run_service_worker
from records import __version__
from records.bootstrap import bootstrap
from records.consumers import SUBSCRIPTIONS
from records.settings import RecordsSettings


def main() -> None:
    settings = RecordsSettings()
    asyncio.run(
        run_service_worker(
            settings, lambda: bootstrap(settings), SUBSCRIPTIONS, version=__version__
        )
    )


if __name__ == "__main__":
    main()
