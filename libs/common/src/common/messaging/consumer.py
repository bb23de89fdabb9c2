"""The consumer runtime: every service consumes events the same way.

Each consumer has its own durable quorum queue, bound by the event types it subscribes to, with
manual acks and a bounded prefetch. A message is handled in one transaction that first claims
its inbox row, so a redelivered event has no second effect. A failure is retried after the
delays in ``retry_delays``; after the last, the message goes to the dead-letter queue with its
error. Shutdown stops taking messages, lets the in-flight ones finish within a grace period,
and returns the rest to the queue by closing the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import ValidationError

from common import metrics
from common.db import is_transient
from common.events.base import CloudEvent, IntegrationEvent
from common.messaging.topology import (
    ATTEMPT_HEADER,
    CONSUMER_HEADER,
    ERROR_HEADER,
    ERROR_TYPE_HEADER,
    FAILED_AT_HEADER,
    dead_letter_queue_name,
    declare_consumer_queues,
    declare_exchange,
    forward,
    retry_queue_name,
)
from common.uow import UnitOfWork

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

Handler = Callable[..., Awaitable[None]]
Subscriptions = Mapping[type[IntegrationEvent], Sequence[Handler]]


class PoisonMessage(Exception):  # noqa: N818 — a domain name, not an error category
    """The message can never be handled (malformed, unknown contract): no retry helps."""


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0
    in_flight: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Route:
    event_class: type[IntegrationEvent]
    handlers: tuple[tuple[Handler, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Parsed:
    message: AbstractIncomingMessage
    envelope: CloudEvent
    route: _Route | None
    event: IntegrationEvent | None


class _NotBatchable(Exception):  # noqa: N818 — a signal to take the one-by-one path
    pass


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        subscriptions: Subscriptions,
        uow_factory: Callable[[], UnitOfWork],
        exchange_name: str,
        prefetch: int = 50,
        retry_delays: Sequence[float] = (1.0, 10.0, 60.0),
        deps: Mapping[str, object] | None = None,
        shutdown_grace: float = 20.0,
    ) -> None:
        self.name = name
        self._uow_factory = uow_factory
        self._exchange_name = exchange_name
        self._prefetch = prefetch
        if not retry_delays:
            raise ValueError("a consumer needs at least one retry delay")
        self._retry_delays = tuple(retry_delays)
        self._deps = dict(deps or {})
        self._shutdown_grace = shutdown_grace
        self._routes = {
            cls.event_type: _Route(cls, tuple((h, _dependency_names(h)) for h in handlers))
            for cls, handlers in subscriptions.items()
        }
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._closing = False
        # Deliveries waiting for the running batch; one batch (one transaction) at a time.
        self._waiting: list[AbstractIncomingMessage] = []
        self._draining = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats = ConsumerStats()

    @property
    def max_attempts(self) -> int:
        return len(self._retry_delays) + 1

    async def start(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await declare_exchange(channel, self._exchange_name)
        queue = await declare_consumer_queues(
            channel, exchange, self.name, self._routes.keys(), self._retry_delays
        )
        self._channel, self._queue = channel, queue
        # queue.consume with a callback (not queue.iterator) so that the aio-pika
        # instrumentation's consumer span continues the producer's trace (FACTS.md).
        self._consumer_tag = await queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        """Stop taking messages, finish in-flight ones, return unstarted ones to the queue."""
        self._closing = True
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._consumer_tag)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self._shutdown_grace)
        if self._channel is not None and not self._channel.is_closed:
            # Unacked messages return to the queue when the channel closes.
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._closing:
            await _settle(message.nack(requeue=True))
            return
        self.stats.in_flight += 1
        self._idle.clear()
        self._waiting.append(message)
        if self._draining:
            return  # the running drain loop takes it with its next batch
        self._draining = True
        try:
            # Deliveries read from the socket together with this one join its batch.
            await asyncio.sleep(0)
            while self._waiting:
                batch = self._waiting[: self._prefetch]
                del self._waiting[: self._prefetch]
                try:
                    await self._process_batch(batch)
                finally:
                    self.stats.in_flight -= len(batch)
        finally:
            self._draining = False
            if self.stats.in_flight == 0:
                self._idle.set()

    async def _process_batch(self, batch: list[AbstractIncomingMessage]) -> None:
        """Handle the messages delivered together in one transaction, else one by one.

        One transaction per message costs a connection checkout, BEGIN and COMMIT each, which
        bounded the consumer to a few hundred events a second. Any failure in the batch (a
        poison message, a handler error, an outage) rolls it back whole, and the one-by-one
        path then decides each message's retry or dead letter exactly as before.
        """
        if len(batch) > 1:
            try:
                await self._handle_together(batch)
            except Exception as exc:  # noqa: BLE001 — one by one decides retry or dead letter
                log.info("batch of %d in %s failed (%r); one by one", len(batch), self.name, exc)
            else:
                return
        for message in batch:
            await self._process(message)

    async def _handle_together(self, batch: list[AbstractIncomingMessage]) -> None:
        started = time.perf_counter()
        parsed = [self._parse(message) for message in batch]
        outcomes: list[str] = []
        async with self._uow_factory() as uow:
            claimed = await uow.claim_inbox_many(
                self.name, [(p.envelope.id, p.envelope.type) for p in parsed]
            )
            for p in parsed:
                if p.envelope.id not in claimed:
                    outcomes.append("duplicate")
                    continue
                claimed.discard(p.envelope.id)  # the same event twice in one batch: once
                if p.route is None or p.event is None:
                    raise _NotBatchable("a message without a handler")
                with self._span(p.message, batch_size=len(batch)):
                    await self._run_handlers(p.route, p.event, p.envelope, uow)
                outcomes.append("handled")
            await uow.commit()
        seconds = (time.perf_counter() - started) / len(batch)
        for p, outcome in zip(parsed, outcomes, strict=True):
            await _settle(p.message.ack())
            _record_consumed(self.name, p.envelope.type, outcome, seconds)
        self.stats.handled += outcomes.count("handled")
        self.stats.duplicates += outcomes.count("duplicate")

    async def _process(self, message: AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        attempt = int(str(headers.get(ATTEMPT_HEADER, 1)))
        started = time.perf_counter()
        with self._span(message) as span:
            try:
                outcome = await self._handle(message)
            except Exception as exc:  # noqa: BLE001 — every failure is retried or dead-lettered
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                await self._fail(message, headers, attempt, exc)
                outcome = "failed"
            else:
                await _settle(message.ack())
            span.set_attribute("hsdt.outcome", outcome)
        _record_consumed(self.name, message.type or "", outcome, time.perf_counter() - started)

    async def _handle(self, message: AbstractIncomingMessage) -> str:
        parsed = self._parse(message)
        if parsed.route is None or parsed.event is None:
            # Bound by an older version of this consumer; nothing here handles it any more.
            log.warning("no handler for %s in %s; acknowledged", parsed.envelope.type, self.name)
            return "ignored"
        async with self._uow_factory() as uow:
            if not await uow.claim_inbox(self.name, parsed.envelope.id, parsed.envelope.type):
                self.stats.duplicates += 1
                return "duplicate"
            await self._run_handlers(parsed.route, parsed.event, parsed.envelope, uow)
            await uow.commit()
        self.stats.handled += 1
        return "handled"

    def _parse(self, message: AbstractIncomingMessage) -> _Parsed:
        try:
            envelope = CloudEvent.from_json(message.body)
        except ValidationError as exc:
            raise PoisonMessage(f"not a CloudEvent: {exc.error_count()} errors") from exc
        route = self._routes.get(envelope.type)
        if route is None:
            return _Parsed(message, envelope, None, None)
        try:
            event = route.event_class.model_validate(envelope.data)
        except ValidationError as exc:
            raise PoisonMessage(
                f"{envelope.type} data does not match its contract: {exc.error_count()} errors"
            ) from exc
        return _Parsed(message, envelope, route, event)

    async def _run_handlers(
        self, route: _Route, event: IntegrationEvent, envelope: CloudEvent, uow: UnitOfWork
    ) -> None:
        lag = (datetime.now(UTC) - envelope.time).total_seconds()
        metrics.event_lag.record(max(lag, 0.0), {"event_type": envelope.type, "queue": self.name})
        available = {"uow": uow, "envelope": envelope, **self._deps}
        for handler, names in route.handlers:
            await handler(event, **{n: available[n] for n in names})

    def _span(
        self, message: AbstractIncomingMessage, *, batch_size: int = 1
    ) -> AbstractContextManager[Span]:
        """A consumer span continuing the trace that produced ``message``.

        The parent comes from the message's own headers, never from the current span: the
        drain loop runs in the task of whichever delivery started it.
        """
        headers = {k: str(v) for k, v in (message.headers or {}).items()}
        return tracer.start_as_current_span(
            f"{message.type or 'event'} process",
            context=propagate.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.consumer.group.name": self.name,
                "messaging.message.id": message.message_id or "",
                "messaging.batch.message_count": batch_size,
                "hsdt.attempt": int(str(headers.get(ATTEMPT_HEADER, 1))),
            },
        )

    async def _fail(
        self,
        message: AbstractIncomingMessage,
        headers: dict[str, Any],
        attempt: int,
        exc: Exception,
    ) -> None:
        self.stats.errors.append(type(exc).__name__)
        channel = self._channel
        if channel is None or channel.is_closed:
            # Cannot move it anywhere now; it is redelivered when the channel comes back.
            return
        poison = isinstance(exc, PoisonMessage)
        transient = not poison and is_transient(exc)
        headers = {**headers, ATTEMPT_HEADER: attempt if transient else attempt + 1}
        if transient:
            target = retry_queue_name(self.name, self._retry_delays[0])
            self.stats.retried += 1
            log.warning(
                "event %s waits for infrastructure in %s: %r", message.message_id, self.name, exc
            )
        elif poison or attempt >= self.max_attempts:
            target = dead_letter_queue_name(self.name)
            headers |= {
                ERROR_HEADER: f"{type(exc).__name__}: {exc}"[:1000],
                ERROR_TYPE_HEADER: type(exc).__name__,
                FAILED_AT_HEADER: datetime.now(UTC).isoformat(),
                CONSUMER_HEADER: self.name,
            }
            self.stats.dead_lettered += 1
            metrics.dead_letters.add(1, {"event_type": message.type or "", "queue": self.name})
            log.error(
                "event %s dead-lettered by %s after %d attempts: %s",
                message.message_id,
                self.name,
                attempt,
                type(exc).__name__,
            )
        else:
            target = retry_queue_name(self.name, self._retry_delays[attempt - 1])
            self.stats.retried += 1
            log.warning(
                "event %s failed in %s (attempt %d), retrying: %r",
                message.message_id,
                self.name,
                attempt,
                exc,
            )
        try:
            await forward(channel, message, target, headers)
        except Exception as publish_exc:  # noqa: BLE001 — left unacked, so redelivered
            # Not moved: leave it unacked so the broker redelivers it; nothing is lost.
            log.warning(
                "could not move event %s to %s: %r", message.message_id, target, publish_exc
            )
            await _settle(message.nack(requeue=True))
            return
        await _settle(message.ack())


def _dependency_names(handler: Handler) -> tuple[str, ...]:
    """Names of the handler's parameters after the event, injected by name (uow, deps…)."""
    params = list(inspect.signature(handler).parameters.values())
    return tuple(p.name for p in params[1:])


async def _settle(operation: Awaitable[None]) -> None:
    # The channel may have died with the broker; the message is then redelivered, and the
    # inbox turns the redelivery into a no-op.
    with contextlib.suppress(Exception):
        await operation


def _record_consumed(consumer: str, event_type: str, outcome: str, seconds: float) -> None:
    attributes = {"event_type": event_type, "queue": consumer, "outcome": outcome}
    metrics.events_consumed.add(1, attributes)
    metrics.consumer_duration.record(seconds, attributes)
