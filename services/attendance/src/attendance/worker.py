"""The attendance service's worker: its outbox relay and consumers.

Run with ``python -m attendance.worker``.
"""

from __future__ import annotations

import asyncio

from attendance import __version__
from attendance.bootstrap import bootstrap
from attendance.consumers import SUBSCRIPTIONS
from attendance.settings import AttendanceSettings
from common.worker import run_service_worker


def main() -> None:
    settings = AttendanceSettings()
    asyncio.run(
        run_service_worker(
            settings, lambda: bootstrap(settings), SUBSCRIPTIONS, version=__version__
        )
    )


if __name__ == "__main__":
    main()
