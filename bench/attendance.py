"""Attendance benchmark, the morning peak: every class of a province submits its roll call once,
through the attendance API run as production runs it, against a bare FastAPI + asyncpg endpoint
that writes the same rows, measured in the same run.

    uv run --no-sync python -m bench.attendance [--scale 1.0] [--rate 200] [--connections 32]

Setup: its own database (``hsdt_bench_attendance_<id>``, migrated with alembic, dropped at the
end) seeded with a province of ``bench.province``'s shape (``--scale`` 1.0: 500 schools in
districts of about twenty, 10,000 classes of 30–40 students with Vietnamese names, the current
school year) written straight into attendance's copies (``org_units``, ``school_years``,
``classes``, ``enrolments``) with ``COPY``, then ``ANALYZE``. One homeroom teacher per class and
one access token each (``teacher@<school>``, minted by a ``TokenIssuer`` whose JWKS the bench
process serves on loopback). The roll is for today in Việt Nam, morning session, on time: the
servers run with ``ATTENDANCE_DEFAULT_WEEKDAYS`` = all seven days and a first period at 11:59
(the latest a morning may start) with 240 minutes' grace, so rolls are on time until 15:59 in
Việt Nam (08:59 UTC); run later, every roll is late (and ``attendance.rollcall.late`` goes out too).

Servers, each a ``uvicorn`` process of its own (uvloop, httptools, one worker, access log on,
as the Dockerfile's command): the attendance app (``--factory attendance.app:create_app``, env
``ATTENDANCE_*``) with telemetry off (``OTEL_SDK_DISABLED=true``: no-op tracer and meter, the
instrumentation's middleware still wraps each request) and at the production sampling
(``ATTENDANCE_TRACE_SAMPLE_RATIO=0.1``, sampled spans exported over OTLP/HTTP to a sink in the
bench process); and the baseline (``bench.attendance:baseline_app``): the same PUT route, the
body parsed by pydantic, then one transaction on a bare asyncpg pool inserting one roll row, the
marks (``executemany``) and one outbox row into scratch tables ``LIKE`` attendance's own
(the outbox with its NOTIFY trigger). No auth, no checks: the irreducible cost.

Load: a separate process (``python -m bench.attendance load``, uvloop) with pre-encoded
HTTP/1.1 requests on ``--connections`` keep-alive connections (no HTTP client library: its CPU
would be taken from the server's two cores). Every request carries an ``Idempotency-Key``, as
a retrying client sends it. Requests are scheduled open-loop at the offered rate; latency runs
from a request's scheduled time to its response (so waiting for a connection counts). Between
runs the rolls, marks, revisions, outbox and idempotency keys are truncated: every run is a
fresh morning. Per server:

- warm-up: 2 % of the classes (at least 100), closed loop;
- the province: every class once, offered at ``--rate``; total time (first scheduled request
  to last response), sustained rolls/s, p50 / p95 / p99, errors;
- the ceiling: offered 100, 150, 200, 250, 300, 400, 500, 600 … rolls/s, ``--step`` classes
  each, until a step's p99 crosses 100 ms (or the server falls 10 % behind the offered rate);
- capacity: the same connections in a closed loop (as fast as the server answers), rolls/s.

With ``--profile``, a last run of the attendance app (telemetry off) under cProfile: the
functions by own and cumulative time per roll, the statements per roll, and the callers of
Python's ``compile()``.

The table goes to stdout and everything to ``bench/results/attendance.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import os
import pickle
import pstats
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict

from bench.figures import Results, machine, ratio, versions

if TYPE_CHECKING:
    from bench.province import Scale
    from common.testing import TokenIssuer

# The baseline server and the load generator import this module too: what only the bench
# process needs (records, SQLAlchemy, pytest's helpers) is imported where it is used, since
# imports alone take tens of seconds on a busy two-core machine.

PG_HOST = os.environ.get("HSDT_BENCH_PG_HOST", "127.0.0.1:5432")
REDIS_URL = os.environ.get("HSDT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("HSDT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}/postgres"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "attendance.json"
VIETNAM: Final = ZoneInfo("Asia/Ho_Chi_Minh")
TRACE_RATIO: Final = 0.1
# The latest first period a morning may have, and the most grace the settings allow: the rolls
# are on time until 15:59 in Việt Nam (08:59 UTC); a run after that measures late rolls.
FIRST_PERIOD: Final = "11:59"
GRACE_MINUTES: Final = 240
P99_GOAL_MS: Final = 100.0
GOAL_SECONDS: Final = 60.0
CEILING_RATES: Final = (100, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1200, 1500)
MARKS: Final = (("present", 0.93), ("late", 0.03), ("absent_excused", 0.025),
                ("absent_unexcused", 0.015))  # fmt: skip
TRUNCATE: Final = (
    "TRUNCATE roll_calls, roll_call_marks, roll_call_revisions, outbox, idempotency_keys"
)
BASELINE_TRUNCATE: Final = "TRUNCATE bench_roll_calls, bench_marks, bench_outbox"


@dataclass(frozen=True)
class Sizes:
    scale: float
    rate: float  # offered rolls/s for the whole-province run
    connections: int
    step: int  # classes per ceiling step
    profile: bool

    @property
    def classes(self) -> int:
        from bench.province import Scale  # noqa: PLC0415

        return Scale.of(self.scale).classes

    @property
    def warmup(self) -> int:
        return min(self.classes, max(100, self.classes // 50))

    @property
    def capacity_classes(self) -> int:
        return min(self.classes, max(500, self.step * 2))


# ---------------------------------------------------------------------------------------------
# The province, written straight into attendance's copies


@dataclass
class ClassPlan:
    id: uuid.UUID
    school: uuid.UUID
    teacher: uuid.UUID
    students: list[uuid.UUID]


@dataclass
class Seeded:
    classes: list[ClassPlan]
    rows: Counter[str]
    seconds: float
    year_code: str
    day: date


def school_year_of(today: date) -> tuple[str, date, date, list[list[str]]]:
    first = today.year if today.month >= 8 else today.year - 1
    starts, ends = date(first, 8, 1), date(first + 1, 7, 31)
    split = date(first + 1, 1, 15)
    terms = [
        [starts.isoformat(), split.isoformat()],
        [(split + timedelta(days=1)).isoformat(), ends.isoformat()],
    ]
    return f"{first}-{first + 1}", starts, ends, terms


async def seed(dsn: str, scale: Scale, today: date, rng: random.Random) -> Seeded:
    """Org units, the school year, classes and their lists by ``COPY``; ``ANALYZE`` after."""
    from bench.province import GRADES, _plan_schools, _split, full_name  # noqa: PLC0415
    from common.vietnamese import name_sort_key  # noqa: PLC0415
    from records.handlers.classes import Gender  # noqa: PLC0415

    started = time.perf_counter()
    code, starts, ends, terms = school_year_of(today)
    province = uuid.uuid4()
    units: list[tuple[object, ...]] = [(province, "province", "GEN", None, province, None)]
    plan = _plan_schools(rng, scale, "GEN")
    districts: dict[int, uuid.UUID] = {}
    schools: list[tuple[uuid.UUID, uuid.UUID | None, list[int]]] = []
    for level, school_code, number in plan:
        district = None
        if number:
            district = districts.get(number)
            if district is None:
                district = districts[number] = uuid.uuid4()
                units.append((district, "district", f"GEN-D{number:02d}", province, province,
                              district))  # fmt: skip
        school = uuid.uuid4()
        units.append((school, "school", school_code, district or province, province, district))
        schools.append((school, district, list(GRADES[level])))
    classes: list[tuple[object, ...]] = []
    enrolments: list[tuple[object, ...]] = []
    plans: list[ClassPlan] = []
    now = datetime.now(UTC)
    for (school, district, grades), count in zip(
        schools, _split(scale.classes, len(schools), rng, 3), strict=True
    ):
        seq: Counter[int] = Counter()
        for i in range(count):
            grade = grades[i % len(grades)]
            seq[grade] += 1
            class_id, teacher = uuid.uuid4(), uuid.uuid4()
            classes.append((class_id, school, district or province, province, code, grade,
                            f"{grade}A{seq[grade]}", teacher, f"{1:020d}", now))  # fmt: skip
            students = [uuid.uuid4() for _ in range(rng.randint(30, 40))]
            for student in students:
                gender = Gender.FEMALE if rng.random() < 0.485 else Gender.MALE
                name = full_name(rng, gender)
                enrolments.append((class_id, student, starts, None, name, name_sort_key(name)))
            plans.append(ClassPlan(class_id, school, teacher, students))
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "org_units",
                records=units,
                columns=("id", "kind", "code", "parent_id", "province_id", "district_id"),
            )
            await conn.execute(
                "INSERT INTO school_years (id, province_id, code, starts_on, ends_on, terms, "
                "sequence) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
                uuid.uuid4(), province, code, starts, ends, json.dumps(terms), f"{1:020d}",
            )  # fmt: skip
            await conn.copy_records_to_table(
                "classes",
                records=classes,
                columns=("id", "school_id", "district_id", "province_id", "school_year",
                         "grade", "label", "homeroom_teacher_id", "sequence", "updated_at"),
            )  # fmt: skip
            await conn.copy_records_to_table(
                "enrolments",
                records=enrolments,
                columns=("class_id", "student_id", "starts_on", "ends_on", "full_name",
                         "sort_key"),
            )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    rows = Counter(org_units=len(units), school_years=1, classes=len(classes),
                   enrolments=len(enrolments))  # fmt: skip
    return Seeded(plans, rows, time.perf_counter() - started, code, today)


def roll_body(plan: ClassPlan, rng: random.Random) -> bytes:
    marks = [m for m, _ in MARKS]
    weights = [w for _, w in MARKS]
    return json.dumps(
        {
            "marks": [
                {"student_id": str(s), "mark": rng.choices(marks, weights)[0]}
                for s in plan.students
            ]
        },
        separators=(",", ":"),
    ).encode()


def encode_requests(
    seeded: Seeded, issuer: TokenIssuer, rng: random.Random, *, idempotency: bool = True
) -> list[bytes]:
    """One whole HTTP/1.1 PUT per class, its homeroom teacher's token in it."""
    out = []
    for plan in seeded.classes:
        body = roll_body(plan, rng)
        token = issuer.mint(plan.teacher, f"teacher@{plan.school}", lifetime_seconds=4 * 3600)
        path = f"/api/v1/classes/{plan.id}/roll-calls/{seeded.day.isoformat()}/morning"
        key = f"Idempotency-Key: roll-{plan.id}-{seeded.day.isoformat()}-morning\r\n"
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\n{key if idempotency else ''}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


