"""A service's worker process: relay, consumer and its own Prometheus metrics (issue #2)."""

from __future__ import annotations

import asyncio
import socket

import httpx

from common.db import create_engine, create_sessionmaker
from common.settings import CommonSettings
from common.telemetry import setup_telemetry
from common.testing import Unique, wait_until
from common.uow import UnitOfWork
from common.worker import run_worker

from .support import Pinged, effect_counts, emit_pings, record_effect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_worker_relays_consumes_and_serves_its_metrics(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    port = _free_port()
    settings = CommonSettings(
        service_name=unique("svc"),
        database_url=database_url,
        amqp_url=amqp_url,
        events_exchange=unique("ex"),
        metrics_port=port,
        consumer_retry_delays=[0.05],
    )
    setup_telemetry(settings.service_name, settings)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(
            settings=settings,
            engine=engine,
            uow_factory=lambda: UnitOfWork(sessionmaker, source="test"),
            subscriptions={Pinged: [record_effect]},
            stop=stop,
        )
    )
    try:
        async with httpx.AsyncClient() as client:

            async def serving() -> bool:
                try:
                    return (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200
                except httpx.TransportError:
                    return False

            assert await wait_until(serving, timeout=10)
            probe_engine = create_engine(database_url)
            await emit_pings(UnitOfWork(create_sessionmaker(probe_engine), source="test"), range(5))

            async def applied() -> bool:
                return sum((await effect_counts(probe_engine)).values()) == 5

            assert await wait_until(applied, timeout=10)
            await probe_engine.dispose()
            text = (await client.get(f"http://127.0.0.1:{port}/")).text
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    published = [line for line in text.splitlines() if line.startswith("hsdt_events_published")]
    assert any(Pinged.event_type in line for line in published), published
    assert "hsdt_events_consumed" in text
    assert "hsdt_outbox_backlog" in text
