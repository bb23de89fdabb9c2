"""The archive service's worker: its outbox relay and consumers.

Run with ``python -m archive.worker``.
"""

from __future__ import annotations

import asyncio

from archive import __version__
from archive.bootstrap import bootstrap
from archive.consumers import SUBSCRIPTIONS
from archive.settings import ArchiveSettings
from common.worker import run_service_worker


def main() -> None:
    settings = ArchiveSettings()
    asyncio.run(
        run_service_worker(
            settings, lambda: bootstrap(settings), SUBSCRIPTIONS, version=__version__
        )
    )


if __name__ == "__main__":
    main()
