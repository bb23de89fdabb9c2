"""Names and declarations on RabbitMQ, in one place so producers, consumers and the operator
command agree on them.

One durable topic exchange carries every event, routed by its type. Each consumer has its own
durable quorum queue bound by the types it handles, a delay queue per retry step whose expired
messages go back to the consumer's queue, and a dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

ATTEMPT_HEADER = "x-hsdt-attempt"
ERROR_HEADER = "x-hsdt-error"
ERROR_TYPE_HEADER = "x-hsdt-error-type"
FAILED_AT_HEADER = "x-hsdt-failed-at"
CONSUMER_HEADER = "x-hsdt-consumer"
CONTENT_TYPE = "application/cloudevents+json"


def retry_queue_name(consumer: str, delay_seconds: float) -> str:
    """Named by its delay: queue arguments cannot change, so a new retry schedule declares new
    queues instead of failing on the old ones (which still empty into the consumer's queue)."""
    return f"{consumer}.retry.{_delay_ms(delay_seconds)}ms"


def _delay_ms(delay_seconds: float) -> int:
    return max(1, round(delay_seconds * 1000))


def dead_letter_queue_name(consumer: str) -> str:
    return f"{consumer}.dead"


def unrouted_name(exchange: str) -> str:
    return f"{exchange}.unrouted"


async def declare_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The events exchange; what no consumer is bound to yet is kept, not dropped.

    An event published before any service subscribes to its type lands in a bounded
    ``<exchange>.unrouted`` queue through an alternate exchange, where an operator can see it.
    """
    unrouted = await channel.declare_exchange(
        unrouted_name(name), aio_pika.ExchangeType.FANOUT, durable=True
    )
    queue = await channel.declare_queue(
        unrouted_name(name),
        durable=True,
        arguments={"x-max-length": 100_000, "x-overflow": "drop-head"},
    )
    await queue.bind(unrouted)
    return await channel.declare_exchange(
        name,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": unrouted_name(name)},
    )


async def declare_consumer_queues(
    channel: AbstractChannel,
    exchange: AbstractExchange,
    consumer: str,
    event_types: Iterable[str],
    retry_delays: Sequence[float],
) -> AbstractQueue:
    queue = await channel.declare_queue(
        consumer, durable=True, arguments={"x-queue-type": "quorum"}
    )
    for event_type in sorted(set(event_types)):
        await queue.bind(exchange, routing_key=event_type)
    for delay in sorted(set(retry_delays)):
        # Classic queues: every message in one of these waits the same time, so the head
        # always expires first and per-queue TTL gives exact back-off without a plugin.
        await channel.declare_queue(
            retry_queue_name(consumer, delay),
            durable=True,
            arguments={
                "x-message-ttl": _delay_ms(delay),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": consumer,
            },
        )
    await declare_dead_letter_queue(channel, consumer)
    return queue


async def declare_dead_letter_queue(channel: AbstractChannel, consumer: str) -> AbstractQueue:
    return await channel.declare_queue(
        dead_letter_queue_name(consumer), durable=True, arguments={"x-queue-type": "quorum"}
    )


async def forward(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    queue: str,
    headers: dict[str, Any],
) -> None:
    """Publish a copy of ``message`` straight to ``queue`` with new headers, confirmed.

    The caller acknowledges the original only after this returns, so a crash in between
    leaves a duplicate, never a loss.
    """
    await channel.default_exchange.publish(
        aio_pika.Message(
            message.body,
            headers=headers,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            type=message.type,
        ),
        routing_key=queue,
    )
