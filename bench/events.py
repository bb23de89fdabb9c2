"""End-to-end event pipeline benchmark, against bare aio-pika and bare asyncpg in the same run.

    uv run python -m bench.events [--events N] [--quick]

Figures (each the median of three runs, after a warm-up; ``--quick`` runs each once, smaller):

(a) bare aio-pika on a quorum queue, persistent messages of our events' size: confirmed publishing
    with many in flight and awaited one by one, consuming with manual acks at prefetch 50, both at
    once (end to end), and publish→consume latency with publishes paced at 500 msg/s;
(b) bare asyncpg: one business row and one outbox row per transaction, on 1 and 16 connections
    (and on 16 with the outbox's NOTIFY trigger, to show what the trigger costs);
(c) ours, throughput: 16 concurrent writers commit ``UnitOfWork`` transactions that emit an
    event; the relay and the consumer run in a separate process (``bench.worker``, through
    ``common.worker.run_worker`` as a service's worker does); events/s from the first writer
    commit to the last consumer effect committed with its inbox row;
(d) ours, latency: writers paced at 500 events/s; from the writer's commit returning to the
    consumer's effect commit returning (``time.monotonic()``: CLOCK_MONOTONIC is system-wide on
    Linux, so both processes read the same clock);
(e) (c) and (d) with telemetry off, then on at the production sampling (parent-based ratio 0.1,
    spans kept by an in-memory exporter), in both processes.

Beside each figure it records where the CPU went, per event: the writer process, the worker
process, the PostgreSQL backends of the benchmark's database and the RabbitMQ node (which other
users of the server share), and how many of the machine's cores were busy.

The table goes to stdout and everything to ``bench/results/events.json`` (git-ignored). The
database and the vhost it creates (``hsdt_bench_*``, ``hsdt-bench-*``) are dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import asyncpg
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.model import (
    BARE_TABLES_SQL,
    CONSUMER_NAME,
    EXCHANGE_NAME,
    BenchPinged,
    bench_metadata,
    writes,
)
from common.db import asyncpg_dsn, create_engine, create_sessionmaker
from common.events.base import CloudEvent
from common.messaging.tables import create_messaging_schema_sql, messaging_metadata
from common.messaging.topology import declare_consumer_queues, declare_exchange
from common.testing import create_schema
from common.uow import UnitOfWork

PG_HOST = os.environ.get("HSDT_BENCH_PG_HOST", "127.0.0.1:5432")
AMQP_HOST = os.environ.get("HSDT_BENCH_AMQP_HOST", "127.0.0.1:5672")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}/postgres"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "events.json"

GOAL_THROUGHPUT = 1500.0  # events/s end to end, sustained
GOAL_P99_MS = 50.0  # commit → effect at 500 events/s
LATENCY_RATE = 500.0
# A rate below the pipeline's saturation here, to show its latency when it keeps up.
LOW_RATE = 100.0
BATCHED_PER_TX = 10
TRACE_RATIO = 0.1
WRITERS = 16
PREFETCH = 50
IN_FLIGHT = 500
PG_CONNECTIONS = 16
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sizes:
    reps: int
    # Events per throughput run of ours; None: as many as the writers commit in about
    # ``throughput_seconds``, judged from the warm-up (every run then writes that many).
    events: int | None
    throughput_seconds: float
    min_events: int
    warmup_events: int
    batched_events: int
    # Events the relay and consumer drain from a filled outbox (the pipeline's own capacity).
    capacity_events: int
    latency_seconds: float
    low_rate_seconds: float
    pika_latency_seconds: float
    pika_in_flight: int
    pika_one_by_one: int
    pika_end_to_end: int
    pg_one: int
    pg_many: int
    pg_notify: int
    # The diagnostic figures (ten events per transaction, latency at a low rate).
    diagnostics: bool = True

    @classmethod
    def full(cls, events: int | None) -> Sizes:
        return cls(
            reps=3,
            events=events,
            throughput_seconds=4.0,
            min_events=1_000,
            warmup_events=500,
            batched_events=2_000,
            capacity_events=6_000,
            latency_seconds=5.0,
            low_rate_seconds=3.0,
            pika_latency_seconds=3.0,
            pika_in_flight=8_000,
            pika_one_by_one=1_500,
            pika_end_to_end=6_000,
            pg_one=2_000,
            pg_many=8_000,
            pg_notify=4_000,
        )

    @classmethod
    def quick(cls, events: int | None) -> Sizes:
        return cls(
            reps=1,
            events=events,
            throughput_seconds=2.0,
            min_events=500,
            warmup_events=300,
            batched_events=1_000,
            capacity_events=3_000,
            latency_seconds=1.5,
            low_rate_seconds=1.5,
            pika_latency_seconds=1.0,
            pika_in_flight=2_000,
            pika_one_by_one=300,
            pika_end_to_end=2_000,
            pg_one=600,
            pg_many=2_400,
            pg_notify=1_600,
            diagnostics=False,
        )


# ---------------------------------------------------------------------------------------------
# Figures


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    runs: list[float] = field(default_factory=list)
    extra: list[dict[str, float]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    def extra_median(self, name: str) -> float:
        values = [e[name] for e in self.extra if name in e]
        return statistics.median(values) if values else float("nan")


class Results:
    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}

    def add(self, key: str, label: str, unit: str, value: float, **extra: float) -> None:
        fig = self.figures.setdefault(key, Figure(key, label, unit))
        fig.runs.append(value)
        fig.extra.append(extra)
        detail = " ".join(f"{k}={v:.4g}" for k, v in extra.items())
        print(f"  {label}: {value:,.1f} {unit} {detail}", file=sys.stderr, flush=True)

    def median(self, key: str) -> float:
        fig = self.figures.get(key)
        return fig.median if fig else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies_s]
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
    }


# ---------------------------------------------------------------------------------------------
# Where the CPU goes


def _machine_ticks() -> tuple[float, float]:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return (0.0, 0.0)
    values = [float(x) for x in fields]
    return (sum(values), values[3] + values[4])  # all, idle + iowait


def _stat_fields(stat: Path) -> tuple[str, list[str]] | None:
    try:
        text = stat.read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    return name, text[text.rindex(")") + 1 :].split()


def process_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 once it is gone)."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return int(fields[1][11]) + int(fields[1][12]) if fields else 0


def server_ticks(name: str) -> int:
    """CPU ticks of every process called ``name``, with the children they reaped.

    A backend that exits during a run is counted through its parent's cutime/cstime, so
    connections opened and closed while measuring are not lost.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields is not None and fields[0] == name:
            total += sum(int(x) for x in fields[1][11:15])
    return total