# ---------------------------------------------------------------------------------------------
# The baseline server: bare FastAPI + asyncpg, the same rows


class _Mark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    student_id: uuid.UUID
    mark: str
    reason: str | None = None


class _Roll(BaseModel):
    model_config = ConfigDict(extra="forbid")
    marks: list[_Mark]


_ROLL_INSERT: Final = (
    "INSERT INTO bench_roll_calls (id, class_id, school_id, day, session, deadline, "
    "first_submitted_at, on_time, revision, submitted_at, submitted_by, present, late_arrivals, "
    "absent_excused, absent_unexcused) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, true, 1, $7, $8, $9, $10, $11, $12)"
)
_MARK_INSERT: Final = (
    "INSERT INTO bench_marks (roll_call_id, student_id, mark, reason) VALUES ($1, $2, $3, $4)"
)
_OUTBOX_INSERT: Final = (
    "INSERT INTO bench_outbox (event_id, event_type, subject, body) VALUES ($1, $2, $3, $4)"
)


def baseline_app() -> FastAPI:
    """``uvicorn --factory bench.attendance:baseline_app``; the DSN in ``BENCH_ATTENDANCE_DSN``."""
    dsn = os.environ["BENCH_ATTENDANCE_DSN"]
    pools: list[asyncpg.Pool] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        assert pool is not None
        pools.append(pool)
        gc.collect()
        gc.freeze()  # as create_service_app does
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.put("/api/v1/classes/{class_id}/roll-calls/{day}/{session}", status_code=201)
    async def submit(class_id: uuid.UUID, day: date, session: str, body: _Roll) -> Response:
        counts = Counter(m.mark for m in body.marks)
        roll, now, person = uuid.uuid4(), datetime.now(UTC), uuid.uuid4()
        event = json.dumps(
            {"id": str(uuid.uuid4()), "type": "attendance.rollcall.submitted",
             "data": {"roll_call_id": str(roll), "class_id": str(class_id), "day": str(day),
                      "session": session, **counts}},
        ).encode()  # fmt: skip
        async with pools[0].acquire() as conn, conn.transaction():
            await conn.execute(
                _ROLL_INSERT, roll, class_id, class_id, day, session, now, now, person,
                counts["present"] + counts["late"], counts["late"], counts["absent_excused"],
                counts["absent_unexcused"],
            )  # fmt: skip
            await conn.executemany(
                _MARK_INSERT, [(roll, m.student_id, m.mark, m.reason) for m in body.marks]
            )
            await conn.execute(
                _OUTBOX_INSERT, uuid.uuid4(), "attendance.rollcall.submitted", str(class_id),
                event,
            )  # fmt: skip
        answer = json.dumps({"outcome": "created", "roll_call_id": str(roll)}).encode()
        return Response(answer, 201, media_type="application/json")

    return app


