"""A tiny producer/consumer world for testing the messaging runtime on real servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import asyncpg_dsn, create_engine, create_sessionmaker
from common.events.base import IntegrationEvent
from common.messaging.bus import Bus
from common.messaging.consumer import EventConsumer, Handler
from common.messaging.relay import OutboxRelay
from common.messaging.tables import create_messaging_schema_sql, messaging_metadata
from common.testing import create_schema
from common.uow import UnitOfWork

test_metadata = MetaData()
# Deliberately no unique constraint: a second effect of one event would show as a second row.
effects = Table(
    "effects",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("n", Integer, nullable=False),
)
writes = Table(
    "writes",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
)


class Pinged(IntegrationEvent):
    event_type = "vn.hsdt.test.ping.sent.v1"
    subject_field = "key"
    key: str
    n: int


async def record_effect(event: Pinged, uow: UnitOfWork) -> None:
    await uow.session.execute(insert(effects).values(event_id=event.key, n=event.n))


async def prepare_database(url: str) -> None:
    await create_schema(
        url, messaging_metadata, test_metadata, extra_sql=create_messaging_schema_sql()
    )


async def emit_pings(engine_url_or_uow: UnitOfWork, numbers: Sequence[int]) -> None:
    """One business row and one event per transaction, as a request handler would."""
    uow = engine_url_or_uow
    for n in numbers:
        async with uow:
            await uow.session.execute(insert(writes).values(n=n))
            uow.emit(Pinged(key=f"k{n}", n=n))
            await uow.commit()


async def effect_counts(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(effects.c.n, func.count()).group_by(effects.c.n))).all()
    return {int(n): int(c) for n, c in rows}


@dataclass
class World:
    engine: AsyncEngine
    bus: Bus
    relay: OutboxRelay
    consumer: EventConsumer
    producer_uow: UnitOfWork


@contextlib.asynccontextmanager
async def running_world(
    *,
    database_url: str,
    amqp_url: str,
    exchange: str,
    consumer_name: str,
    handlers: Sequence[Handler] = (record_effect,),
    retry_delays: Sequence[float] = (0.05, 0.1),
    start_consumer: bool = True,
    prefetch: int = 50,
) -> AsyncIterator[World]:
    engine = create_engine(database_url, pool_size=20)
    sessionmaker = create_sessionmaker(engine)
    bus = Bus(amqp_url, exchange)
    await bus.connect()
    relay = OutboxRelay(
        engine=engine,
        listen_dsn=asyncpg_dsn(database_url),
        exchange=bus.exchange,
        poll_seconds=0.5,
        publish_timeout=5.0,
    )
    consumer = EventConsumer(
        name=consumer_name,
        subscriptions={Pinged: list(handlers)},
        uow_factory=lambda: UnitOfWork(sessionmaker, source="test"),
        exchange_name=exchange,
        retry_delays=retry_delays,
        prefetch=prefetch,
        shutdown_grace=5.0,
    )
    # Declare the consumer's queue before anything is published so nothing is unrouted.
    if start_consumer:
        await consumer.start(bus.connection)
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    try:
        yield World(engine, bus, relay, consumer, UnitOfWork(sessionmaker, source="test"))
    finally:
        stop.set()
        await relay_task
        await consumer.stop()
        await bus.close()
        await engine.dispose()