Ticks = Callable[[], int]


def pid_ticks(pid: int) -> Ticks:
    return lambda: process_ticks(pid)


SERVERS_CPU: dict[str, Ticks] = {
    # The whole servers: other users of them (tests running beside) are counted too.
    "postgres": lambda: server_ticks("postgres"),
    "rabbitmq": lambda: server_ticks("beam.smp"),
}


class CpuMeter:
    """CPU spent by groups of processes, and the machine's busy cores, between start and done."""

    def __init__(self, groups: dict[str, Ticks]) -> None:
        self._groups = groups
        self._before = {name: ticks() for name, ticks in groups.items()}
        self._machine = _machine_ticks()
        self._wall = time.monotonic()

    def done(self, per: int) -> dict[str, float]:
        """Microseconds of CPU per item (``per`` items) for each group, and ``cores_busy``."""
        out = {
            f"{name}_cpu_us": (ticks() - self._before[name]) / CLOCK_TICKS / per * 1e6
            for name, ticks in self._groups.items()
        }
        total, idle = _machine_ticks()
        spent = total - self._machine[0]
        busy = 1 - (idle - self._machine[1]) / spent if spent > 0 else float("nan")
        out["cores_busy"] = busy * (os.cpu_count() or 1)
        out["wall_s"] = time.monotonic() - self._wall
        return out


async def sessions_opened(dsn: str, database: str) -> int:
    """Sessions ever opened on ``database`` (PostgreSQL 14+), to see connection churn."""
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = $1", database
        )
    finally:
        await conn.close()
    return int(value or 0)


# ---------------------------------------------------------------------------------------------
# The isolated servers of this run


def rabbitmqctl(*args: str) -> str:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


@dataclass
class Servers:
    database_url: str
    dsn: str
    amqp_url: str
    database: str
    vhost: str


@contextlib.asynccontextmanager
async def isolated_servers(run_id: str) -> AsyncIterator[Servers]:
    database = f"hsdt_bench_{run_id}"
    vhost = f"hsdt-bench-{run_id}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    try:
        await asyncio.to_thread(rabbitmqctl, "add_vhost", vhost)
        await asyncio.to_thread(
            rabbitmqctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"
        )
        url = f"postgresql+asyncpg://postgres@{PG_HOST}/{database}"
        yield Servers(
            database_url=url,
            dsn=asyncpg_dsn(url),
            amqp_url=f"amqp://guest:guest@{AMQP_HOST}/{quote(vhost, safe='')}",
            database=database,
            vhost=vhost,
        )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(rabbitmqctl, "delete_vhost", vhost)
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


