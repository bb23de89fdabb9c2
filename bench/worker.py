"""The benchmark's worker process: the outbox relay and the consumer, as a service runs them.

    python -m bench.worker <database_url> <amqp_url> [--trace-ratio R]
        [--pool-size N] [--prefetch N] [--hold]

The pool size and prefetch default to the services' settings (``CommonSettings``); the options
exist to try other values by hand.

It runs ``common.worker.run_worker`` (the relay and an ``EventConsumer`` whose handler inserts an
effect row, committed with the inbox row) and answers the parent on stdin/stdout, one JSON
object a line; answers start with ``@@`` so that a stray print cannot be mistaken for one:

- ``{"cmd": "take", "count": N, "timeout": T}``: wait until N effects have committed since the
  last ``take`` (or T seconds), answer ``{"times": [[n, t], ...]}`` where ``t`` is
  ``time.monotonic()`` when the effect's commit returned (shared with the parent on Linux);
- ``{"cmd": "spans"}``: how many spans the in-memory exporter holds (then cleared);
- ``{"cmd": "go"}``: with ``--hold``, start the relay and consumer now (answers the time);
- ``{"cmd": "stop"}``: stop gracefully and exit.

With ``--hold`` the worker answers ``ready`` without starting, so the parent can fill the outbox
first and then measure the relay and consumer draining it: the pipeline's own capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import sys
import time
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.model import CONSUMER_NAME, EXCHANGE_NAME, BenchPinged, effects
from common.db import create_engine, create_sessionmaker
from common.settings import CommonSettings
from common.uow import UnitOfWork
from common.worker import run_worker

# n -> time.monotonic() when the transaction holding its effect and inbox row committed.
_done: dict[int, float] = {}
# Set when ``_done`` holds as many as the parent waits for.
_wanted = 0
_enough = asyncio.Event()


class TimedUnitOfWork(UnitOfWork):
    """Records when the outermost commit returns for the events whose effects it holds."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, source: str) -> None:
        super().__init__(sessionmaker, source=source)
        self.handled: list[int] = []

    async def commit(self) -> None:
        outermost = self._depth == 1
        await super().commit()
        if outermost and self.handled:
            now = time.monotonic()
            for n in self.handled:
                _done[n] = now
            self.handled.clear()
            if len(_done) >= _wanted:
                _enough.set()


async def record_effect(event: BenchPinged, uow: UnitOfWork) -> None:
    """A handler as a service writes one: its own unit of work joins the consumer's."""
    async with uow:
        await uow.session.execute(insert(effects).values(event_key=event.key, n=event.n))
        if isinstance(uow, TimedUnitOfWork):
            uow.handled.append(event.n)
        await uow.commit()


def _answer(payload: dict[str, Any]) -> None:
    sys.stdout.write("@@" + json.dumps(payload, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _take(count: int, timeout: float) -> list[list[float]]:
    global _wanted  # noqa: PLW0603 — one parent, one wait at a time
    _wanted = count
    if len(_done) < count:
        _enough.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_enough.wait(), timeout)
    taken = [[n, t] for n, t in _done.items()]
    _done.clear()
    return taken


async def main(
    database_url: str,
    amqp_url: str,
    trace_ratio: float | None,
    pool_size: int | None = None,
    prefetch: int | None = None,
    hold: bool = False,
) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = CommonSettings(
        service_name=CONSUMER_NAME,
        database_url=database_url,
        amqp_url=amqp_url,
        events_exchange=EXCHANGE_NAME,
        trace_sample_ratio=trace_ratio if trace_ratio is not None else 1.0,
    )
    if pool_size is not None:
        settings.database_pool_size = pool_size
    if prefetch is not None:
        settings.consumer_prefetch = prefetch
    exporter: InMemorySpanExporter | None = None
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    if trace_ratio is not None:
        from common.telemetry import instrument_engine, setup_telemetry  # noqa: PLC0415

        exporter = InMemorySpanExporter()
        setup_telemetry(CONSUMER_NAME, settings, span_exporter=exporter)
        instrument_engine(engine)
    sessionmaker = create_sessionmaker(engine)
    stop = asyncio.Event()

    def start_worker() -> asyncio.Task[None]:
        return asyncio.create_task(
            run_worker(
                settings=settings,
                engine=engine,
                uow_factory=lambda: TimedUnitOfWork(sessionmaker, source="bench-worker"),
                subscriptions={BenchPinged: [record_effect]},
                stop=stop,
            ),
            name="bench-worker",
        )

    worker: asyncio.Task[None] | None = None if hold else start_worker()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # Let run_worker declare the queue and start the relay before the parent writes anything.
    await asyncio.sleep(0.5)
    gc.collect()
    _answer({"ready": True})
    try:
        while worker is None or not worker.done():
            line = await reader.readline()
            if not line:
                break
            request = json.loads(line)
            cmd = request["cmd"]
            if cmd == "go" and worker is None:
                started = time.monotonic()
                worker = start_worker()
                _answer({"started": started})
            elif cmd == "take":
                _answer({"times": await _take(int(request["count"]), float(request["timeout"]))})
            elif cmd == "spans":
                spans = len(exporter.get_finished_spans()) if exporter is not None else 0
                if exporter is not None:
                    exporter.clear()
                _answer({"spans": spans})
            elif cmd == "stop":
                break
    finally:
        stop.set()
        if worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(worker, 30)
        _answer({"stopped": True})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("amqp_url")
    parser.add_argument("--trace-ratio", type=float, default=None)
    parser.add_argument("--pool-size", type=int, default=None)
    parser.add_argument("--prefetch", type=int, default=None)
    parser.add_argument("--hold", action="store_true", help="start only on the 'go' command")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.database_url,
            args.amqp_url,
            args.trace_ratio,
            args.pool_size,
            args.prefetch,
            args.hold,
        )
    )
