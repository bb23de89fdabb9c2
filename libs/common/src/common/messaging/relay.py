"""The outbox relay: publishes committed outbox rows to the bus, then marks them sent.

A batch of unsent rows is locked with ``FOR UPDATE SKIP LOCKED`` (so several replicas share the
work without sending a row twice at once), published with many confirms in flight, and marked
sent in one statement. A crash between publishing and marking sends those rows again: delivery
is at least once, and the consumers' inbox makes the effect exactly once.

It wakes on ``NOTIFY`` from the outbox trigger for low latency, and polls as a safety net for
a lost notification or a dropped LISTEN connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractExchange
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from common import metrics
from common.messaging.tables import OUTBOX_NOTIFY_CHANNEL
from common.messaging.topology import CONTENT_TYPE

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

_SELECT_BATCH = text(
    "SELECT id, event_id, event_type, body FROM outbox WHERE sent_at IS NULL "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_MARK_SENT = text("UPDATE outbox SET sent_at = now() WHERE id = ANY(:ids)")
_MARK_FAILED = text(
    "UPDATE outbox SET attempts = attempts + 1, last_error = :error WHERE id = ANY(:ids)"
)
_COUNT_UNSENT = text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
_PRUNE_OUTBOX = text("DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => :seconds)")
_PRUNE_INBOX = text("DELETE FROM inbox WHERE handled_at < now() - make_interval(secs => :seconds)")


async def prune_messaging_tables(
    engine: AsyncEngine, *, keep_sent_seconds: float, keep_inbox_seconds: float
) -> tuple[int, int]:
    """Delete sent outbox rows and old inbox rows; returns how many of each went."""
    async with engine.begin() as conn:
        outbox_rows = (await conn.execute(_PRUNE_OUTBOX, {"seconds": keep_sent_seconds})).rowcount
        inbox_rows = (await conn.execute(_PRUNE_INBOX, {"seconds": keep_inbox_seconds})).rowcount
    return int(outbox_rows or 0), int(inbox_rows or 0)


def with_sequence(body: bytes, sequence: int) -> bytes:
    """The stored CloudEvent with its ``sequence`` extension set from the outbox row id.

    The id grows with every insert, so it orders each producer's events; a producer that
    serialises changes to an aggregate (row lock) thereby orders that aggregate's events too.
    The body is a JSON object written by ``CloudEvent.to_json``, so it ends with ``}``.
    """
    return body[:-1] + b',"sequence":"%020d"}' % sequence


@dataclass
class RelayStats:
    published: int = 0
    failed: int = 0
    batches: int = 0
    wakeups: int = 0
    errors: list[str] = field(default_factory=list)


ExchangeGetter = Callable[[], Awaitable[AbstractExchange]]


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        listen_dsn: str,
        exchange: ExchangeGetter,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        publish_timeout: float = 10.0,
    ) -> None:
        self._engine = engine
        self._listen_dsn = listen_dsn
        self._exchange = exchange
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._backlog_reported_at = 0.0
        self.stats = RelayStats()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop), name="outbox-listen")
        backoff = 0.1
        try:
            while not stop.is_set():
                # Cleared before the pass, not after: a NOTIFY for a row committed after this
                # pass's SELECT must start another pass, not wait for the poll.
                self._wake.clear()
                try:
                    while await self.relay_once() >= self._batch_size and not stop.is_set():
                        pass
                    backoff = 0.1
                except Exception as exc:  # noqa: BLE001 — rows stay unsent and are retried
                    self.stats.errors.append(type(exc).__name__)
                    log.warning("outbox relay failed, retrying in %.1fs: %r", backoff, exc)
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                await self._report_backlog()
                await _wait_any(stop, self._wake, self._poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it took (sent or failed)."""
        async with self._engine.begin() as conn:
            rows = (await conn.execute(_SELECT_BATCH, {"limit": self._batch_size})).all()
            if not rows:
                return 0
            exchange = await self._exchange()
            results = await asyncio.gather(
                *(self._publish(exchange, row) for row in rows), return_exceptions=True
            )
            sent = [row.id for row, res in zip(rows, results, strict=True) if res is None]
            failed = [
                (row.id, res)
                for row, res in zip(rows, results, strict=True)
                if isinstance(res, BaseException)
            ]
            if sent:
                await conn.execute(_MARK_SENT, {"ids": sent})
            if failed:
                await conn.execute(
                    _MARK_FAILED,
                    {"ids": [i for i, _ in failed], "error": repr(failed[0][1])[:500]},
                )
        self.stats.batches += 1
        self.stats.published += len(sent)
        self.stats.failed += len(failed)
        _record_metrics(rows, set(sent))
        if failed:
            # The broker refused or vanished: the rows stay unsent and the caller backs off.
            raise RuntimeError(
                f"{len(failed)} of {len(rows)} events not confirmed: {failed[0][1]!r}"
            )
        return len(rows)

    async def _report_backlog(self) -> None:
        # At most once per poll interval: a count over the partial index of unsent rows.
        now = asyncio.get_running_loop().time()
        if now - self._backlog_reported_at >= self._poll_seconds:
            self._backlog_reported_at = now
            with contextlib.suppress(Exception):
                await self.unsent()

    async def unsent(self) -> int:
        async with self._engine.connect() as conn:
            backlog = int((await conn.execute(_COUNT_UNSENT)).scalar_one())
        metrics.outbox_backlog.set(backlog)
        return backlog

    async def _publish(self, exchange: AbstractExchange, row: Any) -> None:
        body = with_sequence(bytes(row.body), row.id)
        carrier = _trace_carrier(row.body)
        parent = propagate.extract(carrier)
        with tracer.start_as_current_span(
            f"{row.event_type} publish", context=parent, kind=SpanKind.PRODUCER
        ) as span:
            span.set_attribute("messaging.system", "rabbitmq")
            span.set_attribute("messaging.message.id", str(row.event_id))
            headers: dict[str, Any] = {}
            propagate.inject(headers)
            message = aio_pika.Message(
                body,
                content_type=CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=str(row.event_id),
                type=row.event_type,
                headers=headers,
            )
            await exchange.publish(
                message,
                routing_key=row.event_type,
                # Unroutable events go to the alternate exchange (see topology), not back to us.
                mandatory=False,
                timeout=self._publish_timeout,
            )

    async def _listen(self, stop: asyncio.Event) -> None:
        """Hold a LISTEN connection; reconnect after PostgreSQL goes away."""
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._listen_dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                await conn.add_listener(OUTBOX_NOTIFY_CHANNEL, self._on_notify)
                # Rows written while we were not listening are found by this wake-up.
                self.wake()
                while not stop.is_set() and not lost.is_set():
                    await _wait_any(stop, lost, 5.0)
                    if not lost.is_set() and not stop.is_set():
                        # A cheap query notices a half-open connection the OS has not reported.
                        await asyncio.wait_for(conn.execute("SELECT 1"), 5.0)
            except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError) as exc:
                log.info("outbox LISTEN connection lost: %r", exc)
                await _sleep_or_stop(stop, 1.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2.0)

    def _on_notify(self, *_args: object) -> None:
        self.stats.wakeups += 1
        self._wake.set()


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _connection: event.set()


def _trace_carrier(body: bytes) -> dict[str, str]:
    # Only the two trace fields are needed; a full parse of every body would cost more than
    # the publish itself on the hot path.
    carrier: dict[str, str] = {}
    for key in ("traceparent", "tracestate"):
        marker = b'"' + key.encode() + b'":"'
        start = body.find(marker)
        if start >= 0:
            start += len(marker)
            end = body.find(b'"', start)
            carrier[key] = body[start:end].decode()
    return carrier


def _record_metrics(rows: Sequence[Any], sent: set[int]) -> None:
    by_type: dict[str, int] = {}
    for row in rows:
        if row.id in sent:
            by_type[row.event_type] = by_type.get(row.event_type, 0) + 1
    for event_type, n in by_type.items():
        metrics.events_published.add(n, {"event_type": event_type})


async def _wait_any(stop: asyncio.Event, other: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
