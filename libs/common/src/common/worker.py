"""The worker process of a service: its outbox relay and its consumer, until a signal stops it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from prometheus_client import start_http_server
from sqlalchemy.ext.asyncio import AsyncEngine

from common.bootstrap import Deps
from common.db import asyncpg_dsn
from common.logs import configure_logging
from common.messaging.bus import Bus
from common.messaging.consumer import EventConsumer, Subscriptions
from common.messaging.relay import OutboxRelay, prune_messaging_tables
from common.settings import CommonSettings
from common.telemetry import setup_telemetry
from common.uow import UnitOfWork

log = logging.getLogger(__name__)


async def run_service_worker(
    settings: CommonSettings,
    bootstrap: Callable[[], Deps],
    subscriptions: Subscriptions,
    *,
    version: str,
    scheduled: Sequence[Callable[[Deps, asyncio.Event], Coroutine[Any, Any, None]]] = (),
) -> None:
    """The body of every service's ``worker.py``: logging, telemetry, deps, then the worker.

    ``scheduled`` are the service's periodic jobs (a deadline sweep): each runs until the stop
    event is set and elects its own leader, since every replica of the worker runs them."""
    configure_logging(settings.service_name, settings.log_level)
    setup_telemetry(settings.service_name, settings, service_version=version)
    deps = bootstrap()
    try:
        await run_worker(
            settings=settings,
            engine=deps.engine,
            uow_factory=deps.uow_factory,
            subscriptions=subscriptions,
            scheduled=[functools.partial(job, deps) for job in scheduled],
        )
    finally:
        await deps.aclose()


async def run_worker(
    *,
    settings: CommonSettings,
    engine: AsyncEngine,
    uow_factory: Callable[[], UnitOfWork],
    subscriptions: Subscriptions,
    deps: Mapping[str, object] | None = None,
    stop: asyncio.Event | None = None,
    scheduled: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = (),
) -> None:
    """Relay this service's outbox and handle the events it subscribes to.

    SIGTERM or SIGINT ends it gracefully: the consumer finishes or returns what it holds, the
    relay finishes its batch. Several replicas may run at once.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Two connections: RabbitMQ's flow control throttles a connection that publishes fast,
    # and the consumer's deliveries and acks must not wait behind the relay's publishing.
    bus = Bus(settings.amqp_url, settings.events_exchange)
    consumer_bus = Bus(settings.amqp_url, settings.events_exchange)
    await bus.connect()
    relay = OutboxRelay(
        engine=engine,
        listen_dsn=asyncpg_dsn(settings.database_url),
        exchange=bus.exchange,
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
    )
    consumer: EventConsumer | None = None
    if subscriptions:
        consumer = EventConsumer(
            name=settings.service_name,
            subscriptions=subscriptions,
            uow_factory=uow_factory,
            exchange_name=settings.events_exchange,
            prefetch=settings.consumer_prefetch,
            retry_delays=settings.consumer_retry_delays,
            deps=deps,
            shutdown_grace=settings.shutdown_grace_seconds,
        )
        await consumer.start(await consumer_bus.connect())
    if settings.metrics_port:
        # prometheus_client's registry is the one the OTel Prometheus reader fills.
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("worker of %s started", settings.service_name)
    relay_task = asyncio.create_task(relay.run(stop), name="outbox-relay")
    prune_task = asyncio.create_task(_prune_periodically(engine, settings, stop), name="prune")
    jobs = [
        asyncio.create_task(job(stop), name=f"scheduled-{i}") for i, job in enumerate(scheduled)
    ]
    try:
        await stop.wait()
    finally:
        prune_task.cancel()
        # Jobs watch the stop event themselves and finish the pass they are in.
        await asyncio.gather(*jobs, return_exceptions=True)
        log.info("worker of %s stopping", settings.service_name)
        if consumer is not None:
            await consumer.stop()
        await relay_task
        await bus.close()
        await consumer_bus.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await engine.dispose()


async def _prune_periodically(
    engine: AsyncEngine, settings: CommonSettings, stop: asyncio.Event
) -> None:
    day = 86_400.0
    while not stop.is_set():
        try:
            sent, handled = await prune_messaging_tables(
                engine,
                keep_sent_seconds=settings.outbox_keep_sent_days * day,
                keep_inbox_seconds=settings.inbox_keep_days * day,
            )
            if sent or handled:
                log.info("pruned %d sent outbox rows and %d inbox rows", sent, handled)
        except Exception as exc:  # noqa: BLE001 — pruning waits for the next round
            log.warning("pruning failed: %r", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.prune_every_seconds)
