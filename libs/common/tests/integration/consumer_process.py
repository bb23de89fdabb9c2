"""A consumer in its own process, for the test that kills one with SIGKILL mid-message.

    python -m libs.common.tests.integration.consumer_process \
        <database_url> <amqp_url> <exchange> <consumer> <stall_n> <marker>

When it handles event ``stall_n`` and ``marker`` does not exist yet, it writes its effect,
creates ``marker`` and stalls inside the open transaction, waiting to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlalchemy import insert

from common.db import create_engine, create_sessionmaker
from common.messaging.bus import Bus
from common.messaging.consumer import EventConsumer
from common.uow import UnitOfWork

from .support import Pinged, effects


async def main(
    database_url: str, amqp_url: str, exchange: str, name: str, stall_n: int, marker: Path
) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)

    async def record_or_stall(event: Pinged, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(effects).values(event_id=event.key, n=event.n))
        if event.n == stall_n and not marker.exists():
            await uow.session.flush()
            marker.write_text("stalled")
            await asyncio.sleep(3600)

    bus = Bus(amqp_url, exchange)
    await bus.connect()
    consumer = EventConsumer(
        name=name,
        subscriptions={Pinged: [record_or_stall]},
        uow_factory=lambda: UnitOfWork(sessionmaker, source="test"),
        exchange_name=exchange,
        prefetch=10,
        retry_delays=(0.05,),
    )
    await consumer.start(bus.connection)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    db, amqp, ex, name, stall, marker = sys.argv[1:7]
    asyncio.run(main(db, amqp, ex, name, int(stall), Path(marker)))
