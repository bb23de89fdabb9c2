"""Several relay replicas share one outbox without sending a row twice at once; a consumer that
shuts down finishes what it holds and returns the rest (issue #2)."""

from __future__ import annotations

import asyncio
from collections import Counter

import aio_pika
from sqlalchemy import insert

from common.db import asyncpg_dsn, create_engine, create_sessionmaker
from common.messaging.bus import Bus
from common.messaging.consumer import EventConsumer
from common.messaging.relay import OutboxRelay
from common.testing import Unique, wait_until
from common.uow import UnitOfWork

from .support import Pinged, effect_counts, effects, emit_pings, running_world


async def test_two_relays_publish_each_row_once(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    total, exchange_name = 3_000, unique("ex")
    engine = create_engine(database_url, pool_size=10)
    await emit_pings(UnitOfWork(create_sessionmaker(engine), source="test"), range(total))

    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    bus_a, bus_b = Bus(amqp_url, exchange_name), Bus(amqp_url, exchange_name)
    # A plain counting queue, no inbox: a row published twice would show as two messages.
    exchange = await bus_a.exchange()  # declares the exchange before the tap binds to it
    tap = await channel.declare_queue(
        unique("tap"), arguments={"x-queue-type": "quorum"}, durable=True
    )
    await tap.bind(exchange_name, routing_key=Pinged.event_type)

    relays = [
        OutboxRelay(
            engine=engine,
            listen_dsn=asyncpg_dsn(database_url),
            exchange=bus.exchange,
            batch_size=100,
        )
        for bus in (bus_a, bus_b)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]

    async def drained() -> bool:
        return await relays[0].unsent() == 0

    assert await wait_until(drained, timeout=60)
    stop.set()
    await asyncio.gather(*tasks)

    seen: Counter[str] = Counter()
    while (message := await tap.get(no_ack=True, fail=False)) is not None:
        seen[message.message_id or ""] += 1
    await connection.close()
    for bus in (bus_a, bus_b):
        await bus.close()
    await engine.dispose()
    assert exchange is not None
    assert len(seen) == total
    assert set(seen.values()) == {1}
    assert all(r.stats.published > 0 for r in relays), [r.stats.published for r in relays]
    assert sum(r.stats.published for r in relays) == total


async def test_consumer_shutdown_finishes_in_flight_and_returns_the_rest(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    started: list[int] = []
    finished: list[int] = []

    async def slow(event: Pinged, uow: UnitOfWork) -> None:
        started.append(event.n)
        await asyncio.sleep(0.3)
        await uow.session.execute(insert(effects).values(event_id=event.key, n=event.n))
        finished.append(event.n)

    exchange, name, total = unique("ex"), unique("c"), 30
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=exchange,
        consumer_name=name,
        handlers=[slow],
        prefetch=5,
    ) as world:
        await emit_pings(world.producer_uow, range(total))

        async def some_started() -> bool:
            return len(started) >= 3

        assert await wait_until(some_started, timeout=10)
        await world.consumer.stop()
        # Everything it began, it finished and committed before letting go.
        assert sorted(started) == sorted(finished)
        assert world.consumer.stats.in_flight == 0
        handled_before = dict(await effect_counts(world.engine))
        assert 0 < len(handled_before) < total

        successor = EventConsumer(
            name=name,
            subscriptions={Pinged: [slow]},
            uow_factory=lambda: UnitOfWork(create_sessionmaker(world.engine), source="test"),
            exchange_name=exchange,
            prefetch=50,
        )
        await successor.start(world.bus.connection)

        async def all_done() -> bool:
            return sum((await effect_counts(world.engine)).values()) >= total

        assert await wait_until(all_done, timeout=30)
        await asyncio.sleep(0.5)
        await successor.stop()
        assert await effect_counts(world.engine) == dict.fromkeys(range(total), 1)
