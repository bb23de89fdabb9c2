"""Deliveries that arrive together are handled in one transaction; each keeps its own trace,
and one bad message in a batch costs the others nothing (issue #2)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import insert

from common.deadletters import list_dead_letters
from common.messaging.topology import declare_consumer_queues, declare_exchange
from common.settings import CommonSettings
from common.telemetry import setup_telemetry
from common.testing import Unique, wait_until
from common.uow import UnitOfWork

from .support import Pinged, World, effect_counts, effects, emit_pings, running_world

DELAYS = (0.05, 0.1)


async def _declare(world: World) -> None:
    """The consumer's queues, as a deployed consumer that is down for a moment has them."""
    channel = await world.bus.connection.channel()
    exchange = await declare_exchange(channel, world.bus.exchange_name)
    await declare_consumer_queues(
        channel, exchange, world.consumer.name, [Pinged.event_type], DELAYS
    )
    await channel.close()


async def _queued_then_consumed(world: World, total: int) -> None:
    """Publish ``total`` events while the consumer is not running, then start it: the broker
    delivers up to the prefetch at once, so the consumer sees them as batches."""
    await _declare(world)
    await emit_pings(world.producer_uow, range(total))
    assert await wait_until(_drained(world), timeout=20)
    await world.consumer.start(world.bus.connection)


def _drained(world: World) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(await world.relay.unsent() == 0)

    return check


async def test_batched_handlers_each_continue_their_own_trace(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    exporter = InMemorySpanExporter()
    setup_telemetry("batch-test", CommonSettings(service_name="batch-test"), span_exporter=exporter)
    tracer = trace.get_tracer("test")
    seen: dict[int, tuple[int, int]] = {}  # n -> (trace id while handling, batch size)

    async def remember(event: Pinged, uow: UnitOfWork) -> None:
        span = trace.get_current_span()
        size = getattr(span, "attributes", {}).get("messaging.batch.message_count", 1)
        seen[event.n] = (span.get_span_context().trace_id, int(size))

    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
        handlers=[remember],
        start_consumer=False,
    ) as world:
        await _declare(world)
        request_traces: dict[int, int] = {}
        for n in range(30):
            # Each write in its own "request" trace, as thirty API calls would be.
            with tracer.start_as_current_span(f"request {n}") as span:
                async with world.producer_uow as uow:
                    uow.emit(Pinged(key=f"k{n}", n=n))
                    await uow.commit()
                request_traces[n] = span.get_span_context().trace_id
        assert await wait_until(_drained(world), timeout=20)
        await world.consumer.start(world.bus.connection)

        async def all_seen() -> bool:
            return len(seen) == 30

        assert await wait_until(all_seen, timeout=20)
    assert max(size for _, size in seen.values()) > 1, "the events were never batched"
    assert {n: t for n, (t, _) in seen.items()} == request_traces
    assert len(set(request_traces.values())) == 30


async def test_one_failing_message_in_a_batch_costs_the_others_nothing(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    async def fragile(event: Pinged, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(effects).values(event_id=event.key, n=event.n))
        if event.n == 13:
            raise ValueError("thirteen")

    name, total = unique("c"), 40
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=name,
        handlers=[fragile],
        start_consumer=False,
        retry_delays=DELAYS,
    ) as world:
        await _queued_then_consumed(world, total)

        async def settled() -> bool:
            return len(await list_dead_letters(amqp_url, name)) == 1

        assert await wait_until(settled, timeout=30)
        await asyncio.sleep(0.3)
        counts = await effect_counts(world.engine)
        stats = world.consumer.stats
    # Thirteen's effect was rolled back each time; every other event applied exactly once.
    assert counts == {n: 1 for n in range(total) if n != 13}
    assert stats.dead_lettered == 1
    assert stats.handled == total - 1