async def create_baseline_tables(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_roll_calls (LIKE roll_calls INCLUDING ALL);"
            "CREATE TABLE bench_marks (LIKE roll_call_marks INCLUDING ALL);"
            "CREATE TABLE bench_outbox (LIKE outbox INCLUDING ALL);"
            "CREATE TRIGGER bench_outbox_notify AFTER INSERT ON bench_outbox "
            "FOR EACH STATEMENT EXECUTE FUNCTION hsdt_outbox_notify();"
        )
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------
# The load generator (its own process)


@dataclass
class LoadRun:
    latencies: list[float] = field(default_factory=list)  # seconds, from the scheduled time
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0  # first scheduled request to the last response


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    return status, await reader.readexactly(length) if length > 0 else b""


async def drive(
    port: int, requests: Sequence[bytes], rate: float | None, connections: int
) -> LoadRun:
    """Send ``requests`` on ``connections`` keep-alive connections, scheduled at ``rate``/s
    (None: each connection sends its next request as soon as it has an answer)."""
    run = LoadRun()
    next_index = 0
    clock = time.perf_counter  # uvloop's loop.time() moves in whole milliseconds
    start = clock() + 0.05
    last = start

    async def worker() -> None:
        nonlocal next_index, last
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < len(requests):
                i = next_index
                next_index += 1
                due = start + i / rate if rate else clock()
                if (wait := due - clock()) > 0:
                    await asyncio.sleep(wait)
                writer.write(requests[i])
                status, body = await _read_response(reader)
                done = clock()
                run.latencies.append(done - due)
                run.statuses[status] += 1
                last = max(last, done)
                if status >= 300 and len(run.errors) < 5:
                    run.errors.append(f"{status} {body[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    run.elapsed = last - start
    return run


def load_main(argv: Sequence[str]) -> None:
    """``python -m bench.attendance load PLAN``: a load generator that stays up (imports are
    slow on a busy machine); each stdin line ``PORT FIRST COUNT RATE CONNECTIONS`` is one run,
    answered by one JSON line on stdout."""
    import uvloop  # noqa: PLC0415 - only the load process runs on it

    (plan,) = argv
    every = pickle.loads(Path(plan).read_bytes())
    for line in sys.stdin:
        port, first, count, rate, connections = line.split()
        requests = every[int(first) : int(first) + int(count)]
        run = uvloop.run(drive(int(port), requests, float(rate) or None, int(connections)))
        out = {"latencies": run.latencies, "statuses": dict(run.statuses), "errors": run.errors,
               "elapsed": run.elapsed}  # fmt: skip
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


class LoadGenerator:
    """The load process, started once."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, plan: Path) -> LoadGenerator:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.attendance", "load", str(plan),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            limit=1 << 26,
        )  # fmt: skip
        return cls(proc)

    async def run(
        self, port: int, first: int, count: int, rate: float | None, connections: int
    ) -> LoadRun:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(f"{port} {first} {count} {rate or 0} {connections}\n".encode())
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited with {await self.proc.wait()}")
        data = json.loads(line)
        return LoadRun(
            data["latencies"],
            Counter({int(k): v for k, v in data["statuses"].items()}),
            data["errors"],
            data["elapsed"],
        )

    async def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        await self.proc.wait()


# ---------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def start_server(
    name: str, factory: str, env: dict[str, str], log_dir: Path, prefix: Sequence[str] = ()
) -> Server:
    import httpx  # noqa: PLC0415

    port = free_port()
    log = log_dir / f"{name}.log"
    args = [*prefix, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port",
            str(port), "--loop", "uvloop", "--http", "httptools", "--proxy-headers",
            "--forwarded-allow-ips", "*"]  # fmt: skip
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
        )
    server = Server(name, proc, port, log)
    async with httpx.AsyncClient() as client:
        for _ in range(3000):  # start-up takes minutes on a busy machine
            if proc.returncode is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return server
            await asyncio.sleep(0.1)
    await server.stop()
    raise RuntimeError(f"{name} did not answer /healthz: {log.read_text()[-2000:]}")


# ---------------------------------------------------------------------------------------------
# Measuring


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Phase:
    server: str
    kind: str  # province | step | capacity | warmup
    offered: float | None
    count: int
    elapsed: float
    rate: float
    p50: float
    p95: float
    p99: float
    worst: float
    errors: int
    statuses: dict[str, int]
    server_cpu_ms_per_roll: float
    first_errors: list[str]


class Bench:
    def __init__(self, sizes: Sizes, dsn: str, load: LoadGenerator, results: Results) -> None:
        self.sizes = sizes
        self.dsn = dsn
        self.load = load
        self.results = results
        self.phases: list[Phase] = []

    async def truncate(self, sql: str) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def run(
        self, server: Server, kind: str, count: int, rate: float | None, truncate: str
    ) -> Phase:
        await self.truncate(truncate)
        cpu = server.cpu_seconds()
        done = await self.load.run(server.port, 0, count, rate, self.sizes.connections)
        cpu = server.cpu_seconds() - cpu
        ms = sorted(x * 1000 for x in done.latencies)
        errors = sum(n for s, n in done.statuses.items() if s >= 300)
        phase = Phase(
            server.name, kind, rate, len(ms), done.elapsed, len(ms) / done.elapsed,
            percentile(ms, 50), percentile(ms, 95), percentile(ms, 99), ms[-1], errors,
            {str(k): v for k, v in done.statuses.items()}, cpu * 1000 / len(ms), done.errors,
        )  # fmt: skip
        self.phases.append(phase)
        offered = f"{rate:,.0f}/s offered" if rate else "closed loop"
        print(
            f"  {server.name} {kind} ({count:,} rolls, {offered}): {phase.rate:,.1f} rolls/s, "
            f"p50 {phase.p50:.1f} p95 {phase.p95:.1f} p99 {phase.p99:.1f} max {phase.worst:.0f} "
            f"ms, errors {errors}, server CPU {phase.server_cpu_ms_per_roll:.2f} ms/roll",
            file=sys.stderr,
            flush=True,
        )
        for line in done.errors:
            print(f"    {line}", file=sys.stderr)
        return phase

    async def measure(self, server: Server, key: str, label: str, truncate: str) -> None:
        sizes, res = self.sizes, self.results
        await self.run(server, "warmup", sizes.warmup, None, truncate)
        province = await self.run(server, "province", sizes.classes, sizes.rate, truncate)
        res.add(f"{key}_total", f"{label}: the whole province ({sizes.classes:,} rolls)", "s",
                province.elapsed)  # fmt: skip
        res.add(f"{key}_rate", f"{label}: sustained", "rolls/s", province.rate)
        res.add(f"{key}_p50", f"{label}: p50", "ms", province.p50)
        res.add(f"{key}_p95", f"{label}: p95", "ms", province.p95)
        res.add(f"{key}_p99", f"{label}: p99", "ms", province.p99)
        res.add(f"{key}_errors", f"{label}: errors", "", province.errors)
        res.add(
            f"{key}_cpu", f"{label}: server CPU per roll", "ms", province.server_cpu_ms_per_roll
        )
        ceiling = float("nan")
        below = float("nan")
        for rate in CEILING_RATES:
            step = await self.run(
                server, "step", min(sizes.step, sizes.classes), float(rate), truncate
            )
            if step.p99 > P99_GOAL_MS or step.rate < 0.9 * rate or step.errors:
                ceiling = float(rate)
                break
            below = float(rate)
        res.add(f"{key}_ceiling", f"{label}: ceiling (first offered rate with p99 > 100 ms)",
                "rolls/s", ceiling)  # fmt: skip
        res.add(f"{key}_below", f"{label}: highest step with p99 ≤ 100 ms", "rolls/s", below)
        capacity = await self.run(server, "capacity", sizes.capacity_classes, None, truncate)
        res.add(f"{key}_capacity", f"{label}: capacity, closed loop, {sizes.connections} conns",
                "rolls/s", capacity.rate)  # fmt: skip
        res.add(f"{key}_capacity_p99", f"{label}: capacity run p99", "ms", capacity.p99)


def attendance_env(
    dsn_url: str, run_id: str, jwks_url: str, *, traced: bool, otlp: str
) -> dict[str, str]:
    env = {
        "ATTENDANCE_DATABASE_URL": dsn_url,
        "ATTENDANCE_AMQP_URL": AMQP_URL,
        "ATTENDANCE_REDIS_URL": REDIS_URL,
        "ATTENDANCE_REDIS_PREFIX": f"hsdt-bench-attendance-{run_id}:",
        "ATTENDANCE_JWKS_URL": jwks_url,
        "ATTENDANCE_ENVIRONMENT": "production",
        "ATTENDANCE_DEFAULT_WEEKDAYS": "[1,2,3,4,5,6,7]",
        "ATTENDANCE_DEFAULT_FIRST_PERIOD": FIRST_PERIOD,
        "ATTENDANCE_DEADLINE_MINUTES": str(GRACE_MINUTES),
        "OTEL_SERVICE_NAME": "attendance",
    }
    if traced:
        env["ATTENDANCE_TRACE_SAMPLE_RATIO"] = str(TRACE_RATIO)
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp
    else:
        env["OTEL_SDK_DISABLED"] = "true"
    return env


def profile_summary(path: Path, rolls: int) -> dict[str, Any]:
    """Top functions by own and cumulative time, per roll; statement executions per roll."""
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    executes = 0
    compile_callers: dict[str, float] = {}
    for (file, line, name), (_, calls, own, cum, callers) in raw.items():
        where = f"{Path(file).name}:{line}({name})"
        rows.append((where, calls, own, cum))
        if name == "_prepare_and_execute" and "asyncpg" in file:
            executes += calls
        if name == "<built-in method builtins.compile>":
            # Who generates code per request: the callers of Python's compile().
            for (c_file, c_line, c_name), c_stats in callers.items():
                compile_callers[f"{c_file}:{c_line}({c_name})"] = c_stats[0] / rolls
    out: dict[str, Any] = {
        "statements_per_roll": executes / rolls,
        "compile_calls_per_roll_by_caller": compile_callers,
    }
    for key, index in (("own", 2), ("cumulative", 3)):
        top = sorted(rows, key=lambda r: float(r[index]), reverse=True)[:25]
        out[key] = [
            {"function": r[0], "calls_per_roll": int(r[1]) / rolls,
             "us_per_roll": float(r[index]) * 1e6 / rolls}
            for r in top
        ]  # fmt: skip
    buf = io.StringIO()
    pstats.Stats(str(path), stream=buf).sort_stats("cumulative").print_stats(40)
    out["text"] = buf.getvalue()
    return out


# ---------------------------------------------------------------------------------------------
# Report


ROWS: Final = ("total", "rate", "p50", "p95", "p99", "errors", "cpu", "below", "ceiling",
               "capacity", "capacity_p99")  # fmt: skip
SERVERS: Final = (
    ("off", "ours, telemetry off"),
    ("on", f"ours, telemetry {TRACE_RATIO}"),
    ("base", "baseline: FastAPI + asyncpg"),
)


def report(results: Results) -> dict[str, float]:
    med = results.median
    out = {}
    for key, name in (("off", "telemetry off"), ("on", f"telemetry {TRACE_RATIO}")):
        out[f"capacity rolls/s, ours ({name}) / baseline"] = ratio(
            med(f"{key}_capacity"), med("base_capacity")
        )
        out[f"province p99, ours ({name}) / baseline"] = ratio(med(f"{key}_p99"), med("base_p99"))
        out[f"ceiling, ours ({name}) / baseline"] = ratio(
            med(f"{key}_ceiling"), med("base_ceiling")
        )
        out[f"server CPU per roll, ours ({name}) / baseline"] = ratio(
            med(f"{key}_cpu"), med("base_cpu")
        )
    out["capacity, telemetry on / off"] = ratio(med("on_capacity"), med("off_capacity"))
    return out


def goals(results: Results, sizes: Sizes) -> dict[str, dict[str, Any]]:
    from bench.province import Scale  # noqa: PLC0415

    med = results.median
    out = {}
    for key, name in (("off", "telemetry off"), ("on", f"telemetry {TRACE_RATIO}")):
        seconds = med(f"{key}_total") * Scale.of(1.0).classes / sizes.classes
        out[name] = {
            "province (scaled to 10,000 classes) < 60 s": seconds < GOAL_SECONDS,
            "province seconds, scaled": seconds,
            "p99 < 100 ms at the offered rate": med(f"{key}_p99") < P99_GOAL_MS,
            "zero errors": med(f"{key}_errors") == 0,
            "ceiling ≥ 170 rolls/s": med(f"{key}_below") >= 170,
        }
    return out


def print_table(results: Results, ratios: dict[str, float], sizes: Sizes) -> None:
    width = 66
    print()
    print(f"{'figure':<{width}} {'median':>10}  unit")
    print("-" * (width + 24))
    for key, _ in SERVERS:
        for row in ROWS:
            fig = results.figures.get(f"{key}_{row}")
            if fig is not None:
                print(f"{fig.label:<{width}} {fig.median:>10,.1f}  {fig.unit}")
        print()
    print("ratios")
    for name, value in ratios.items():
        print(f"  {name:<{width - 2}} {value:>10.3f}")
    print()
    print("goals (the province in < 60 s ≈ 170 rolls/s, p99 < 100 ms, zero errors)")
    for mode, checks in goals(results, sizes).items():
        met = ", ".join(
            f"{k}: {'met' if v else 'MISSED'}" for k, v in checks.items() if isinstance(v, bool)
        )
        print(f"  {mode}: {met}")


# ---------------------------------------------------------------------------------------------
# The run


async def run(sizes: Sizes) -> dict[str, Any]:
    from bench.province import Scale  # noqa: PLC0415
    from common.testing import TokenIssuer, alembic, serving  # noqa: PLC0415

    started = time.monotonic()
    load_avg = os.getloadavg()
    run_id = uuid.uuid4().hex[:8]
    database = f"hsdt_bench_attendance_{run_id}"
    url = f"postgresql+asyncpg://postgres@{PG_HOST}/{database}"
    dsn = f"postgresql://postgres@{PG_HOST}/{database}"
    results = Results()
    scale = Scale.of(sizes.scale)
    issuer = TokenIssuer()
    side = FastAPI()
    spans_received = Counter[str]()

    @side.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return issuer.jwks()

    @side.post("/v1/{signal_}")
    async def otlp_sink(signal_: str, request: Request) -> Response:
        spans_received[signal_] += len(await request.body())
        return Response(b"", 200, media_type="application/x-protobuf")

    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    profile: dict[str, Any] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="hsdt-bench-attendance-") as tmp:
            tmpdir = Path(tmp)
            await asyncio.to_thread(alembic, "attendance", url)
            await create_baseline_tables(dsn)
            rng = random.Random(7)
            local_now = datetime.now(VIETNAM)
            today = local_now.date()
            if local_now.time() >= time_of(15, 30):
                print("WARNING: after 15:30 in Việt Nam the rolls will be late", file=sys.stderr)
            seeded = await seed(dsn, scale, today, rng)
            print(
                f"province seeded: {scale.schools} schools, {len(seeded.classes):,} classes, "
                f"{seeded.rows['enrolments']:,} students in {seeded.seconds:.1f} s "
                f"(day {today}, year {seeded.year_code})",
                file=sys.stderr,
            )
            t0 = time.perf_counter()
            requests = encode_requests(seeded, issuer, rng)
            plan = tmpdir / "requests.pickle"
            plan.write_bytes(pickle.dumps(requests))
            print(
                f"{len(requests):,} requests encoded ({sum(map(len, requests)) // len(requests):,}"
                f" bytes each) in {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
            generator = await LoadGenerator.start(plan)
            bench = Bench(sizes, dsn, generator, results)
            setup_s = time.monotonic() - started
            async with serving(side) as side_url, contextlib.AsyncExitStack() as stack:
                stack.push_async_callback(generator.stop)
                jwks_url = f"{side_url}/.well-known/jwks.json"
                base = await start_server(
                    "baseline", "bench.attendance:baseline_app",
                    {"BENCH_ATTENDANCE_DSN": dsn}, tmpdir,
                )  # fmt: skip
                try:
                    await bench.measure(base, "base", SERVERS[2][1], BASELINE_TRUNCATE)
                finally:
                    await base.stop()
                for key, label in SERVERS[:2]:
                    env = attendance_env(url, run_id, jwks_url, traced=key == "on", otlp=side_url)
                    ours = await start_server(
                        f"attendance-{key}", "attendance.app:create_app", env, tmpdir
                    )
                    try:
                        await bench.measure(ours, key, label, TRUNCATE)
                    finally:
                        await ours.stop()
                if sizes.profile:
                    env = attendance_env(url, run_id, jwks_url, traced=False, otlp=side_url)
                    stats = tmpdir / "attendance.prof"
                    ours = await start_server(
                        "attendance-profiled", "attendance.app:create_app", env, tmpdir,
                        prefix=("-m", "cProfile", "-o", str(stats)),
                    )  # fmt: skip
                    try:
                        await bench.run(ours, "warmup", sizes.warmup, None, TRUNCATE)
                        profiled = await bench.run(
                            ours, "profiled", sizes.capacity_classes, None, TRUNCATE
                        )
                    finally:
                        await ours.stop()
                    # cProfile counts start-up and warm-up too; per roll over every request.
                    profile = profile_summary(stats, sizes.warmup + profiled.count)
                    print(profile["text"], file=sys.stderr)
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
    ratios = report(results)
    print_table(results, ratios, sizes)
    elapsed = time.monotonic() - started
    print(f"\nprovince: {scale}; {len(seeded.classes):,} classes, "
          f"{seeded.rows['enrolments']:,} students seeded in {seeded.seconds:.1f} s")  # fmt: skip
    print(f"whole run {elapsed:.0f} s (setup {setup_s:.0f} s); load average at start "
          f"{load_avg[0]:.2f}; OTLP bytes received {dict(spans_received)}")  # fmt: skip
    print(f"results in {RESULTS}")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run --no-sync python -m bench.attendance " + " ".join(sys.argv[1:]),
        "machine": machine() | {"load_average_at_start": load_avg},
        "versions": versions(
            (
                "fastapi",
                "uvicorn",
                "uvloop",
                "httptools",
                "sqlalchemy",
                "asyncpg",
                "pydantic",
                "opentelemetry-sdk",
            )
        ),
        "sizes": asdict(sizes),
        "province": {
            "scale": asdict(scale),
            "rows": dict(seeded.rows),
            "seconds": seeded.seconds,
            "day": seeded.day.isoformat(),
            "year": seeded.year_code,
        },
        "trace_sample_ratio": TRACE_RATIO,
        "otlp_bytes_received": dict(spans_received),
        "figures": {
            key: {"label": fig.label, "unit": fig.unit, "median": fig.median, "runs": fig.runs}
            for key, fig in results.figures.items()
        },
        "phases": [asdict(p) for p in bench.phases],
        "ratios": ratios,
        "goals": goals(results, sizes),
        "profile": {k: v for k, v in profile.items() if k != "text"} if profile else None,
        "seconds": elapsed,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["load"]:
        load_main(args_in[1:])
        return
    parser = argparse.ArgumentParser(
        prog="python -m bench.attendance", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 classes")
    parser.add_argument("--rate", type=float, default=200.0, help="offered rolls/s, province run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--step", type=int, default=0, help="classes per ceiling step")
    parser.add_argument("--profile", action="store_true", help="also profile the app (cProfile)")
    args = parser.parse_args(args_in)
    sizes = Sizes(args.scale, args.rate, args.connections, args.step, args.profile)
    if not args.step:
        sizes = replace(sizes, step=max(200, min(1_000, sizes.classes // 10)))
    out = asyncio.run(run(sizes))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