async def prepare(servers: Servers) -> str:
    """Create the schema and the consumer's queues; returns RabbitMQ's version."""
    await create_schema(
        servers.database_url,
        messaging_metadata,
        bench_metadata,
        extra_sql=create_messaging_schema_sql(),
    )
    conn = await asyncpg.connect(servers.dsn)
    try:
        for sql in BARE_TABLES_SQL:
            await conn.execute(sql)
        # The same shape again with the outbox's NOTIFY trigger, to price the trigger alone.
        await conn.execute("CREATE TABLE bare_outbox_notify (LIKE bare_outbox INCLUDING ALL)")
        await conn.execute(
            "CREATE TRIGGER bare_outbox_notify AFTER INSERT ON bare_outbox_notify "
            "FOR EACH STATEMENT EXECUTE FUNCTION hsdt_outbox_notify()"
        )
    finally:
        await conn.close()
    # Declare the consumer's queues before the worker starts, so nothing published is unrouted.
    connection = await aio_pika.connect_robust(servers.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_exchange(channel, EXCHANGE_NAME)
        await declare_consumer_queues(
            channel, exchange, CONSUMER_NAME, [BenchPinged.event_type], (1.0, 10.0, 60.0)
        )
        underlay = connection.transport
        return str(underlay.connection.server_properties.get("version", "?")) if underlay else "?"
    finally:
        await connection.close()


def sample_event(n: int) -> BenchPinged:
    return BenchPinged(
        key=f"k{n}",
        n=n,
        school_id="79-0123-4567",
        note="Học sinh đã nộp bảng điểm học kỳ I; giáo viên chủ nhiệm xác nhận.",
    )


def sample_body() -> bytes:
    """A stored outbox body of the benchmark's event, traceparent included, as the relay sends."""
    envelope = CloudEvent.wrap(
        sample_event(1),
        source="bench",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    return envelope.to_json()


async def paced(rate: float, count: int, fire: Callable[[int], None]) -> None:
    """Call ``fire(i)`` ``count`` times at ``rate`` per second (open loop: no waiting for work)."""
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        fire(i)


# ---------------------------------------------------------------------------------------------
# (a) bare aio-pika


class BarePika:
    def __init__(self, amqp_url: str, body: bytes) -> None:
        self._url = amqp_url
        self._body = body
        self.queue_name = f"bench.bare.{uuid.uuid4().hex[:8]}"
        self._connections: list[aio_pika.abc.AbstractRobustConnection] = []

    async def __aenter__(self) -> BarePika:
        # Two connections, as two services would have: the publisher's and the consumer's.
        pub = await aio_pika.connect_robust(self._url)
        sub = await aio_pika.connect_robust(self._url)
        self._connections = [pub, sub]
        self.pub_channel = await pub.channel(publisher_confirms=True)
        self.sub_channel = await sub.channel()
        await self.sub_channel.set_qos(prefetch_count=PREFETCH)
        self.queue = await self.sub_channel.declare_queue(
            self.queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.queue.delete(if_unused=False, if_empty=False)
        for conn in self._connections:
            await conn.close()

    async def _publish(self, index: int) -> None:
        message = aio_pika.Message(
            self._body,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(index),
            content_type="application/cloudevents+json",
        )
        await self.pub_channel.default_exchange.publish(message, routing_key=self.queue_name)

    async def publish_in_flight(self, count: int, window: int = IN_FLIGHT) -> float:
        """Confirmed publishing with up to ``window`` unconfirmed messages; msg/s."""
        gate = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            async with gate:
                await self._publish(i)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - start)

    async def publish_one_by_one(self, count: int) -> float:
        start = time.perf_counter()
        for i in range(count):
            await self._publish(i)
        return count / (time.perf_counter() - start)

    async def _consuming(self, count: int) -> tuple[asyncio.Event, str]:
        got = 0
        finished = asyncio.Event()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal got
            await message.ack()
            got += 1
            if got >= count:
                finished.set()

        return finished, await self.queue.consume(on_message)

    async def consume(self, count: int) -> float:
        """Consume ``count`` waiting messages with manual acks; msg/s."""
        start = time.perf_counter()
        finished, tag = await self._consuming(count)
        await asyncio.wait_for(finished.wait(), 120)
        elapsed = time.perf_counter() - start
        await self.queue.cancel(tag)
        return count / elapsed

    async def end_to_end(self, count: int) -> float:
        """Publish (confirms, many in flight) while consuming with acks; msg/s first→last ack."""
        finished, tag = await self._consuming(count)
        start = time.perf_counter()
        await self.publish_in_flight(count)
        await asyncio.wait_for(finished.wait(), 120)
        elapsed = time.perf_counter() - start
        await self.queue.cancel(tag)
        return count / elapsed

    async def latency(self, rate: float, seconds: float) -> list[float]:
        """Publish→consume latency (seconds) with publishes paced at ``rate``."""
        count = int(rate * seconds)
        sent: dict[int, float] = {}
        latencies: list[float] = []
        finished = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            latencies.append(time.monotonic() - sent[int(message.message_id or 0)])
            await message.ack()
            if len(latencies) >= count:
                finished.set()

        def fire(i: int) -> None:
            sent[i] = time.monotonic()
            task = asyncio.create_task(self._publish(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        tag = await self.queue.consume(on_message)
        await paced(rate, count, fire)
        await asyncio.wait_for(finished.wait(), 60)
        await self.queue.cancel(tag)
        return latencies

    async def purge(self) -> None:
        await self.queue.purge()


async def bench_bare_pika(servers: Servers, sizes: Sizes, body: bytes, results: Results) -> None:
    print("(a) bare aio-pika", file=sys.stderr, flush=True)
    own = {"client": pid_ticks(os.getpid()), "rabbitmq": SERVERS_CPU["rabbitmq"]}
    async with BarePika(servers.amqp_url, body) as pika:
        # Warm-up: connections, the queue's first segments, code paths.
        await pika.end_to_end(min(2000, sizes.pika_end_to_end))
        await pika.latency(LATENCY_RATE, 0.5)
        for _ in range(sizes.reps):
            meter = CpuMeter(own)
            rate = await pika.publish_in_flight(sizes.pika_in_flight)
            results.add(
                "pika_publish_in_flight",
                f"bare aio-pika: confirmed publish, {IN_FLIGHT} in flight",
                "msg/s",
                rate,
                **meter.done(sizes.pika_in_flight),
            )
            meter = CpuMeter(own)
            rate = await pika.consume(sizes.pika_in_flight)
            results.add(
                "pika_consume",
                f"bare aio-pika: consume, manual ack, prefetch {PREFETCH}",
                "msg/s",
                rate,
                **meter.done(sizes.pika_in_flight),
            )
            results.add(
                "pika_publish_one_by_one",
                "bare aio-pika: confirmed publish, awaited one by one",
                "msg/s",
                await pika.publish_one_by_one(sizes.pika_one_by_one),
            )
            await pika.purge()
            meter = CpuMeter(own)
            rate = await pika.end_to_end(sizes.pika_end_to_end)
            results.add(
                "pika_end_to_end",
                "bare aio-pika: publish + consume at once (end to end)",
                "msg/s",
                rate,
                **meter.done(sizes.pika_end_to_end),
            )
            lat = latency_summary(await pika.latency(LATENCY_RATE, sizes.pika_latency_seconds))
            results.add(
                "pika_latency_p99",
                f"bare aio-pika: publish→consume p99 at {LATENCY_RATE:.0f} msg/s",
                "ms",
                lat["p99"],
                **lat,
            )


# ---------------------------------------------------------------------------------------------
# (b) bare asyncpg


async def bare_asyncpg(
    dsn: str, connections: int, total: int, body: bytes, outbox: str
) -> tuple[float, dict[str, float]]:
    """Transactions of one business row and one outbox row; tx/s and CPU per transaction."""
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    insert_write = "INSERT INTO bare_writes (n) VALUES ($1)"
    insert_outbox = (
        f"INSERT INTO {outbox} (event_id, event_type, subject, body) VALUES ($1, $2, $3, $4)"
    )
    per = total // connections

    async def writer(conn: asyncpg.Connection) -> None:
        for i in range(per):
            async with conn.transaction():
                await conn.execute(insert_write, i)
                await conn.execute(
                    insert_outbox, uuid.uuid4(), BenchPinged.event_type, f"k{i}", body
                )

    try:
        backends = [c.get_server_pid() for c in conns]
        meter = CpuMeter(
            {
                "client": pid_ticks(os.getpid()),
                # Only this run's backends: no connection is opened or closed while measuring.
                "postgres": lambda: sum(process_ticks(pid) for pid in backends),
            }
        )
        start = time.perf_counter()
        await asyncio.gather(*(writer(c) for c in conns))
        rate = per * connections / (time.perf_counter() - start)
        return rate, meter.done(per * connections)
    finally:
        for c in conns:
            await c.close()


async def bench_bare_asyncpg(servers: Servers, sizes: Sizes, body: bytes, results: Results) -> None:
    print("(b) bare asyncpg", file=sys.stderr, flush=True)
    await bare_asyncpg(servers.dsn, PG_CONNECTIONS, 1600, body, "bare_outbox")
    await bare_asyncpg(servers.dsn, PG_CONNECTIONS, 800, body, "bare_outbox_notify")
    for _ in range(sizes.reps):
        rate, cpu = await bare_asyncpg(servers.dsn, 1, sizes.pg_one, body, "bare_outbox")
        results.add(
            "pg_1", "bare asyncpg: row + outbox row per tx, 1 connection", "tx/s", rate, **cpu
        )
        rate, cpu = await bare_asyncpg(
            servers.dsn, PG_CONNECTIONS, sizes.pg_many, body, "bare_outbox"
        )
        results.add(
            "pg_16",
            f"bare asyncpg: row + outbox row per tx, {PG_CONNECTIONS} connections",
            "tx/s",
            rate,
            **cpu,
        )
        rate, cpu = await bare_asyncpg(
            servers.dsn, PG_CONNECTIONS, sizes.pg_notify, body, "bare_outbox_notify"
        )
        results.add(
            "pg_16_notify",
            f"bare asyncpg: same, {PG_CONNECTIONS} connections, outbox NOTIFY trigger",
            "tx/s",
            rate,
            **cpu,
        )


# ---------------------------------------------------------------------------------------------
# (c)-(e) ours


class WorkerProcess:
    """``python -m bench.worker``: the relay and the consumer in a process of their own."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid

    @classmethod
    async def start(
        cls, servers: Servers, trace_ratio: float | None, *options: str
    ) -> WorkerProcess:
        args = [sys.executable, "-m", "bench.worker", servers.database_url, servers.amqp_url]
        if trace_ratio is not None:
            args += ["--trace-ratio", str(trace_ratio)]
        args += options
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
            cwd=ROOT,
        )
        worker = cls(proc)
        ready = await asyncio.wait_for(worker._read(), 60)
        if not ready.get("ready"):
            raise RuntimeError(f"worker did not start: {ready}")
        return worker

    async def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        while True:
            line = await self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"worker exited with {await self._proc.wait()}")
            if line.startswith(b"@@"):
                answer: dict[str, Any] = json.loads(line[2:])
                return answer
            sys.stderr.write("worker: " + line.decode(errors="replace"))

    async def request(self, cmd: str, **args: object) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        await self._proc.stdin.drain()
        return await self._read()

    async def take(self, count: int, timeout: float = 180.0) -> dict[int, float]:
        answer = await self.request("take", count=count, timeout=timeout)
        return {int(n): float(t) for n, t in answer["times"]}

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.request("stop"), 40)
        try:
            await asyncio.wait_for(self._proc.wait(), 10)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()


class Writers:
    """The producing service: ``UnitOfWork`` transactions with one business row and one event."""

    def __init__(self, engine: AsyncEngine, traced: bool) -> None:
        self.engine = engine
        self._sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        self._traced = traced
        self._tracer = trace.get_tracer("bench.writer")
        self._next = 0

    def numbers(self, count: int) -> range:
        first = self._next
        self._next += count
        return range(first, first + count)

    async def _write(self, uow: UnitOfWork, numbers: Sequence[int]) -> float:
        async with uow:
            for n in numbers:
                await uow.session.execute(insert(writes).values(n=n))
                uow.emit(sample_event(n))
            await uow.commit()
            return time.monotonic()

    async def write(self, uow: UnitOfWork, *numbers: int) -> float:
        """One transaction: a business row and an event for each number; when it committed."""
        if not self._traced:
            return await self._write(uow, numbers)
        # Like a request's server span: the root of the trace, sampled at the ratio.
        with self._tracer.start_as_current_span("POST /api/v1/bench/pings", kind=SpanKind.SERVER):
            return await self._write(uow, numbers)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._sessionmaker, source="bench-writer")

    async def flat_out(
        self, numbers: range, writers: int = WRITERS, per_tx: int = 1
    ) -> dict[int, float]:
        commits: dict[int, float] = {}

        async def writer(k: int) -> None:
            uow = self.uow()
            mine = numbers[k::writers]
            for i in range(0, len(mine), per_tx):
                group = mine[i : i + per_tx]
                committed = await self.write(uow, *group)
                commits.update(dict.fromkeys(group, committed))

        await asyncio.gather(*(writer(k) for k in range(writers)))
        return commits

    async def paced(self, numbers: range, rate: float) -> dict[int, float]:
        commits: dict[int, float] = {}
        tasks: set[asyncio.Task[None]] = set()

        async def one(n: int) -> None:
            commits[n] = await self.write(self.uow(), n)

        def fire(i: int) -> None:
            task = asyncio.create_task(one(numbers[i]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        await paced(rate, len(numbers), fire)
        while tasks:
            await asyncio.gather(*list(tasks))
        return commits


class Pipeline:
    """Ours: the writers in this process, the worker in its own; one measured run at a time."""

    def __init__(
        self,
        servers: Servers,
        writers: Writers,
        worker: WorkerProcess,
        exporter: InMemorySpanExporter | None,
    ) -> None:
        self.servers = servers
        self.writers = writers
        self.worker = worker
        self._exporter = exporter

    def writer_spans(self) -> int:
        """Spans the writer's in-memory exporter holds (then cleared); 0 without telemetry."""
        if self._exporter is None:
            return 0
        count = len(self._exporter.get_finished_spans())
        self._exporter.clear()
        return count

    async def _meter(self) -> tuple[CpuMeter, int]:
        meter = CpuMeter(
            {
                "writer": pid_ticks(os.getpid()),
                "worker": pid_ticks(self.worker.pid),
                **SERVERS_CPU,
            }
        )
        return meter, await sessions_opened(self.servers.dsn, self.servers.database)

    async def _usage(self, meter: tuple[CpuMeter, int], per: int) -> dict[str, float]:
        usage = meter[0].done(per)
        opened = await sessions_opened(self.servers.dsn, self.servers.database)
        # Minus the one that asked.
        return usage | {"pg_sessions_opened": opened - meter[1] - 1}

    async def _outbox_position(self) -> int:
        async with self.writers.engine.connect() as conn:
            result = await conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM outbox")
            return int(result.scalar_one())

    async def _relay_batch(self, after_id: int) -> float:
        """Mean rows per relay batch since ``after_id`` (a batch's rows share one sent_at)."""
        async with self.writers.engine.connect() as conn:
            result = await conn.execute(
                text("SELECT count(*), count(DISTINCT sent_at) FROM outbox WHERE id > :after"),
                {"after": after_id},
            )
            rows, batches = result.one()
        return int(rows) / int(batches) if batches else float("nan")

    async def _effects(self, numbers: range) -> dict[int, float]:
        effects = await self.worker.take(len(numbers))
        missing = [n for n in numbers if n not in effects]
        if missing:
            raise RuntimeError(
                f"{len(missing)} of {len(numbers)} effects missing (first: {missing[0]})"
            )
        return effects

    async def throughput(self, count: int, per_tx: int = 1) -> tuple[float, dict[str, float]]:
        numbers = self.writers.numbers(count)
        position = await self._outbox_position()
        meter = await self._meter()
        commits = await self.writers.flat_out(numbers, per_tx=per_tx)
        writers_done = time.monotonic()
        effects = await self._effects(numbers)
        usage = await self._usage(meter, count)
        first_commit = min(commits.values())
        last_effect = max(effects[n] for n in numbers)
        details = {
            "writer_commits_per_s": count / (writers_done - first_commit),
            "mean_relay_batch": await self._relay_batch(position),
            **usage,
        }
        return count / (last_effect - first_commit), details

    async def capacity(self, count: int) -> tuple[float, dict[str, float]]:
        """Events/s of the relay and consumer alone, draining an outbox filled beforehand.

        Needs a worker started with ``--hold``. The writers' cost is left out: this is the
        pipeline our code controls, with both cores to itself.
        """
        numbers = self.writers.numbers(count)
        await self.writers.flat_out(numbers, per_tx=BATCHED_PER_TX)
        meter = await self._meter()
        started = float((await self.worker.request("go"))["started"])
        effects = await self._effects(numbers)
        usage = await self._usage(meter, count)
        return count / (max(effects.values()) - started), usage

    async def latency(self, rate: float, seconds: float) -> dict[str, float]:
        numbers = self.writers.numbers(int(rate * seconds))
        position = await self._outbox_position()
        meter = await self._meter()
        commits = await self.writers.paced(numbers, rate)
        effects = await self._effects(numbers)
        usage = await self._usage(meter, len(numbers))
        summary = latency_summary([effects[n] - commits[n] for n in numbers])
        return summary | {"mean_relay_batch": await self._relay_batch(position), **usage}


@contextlib.asynccontextmanager
async def pipeline(
    servers: Servers, *, traced: bool, worker_options: Sequence[str] = ()
) -> AsyncIterator[Pipeline]:
    engine = create_engine(servers.database_url, pool_size=WRITERS, application_name="bench")
    exporter: InMemorySpanExporter | None = None
    if traced:
        from common.settings import CommonSettings  # noqa: PLC0415
        from common.telemetry import instrument_engine, setup_telemetry  # noqa: PLC0415

        settings = CommonSettings(
            service_name="bench-writer",
            database_url=servers.database_url,
            amqp_url=servers.amqp_url,
            trace_sample_ratio=TRACE_RATIO,
        )
        exporter = InMemorySpanExporter()
        setup_telemetry("bench-writer", settings, span_exporter=exporter)
        instrument_engine(engine)
    worker = await WorkerProcess.start(servers, TRACE_RATIO if traced else None, *worker_options)
    try:
        yield Pipeline(servers, Writers(engine, traced), worker, exporter)
    finally:
        await worker.stop()
        await engine.dispose()


async def bench_ours(
    servers: Servers, sizes: Sizes, results: Results, *, traced: bool
) -> dict[str, int]:
    mode = f"telemetry on ({TRACE_RATIO})" if traced else "telemetry off"
    suffix = "_traced" if traced else ""
    print(f"(c, d) ours, {mode}", file=sys.stderr, flush=True)
    async with pipeline(servers, traced=traced) as ours:
        # Warm-up: pools filled, statements cached, the queue and the relay's paths exercised.
        warm_rate, _ = await ours.throughput(sizes.warmup_events)
        if sizes.diagnostics:
            await ours.latency(LATENCY_RATE, 0.5)
        estimate = int(round(warm_rate * sizes.throughput_seconds, -2))
        count = sizes.events or max(sizes.min_events, estimate)
        await ours.worker.request("spans")
        ours.writer_spans()
        events = 0
        for _ in range(sizes.reps):
            rate, details = await ours.throughput(count)
            events += count
            results.add(
                f"ours_throughput{suffix}",
                f"ours: events/s, commit → effect committed, {WRITERS} writers, {mode}",
                "events/s",
                rate,
                events=count,
                **details,
            )
            lat = await ours.latency(LATENCY_RATE, sizes.latency_seconds)
            events += int(LATENCY_RATE * sizes.latency_seconds)
            results.add(
                f"ours_latency_p99{suffix}",
                f"ours: commit → effect p99 at {LATENCY_RATE:.0f} events/s, {mode}",
                "ms",
                lat["p99"],
                **lat,
            )
            if sizes.diagnostics and not traced:
                # Diagnostics: the writers' cost amortized (ten events per transaction, as a
                # roll call would write), and the latency below saturation.
                rate, details = await ours.throughput(sizes.batched_events, per_tx=BATCHED_PER_TX)
                events += sizes.batched_events
                results.add(
                    "ours_throughput_batched",
                    f"ours: events/s, {BATCHED_PER_TX} events per writer transaction, {mode} "
                    "(diagnostic)",
                    "events/s",
                    rate,
                    events=sizes.batched_events,
                    **details,
                )
                low = await ours.latency(LOW_RATE, sizes.low_rate_seconds)
                events += int(LOW_RATE * sizes.low_rate_seconds)
                results.add(
                    "ours_latency_p99_low",
                    f"ours: commit → effect p99 at {LOW_RATE:.0f} events/s, {mode} (diagnostic)",
                    "ms",
                    low["p99"],
                    **low,
                )
        spans = {
            "events": events,
            "worker_spans": int((await ours.worker.request("spans"))["spans"]),
            "writer_spans": ours.writer_spans(),
        }
    if not traced:
        for _ in range(sizes.reps):
            async with pipeline(servers, traced=False, worker_options=["--hold"]) as held:
                rate, usage = await held.capacity(sizes.capacity_events)
            results.add(
                "ours_pipeline_capacity",
                f"ours: relay + consumer draining {sizes.capacity_events:,} events, {mode}",
                "events/s",
                rate,
                events=sizes.capacity_events,
                **usage,
            )
            spans["events"] += sizes.capacity_events
    return spans


# ---------------------------------------------------------------------------------------------
# Report


def versions(server_version: str, rabbit_version: str) -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "postgresql": server_version,
        "rabbitmq": rabbit_version,
    }
    for dist in ("aio-pika", "aiormq", "asyncpg", "sqlalchemy", "pydantic", "opentelemetry-sdk"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def machine() -> dict[str, Any]:
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


ROWS: tuple[str, ...] = (
    "pika_publish_in_flight",
    "pika_publish_one_by_one",
    "pika_consume",
    "pika_end_to_end",
    "pika_latency_p99",
    "pg_1",
    "pg_16",
    "pg_16_notify",
    "ours_throughput",
    "ours_latency_p99",
    "ours_throughput_batched",
    "ours_latency_p99_low",
    "ours_throughput_traced",
    "ours_latency_p99_traced",
)


def report(results: Results) -> dict[str, Any]:
    med = results.median
    ratios: dict[str, float] = {}
    goals: dict[str, Any] = {}
    pika_p99 = med("pika_latency_p99")
    for suffix, name in (("", "off"), ("_traced", "on")):
        through = med(f"ours_throughput{suffix}")
        p99 = med(f"ours_latency_p99{suffix}")
        ratios[f"throughput / bare asyncpg 16 conn, telemetry {name}"] = ratio(
            through, med("pg_16")
        )
        ratios[f"throughput / bare aio-pika end to end, telemetry {name}"] = ratio(
            through, med("pika_end_to_end")
        )
        ratios[f"throughput / bare aio-pika publish in flight, telemetry {name}"] = ratio(
            through, med("pika_publish_in_flight")
        )
        ratios[f"p99 / bare aio-pika p99 at 500/s, telemetry {name}"] = ratio(p99, pika_p99)
        goals[f"throughput, telemetry {name}"] = {
            "goal": f">= {GOAL_THROUGHPUT:.0f} events/s",
            "value": through,
            "met": through >= GOAL_THROUGHPUT,
        }
        goals[f"p99 at 500/s, telemetry {name}"] = {
            "goal": f"< {GOAL_P99_MS:.0f} ms",
            "value": p99,
            "met": p99 < GOAL_P99_MS,
        }
    capacity = med("ours_pipeline_capacity")
    ratios["pipeline capacity / bare aio-pika end to end"] = ratio(capacity, med("pika_end_to_end"))
    goals["pipeline capacity (relay + consumer), telemetry off"] = {
        "goal": f">= {GOAL_THROUGHPUT:.0f} events/s",
        "value": capacity,
        "met": capacity >= GOAL_THROUGHPUT,
    }
    ratios["throughput telemetry on / off"] = ratio(
        med("ours_throughput_traced"), med("ours_throughput")
    )
    return {"ratios": ratios, "goals": goals}


def _cpu_line(fig: Figure, groups: Sequence[str]) -> str:
    parts = [f"{g} {fig.extra_median(f'{g}_cpu_us'):,.0f}" for g in groups]
    return (
        f"    CPU µs per item: {', '.join(parts)}; "
        f"cores busy {fig.extra_median('cores_busy'):.2f} of {os.cpu_count()}"
    )


def print_table(
    results: Results, summary: dict[str, Any], spans: dict[str, dict[str, int]]
) -> None:
    width = 74
    print()
    print(f"{'figure':<{width}} {'median':>10}  {'unit':<8}  runs")
    print("-" * (width + 44))
    for key in ROWS:
        fig = results.figures.get(key)
        if fig is None:
            continue
        runs = " / ".join(f"{r:,.1f}" for r in fig.runs)
        print(f"{fig.label:<{width}} {fig.median:>10,.1f}  {fig.unit:<8}  {runs}")
        if "latency_p99" in key:
            p = ", ".join(f"{q} {fig.extra_median(q):,.1f}" for q in ("p50", "p95", "p99", "max"))
            print(f"    ms (medians of runs): {p}")
        if key.startswith("ours_throughput"):
            print(
                f"    writers alone {fig.extra_median('writer_commits_per_s'):,.0f} commits/s; "
                f"{fig.extra_median('events'):,.0f} events a run"
            )
        if key.startswith("ours"):
            print(_cpu_line(fig, ("writer", "worker", "postgres", "rabbitmq")))
            print(
                f"    relay batch {fig.extra_median('mean_relay_batch'):,.1f} rows; "
                f"PostgreSQL sessions opened {fig.extra_median('pg_sessions_opened'):,.0f}"
            )
        elif key.startswith("pg_"):
            print(_cpu_line(fig, ("client", "postgres")))
        elif key in ("pika_publish_in_flight", "pika_consume", "pika_end_to_end"):
            print(_cpu_line(fig, ("client", "rabbitmq")))
    traced = spans.get("on", {})
    if traced.get("events"):
        print(
            f"    spans recorded with telemetry on: writer {traced['writer_spans']:,}, "
            f"worker {traced['worker_spans']:,} for {traced['events']:,} events "
            f"({(traced['writer_spans'] + traced['worker_spans']) / traced['events']:.2f} an event)"
        )
    print()
    print("ratios")
    for name, value in summary["ratios"].items():
        print(f"  {name:<{width - 2}} {value:>10.3f}")
    print("goals")
    for name, goal in summary["goals"].items():
        verdict = "met" if goal["met"] else "MISSED"
        print(f"  {name:<34} {goal['goal']:<18} {goal['value']:>10,.1f}  {verdict}")


async def run(sizes: Sizes) -> dict[str, Any]:
    started = time.monotonic()
    results = Results()
    spans: dict[str, dict[str, int]] = {}
    body = sample_body()
    load = os.getloadavg()
    phases: dict[str, float] = {}
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 1)
        mark = now

    async with isolated_servers(uuid.uuid4().hex[:8]) as servers:
        rabbit_version = await prepare(servers)
        conn = await asyncpg.connect(servers.dsn)
        try:
            pg_version = str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
        # Objects made during start-up live as long as the process (as the services do).
        gc.collect()
        gc.freeze()
        phase("setup")
        await bench_bare_pika(servers, sizes, body, results)
        phase("bare aio-pika")
        await bench_bare_asyncpg(servers, sizes, body, results)
        phase("bare asyncpg")
        spans["off"] = await bench_ours(servers, sizes, results, traced=False)
        phase("ours, telemetry off")
        # Telemetry cannot be switched off again in a process: the traced runs come last.
        spans["on"] = await bench_ours(servers, sizes, results, traced=True)
        phase("ours, telemetry on")
    phase("teardown")
    summary = report(results)
    print_table(results, summary, spans)
    elapsed = time.monotonic() - started
    spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
    print(f"\nwhole run {elapsed:.0f} s ({spent}); load average at start {load[0]:.2f}")
    print(f"results in {RESULTS}")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run python -m bench.events " + " ".join(sys.argv[1:]),
        "machine": machine() | {"load_average_at_start": load},
        "versions": versions(pg_version, rabbit_version),
        "sizes": asdict(sizes),
        "event_body_bytes": len(body),
        "settings": {
            "writers": WRITERS,
            "prefetch": PREFETCH,
            "in_flight": IN_FLIGHT,
            "latency_rate": LATENCY_RATE,
            "low_rate": LOW_RATE,
            "batched_per_tx": BATCHED_PER_TX,
            "trace_ratio": TRACE_RATIO,
        },
        "figures": {
            key: {
                "label": fig.label,
                "unit": fig.unit,
                "median": fig.median,
                "runs": fig.runs,
                "details": fig.extra,
            }
            for key, fig in results.figures.items()
        },
        "spans": spans,
        **summary,
        "seconds": elapsed,
        "phases_seconds": phases,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--events", type=int, default=None, help="events per throughput run")
    parser.add_argument("--quick", action="store_true", help="one run of each, smaller (< 40 s)")
    args = parser.parse_args(argv)
    sizes = Sizes.quick(args.events) if args.quick else Sizes.full(args.events)
    out = asyncio.run(run(sizes))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
