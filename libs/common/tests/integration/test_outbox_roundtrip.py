"""The outbox, relay and consumer on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common.events.base import CloudEvent
from common.messaging.relay import prune_messaging_tables
from common.testing import Unique, wait_until
from common.uow import UnitOfWork

from .support import Pinged, effect_counts, emit_pings, running_world


async def test_emitted_events_reach_the_consumer_once(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
    ) as world:
        await emit_pings(world.producer_uow, range(50))
        assert await wait_until(lambda: _all_effects(world.engine, 50), timeout=10)
        counts = await effect_counts(world.engine)
        assert counts == dict.fromkeys(range(50), 1)
        assert await world.relay.unsent() == 0


async def test_rolled_back_transaction_emits_nothing(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
    ) as world:
        uow = world.producer_uow
        async with uow:
            uow.emit(Pinged(key="lost", n=999))
            await uow.rollback()
        await emit_pings(uow, [1])
        assert await wait_until(lambda: _all_effects(world.engine, 1), timeout=10)
        await asyncio.sleep(0.3)
        assert await effect_counts(world.engine) == {1: 1}
        async with world.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 1


async def test_sequence_and_trace_fields_reach_the_consumer(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    seen = []

    async def remember(event: Pinged, uow: UnitOfWork, envelope: CloudEvent) -> None:
        seen.append(envelope)

    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
        handlers=[remember],
    ) as world:
        await emit_pings(world.producer_uow, [1, 2, 3])
        assert await wait_until(lambda: _len_at_least(seen, 3), timeout=10)
    sequences = sorted(e.sequence or "" for e in seen)
    assert len(set(sequences)) == 3
    assert all(len(s) == 20 and s.isdigit() for s in sequences)
    assert {e.source for e in seen} == {"test"}


async def _all_effects(engine: AsyncEngine, n: int) -> bool:
    return sum((await effect_counts(engine)).values()) >= n


async def _len_at_least(items: Sequence[object], n: int) -> bool:
    return len(items) >= n


async def test_pruning_keeps_unsent_and_recent_rows(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
    ) as world:
        await emit_pings(world.producer_uow, range(5))
        assert await wait_until(lambda: _all_effects(world.engine, 5), timeout=10)
    async with world.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE outbox SET sent_at = now() - interval '8 days' "
                "WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 2)"
            )
        )
        await conn.execute(
            text(
                "UPDATE outbox SET sent_at = NULL, created_at = now() - interval '30 days' "
                "WHERE id = (SELECT max(id) FROM outbox)"
            )
        )
        await conn.execute(
            text(
                "UPDATE inbox SET handled_at = now() - interval '91 days' "
                "WHERE event_id IN (SELECT event_id FROM inbox LIMIT 1)"
            )
        )
    pruned = await prune_messaging_tables(
        world.engine, keep_sent_seconds=7 * 86400, keep_inbox_seconds=90 * 86400
    )
    assert pruned == (2, 1)
    async with world.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 3
        assert (
            await conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
        ).scalar_one() == 1
        assert (await conn.execute(text("SELECT count(*) FROM inbox"))).scalar_one() == 4
