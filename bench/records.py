"""Records benchmark: saving a grade-sheet column, and computing a school's year results, each
against raw baselines measured in the same run.

    uv run --no-sync python -m bench.records [--quick]

Setup: its own database (``hsdt_bench_records_<id>``, dropped at the end), migrated; the records
app with telemetry at the production sampling (parent-based ratio 0.1, sampled spans exported to
an in-memory exporter); a synthetic province from ``bench.province`` (scale 0.01: 5 schools,
100 classes, 3,000 students with a full year of entries, plus a 1,000-student THCS of 24
classes); then nine grade-6 classes of 45 students in that THCS, each with its maths teacher
for term 1 (one class gets eight subject teachers). ``gc.freeze()`` after setup.

Figures (each the median of three runs after a warm-up; ``--quick`` runs each once, smaller,
on a province of scale 0.001):

(a) saving one column (``tx1``) of a 45-student sheet, every cell changed each time:
    - ours: ``records.handlers.sheets.save_sheet`` called directly with an ``Actor`` of the
      assigned teacher (a ``Principal`` with a teacher grant), sequential, and 8 concurrent
      savers on 8 classes' sheets; p50 / p99 latency per save and sheets/s;
    - the same through HTTP: PATCH with ``If-Match`` through ``httpx.ASGITransport``;
    - diagnostic: 8 concurrent savers on 8 subjects of one class (they queue on the class row);
    - diagnostic: sequential saves with ``RecordsRepository.write_cells`` swapped for a version
      that passes the rows as executemany parameters (what that change would give; not applied);
    - raw: the same 45 rows into a scratch table with the entries table's columns and indexes
      (``LIKE entries INCLUDING ALL``), one transaction per save, bare asyncpg ``executemany``
      and ``copy_records_to_table``, sequential and on 8 connections;
(b) a 1,000-student school's year results: ``compute_class_results`` (period ``year``) for each
    of its 24 classes, one unit of work each; students/s. Baselines: the rule computation alone
    (``rule_set.compute`` over pre-loaded ``StudentInputs``), and the loading alone (the same
    queries, no rules), to show the database's share.

The table goes to stdout and everything to ``bench/results/records.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bench import figures
from bench.figures import machine, ratio, versions
from bench.province import (
    Loader,
    Province,
    Scale,
    create_database,
    drop_database,
    profiles,
)
from common.auth import Grant, Principal
from common.events.records import ResultPeriod
from common.telemetry import setup_telemetry
from common.testing import TokenIssuer, serving
from records.access import Actor
from records.app import create_app
from records.bulk import enrol_students
from records.domain.curriculum import Period, Term
from records.handlers.base import class_of
from records.handlers.calendar import spec_of
from records.handlers.classes import CreateClass, assign_teacher, create_class
from records.handlers.results import _cells_by_student, compute_class_results
from records.handlers.sheets import CellInput, SaveSheet, save_sheet
from records.models import EntryChangeRow, EntryRow
from records.repository import RecordsRepository
from records.rules import RuleOptions, StudentInputs, rule_set_for
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork

PG_HOST = os.environ.get("HSDT_BENCH_PG_HOST", "127.0.0.1:5432")
REDIS_URL = os.environ.get("HSDT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("HSDT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "records.json"
TRACE_RATIO: Final = 0.1
CLASS_SIZE: Final = 45
CONCURRENCY: Final = 8
SUBJECTS_6: Final = (
    "toan", "ngu_van", "ngoai_ngu_1", "gdcd", "ls_dl", "khtn", "cong_nghe", "tin_hoc"
)  # fmt: skip
SCRATCH_COLUMNS: Final = (
    "sheet_id", "student_id", "column", "value", "assessed_on", "entered_by", "entered_at"
)  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    reps: int
    scale: float
    saves: int  # sequential saves per run
    per_saver: int  # saves per concurrent saver per run
    http_saves: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(reps=3, scale=0.01, saves=300, per_saver=40, http_saves=200)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(reps=1, scale=0.001, saves=40, per_saver=8, http_saves=30)


class Results(figures.Results):
    digits = 2

    def saves(self, key: str, label: str, latencies: Sequence[float], elapsed: float) -> None:
        """p50 / p99 in ms and sheets/s of one run of saves."""
        ms = sorted(x * 1000 for x in latencies)
        self.add(f"{key}_p50", f"{label}: p50", "ms", percentile(ms, 50))
        self.add(f"{key}_p99", f"{label}: p99", "ms", percentile(ms, 99))
        self.add(f"{key}_rate", f"{label}: throughput", "sheets/s", len(ms) / elapsed)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def teacher_actor(teacher: uuid.UUID, school: uuid.UUID) -> Actor:
    principal = Principal(
        subject=str(teacher),
        kind="user",
        grants=(Grant("teacher", str(school)),),
        token_id=uuid.uuid4().hex,
        expires_at=datetime.now(UTC) + timedelta(hours=2),
    )
    return Actor.of(principal)


# ---------------------------------------------------------------------------------------------
# Setup


@dataclass
class SheetTarget:
    """One sheet a saver writes: its class, subject, teacher and the version it last saw."""

    class_id: uuid.UUID
    subject: str
    teacher: uuid.UUID
    actor: Actor
    headers: dict[str, str]
    students: list[uuid.UUID]
    version: int = 0
    flip: bool = False

    def cells(self) -> tuple[CellInput, ...]:
        """The whole column, every value different from the last save's."""
        self.flip = not self.flip
        base = 6 if self.flip else 7
        return tuple(
            CellInput(s, "tx1", f"{base + (i % 4) * 0.5:.1f}".replace(".", ","))
            for i, s in enumerate(self.students)
        )


@dataclass
class Bench:
    app: FastAPI
    client: httpx.AsyncClient
    settings: RecordsSettings
    province: Province
    targets: list[SheetTarget]  # one maths sheet on each of 9 classes
    one_class: list[SheetTarget]  # 8 subjects of the first class
    exporter: InMemorySpanExporter
    database: str
    database_url: str

    def uow(self) -> RecordsUnitOfWork:
        uow = self.app.state.deps.uow_factory()
        assert isinstance(uow, RecordsUnitOfWork)
        return uow


async def _sheet_classes(
    app: FastAPI, province: Province, issuer: TokenIssuer
) -> tuple[list[SheetTarget], list[SheetTarget]]:
    """Nine grade-6 classes of 45 in the 1,000-student THCS, each with its maths teacher; the
    first with a teacher for each of eight subjects too."""
    assert province.results_school is not None
    school = province.results_school.id
    sessions = app.state.deps.sessionmaker
    actor = province.actor

    def uow() -> RecordsUnitOfWork:
        return RecordsUnitOfWork(sessions, source="records")

    rng = random.Random(45)
    targets: list[SheetTarget] = []
    one_class: list[SheetTarget] = []
    for n in range(CONCURRENCY + 1):
        row = await create_class(
            uow(),
            actor,
            CreateClass(school, province.year_id, 6, f"6B{n + 1}", homeroom_teacher_id=None),
        )
        students = await enrol_students(
            uow(),
            actor,
            class_id=row.id,
            profiles=profiles(rng, CLASS_SIZE, 6, province.first_year),
            starts_on=date(province.first_year, 9, 5),
        )
        for subject in SUBJECTS_6 if n == 0 else SUBJECTS_6[:1]:
            teacher = uuid.uuid4()
            await assign_teacher(
                uow(), actor, class_id=row.id, subject=subject, term=Term.TERM_1, teacher_id=teacher
            )
            target = SheetTarget(
                row.id,
                subject,
                teacher,
                teacher_actor(teacher, school),
                issuer.headers(teacher, f"teacher@{school}", lifetime_seconds=7200),
                students,
            )
            (one_class if n == 0 else targets).append(target)
    # The first class's maths sheet is one of the nine targets too.
    targets.insert(0, one_class[0])
    return targets, one_class


@contextlib.asynccontextmanager
async def records_bench(sizes: Sizes, run_id: str) -> AsyncIterator[Bench]:
    database = f"hsdt_bench_records_{run_id}"
    url = await create_database(database)
    issuer = TokenIssuer()
    jwks_app = FastAPI()

    @jwks_app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return issuer.jwks()

    try:
        async with serving(jwks_app) as jwks_base:
            issuer.jwks_url = f"{jwks_base}/.well-known/jwks.json"
            settings = RecordsSettings(
                database_url=url,
                amqp_url=AMQP_URL,
                redis_url=REDIS_URL,
                redis_prefix=f"hsdt-bench-records-{run_id}:",
                jwks_url=issuer.jwks_url,
                data_key=SecretStr(f"bench-records-data-key-{uuid.uuid4().hex}"),
                token_issuer=issuer.issuer,
                token_audience=issuer.audience,
                trace_sample_ratio=TRACE_RATIO,
                database_pool_size=CONCURRENCY + 2,
            )
            app = create_app(settings)
            exporter = InMemorySpanExporter()
            setup_telemetry(settings.service_name, settings, span_exporter=exporter)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://records/api/v1"
                ) as client,
            ):
                logging.getLogger("httpx").setLevel(logging.WARNING)
                loader = Loader(app.state.deps.sessionmaker, seed=11, jobs=2)
                province = await loader.generate(Scale.of(sizes.scale), results_school=True)
                rate = province.total_rows / province.seconds
                print(
                    f"province loaded: {province.total_rows:,} rows in {province.seconds:.1f} s"
                    f" ({rate:,.0f} rows/s)",
                    file=sys.stderr,
                )
                targets, one_class = await _sheet_classes(app, province, issuer)
                yield Bench(
                    app, client, settings, province, targets, one_class, exporter, database, url
                )
    finally:
        await drop_database(database)


# ---------------------------------------------------------------------------------------------
# (a) saving a sheet column


async def save_direct(bench: Bench, target: SheetTarget) -> None:
    outcome = await save_sheet(
        bench.uow(),
        target.actor,
        SaveSheet(target.class_id, target.subject, Period.TERM_1, target.version, target.cells()),
        grace_days=bench.settings.entry_grace_days,
    )
    if len(outcome.changed) != CLASS_SIZE:
        raise RuntimeError(f"expected {CLASS_SIZE} changed cells, got {len(outcome.changed)}")
    target.version = outcome.view.version


async def save_http(bench: Bench, target: SheetTarget) -> None:
    cells = [
        {"student_id": str(c.student_id), "column": c.column, "value": c.value}
        for c in target.cells()
    ]
    response = await bench.client.patch(
        f"/classes/{target.class_id}/sheets/{target.subject}/term_1",
        json={"cells": cells},
        headers={**target.headers, "If-Match": f'"{target.version}"'},
    )
    if response.status_code != 200:
        raise RuntimeError(f"PATCH: {response.status_code} {response.text[:300]}")
    target.version = int(response.headers["etag"].strip('"'))


Saver = Callable[[SheetTarget], Awaitable[None]]


async def _write_cells_executemany(
    self: RecordsRepository,
    sheet_id: uuid.UUID,
    upserts: Sequence[dict[str, object]],
    deletions: Sequence[tuple[uuid.UUID, str]],
    changes: Sequence[dict[str, object]],
) -> None:
    """``RecordsRepository.write_cells`` with the rows passed as executemany parameters of one
    cached statement instead of a multi-row VALUES built and compiled for every save."""
    if upserts:
        statement = pg_insert(EntryRow)
        statement = statement.on_conflict_do_update(
            index_elements=[EntryRow.sheet_id, EntryRow.student_id, EntryRow.column],
            set_={
                k: statement.excluded[k]
                for k in ("value", "assessed_on", "entered_by", "entered_at")
            },
        )
        await self.session.execute(statement, list(upserts))
    if deletions:
        await _WRITE_CELLS(self, sheet_id, [], deletions, [])
    if changes:
        await self.session.execute(insert(EntryChangeRow), list(changes))


_WRITE_CELLS: Final = RecordsRepository.write_cells


async def save_direct_executemany(bench: Bench, target: SheetTarget) -> None:
    """Diagnostic: ``save_direct`` with ``_write_cells_executemany`` swapped in for the call."""
    setattr(RecordsRepository, "write_cells", _write_cells_executemany)  # noqa: B010
    try:
        await save_direct(bench, target)
    finally:
        setattr(RecordsRepository, "write_cells", _WRITE_CELLS)  # noqa: B010


async def timed_saves(
    targets: Sequence[SheetTarget], per_target: int, save: Saver
) -> tuple[list[float], float]:
    """Each target saved ``per_target`` times by its own task; latencies and elapsed seconds."""
    latencies: list[float] = []

    async def saver(target: SheetTarget) -> None:
        for _ in range(per_target):
            start = time.perf_counter()
            await save(target)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(saver(t) for t in targets))
    return latencies, time.perf_counter() - start


class Raw:
    """The same 45 rows into a scratch table like ``entries``, by bare asyncpg."""

    def __init__(self, pool: asyncpg.Pool, students: list[uuid.UUID]) -> None:
        self.pool = pool
        self.students = students

    def rows(self) -> list[tuple[object, ...]]:
        sheet, person, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
        on = now.date()
        return [(sheet, s, "tx1", "7.5", on, person, now) for s in self.students]

    async def executemany(self, _: SheetTarget) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                'INSERT INTO scratch_entries (sheet_id, student_id, "column", value, '
                "assessed_on, entered_by, entered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                self.rows(),
            )

    async def copy(self, _: SheetTarget) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "scratch_entries", records=self.rows(), columns=SCRATCH_COLUMNS
            )


async def bench_sheets(bench: Bench, sizes: Sizes, results: Results) -> None:
    dsn = bench.database_url.replace("postgresql+asyncpg", "postgresql")
    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE scratch_entries (LIKE entries INCLUDING ALL)")
        raw = Raw(pool, bench.targets[0].students)
        first = bench.targets[:1]
        http = bench.targets[-1:]
        eight = bench.targets[1 : 1 + CONCURRENCY]
        label = f"{CLASS_SIZE}-cell column"
        cases: list[tuple[str, str, Sequence[SheetTarget], int, Saver]] = [
            ("ours_seq", f"ours: save_sheet, {label}, sequential", first, sizes.saves,
             lambda t: save_direct(bench, t)),
            ("ours_conc", f"ours: save_sheet, {CONCURRENCY} savers on {CONCURRENCY} classes",
             eight, sizes.per_saver, lambda t: save_direct(bench, t)),
            ("http_seq", "ours: PATCH over ASGITransport, sequential", http, sizes.http_saves,
             lambda t: save_http(bench, t)),
            ("http_conc", f"ours: PATCH, {CONCURRENCY} clients on {CONCURRENCY} classes",
             eight, sizes.per_saver, lambda t: save_http(bench, t)),
            ("one_class", f"diagnostic: save_sheet, {CONCURRENCY} subjects of one class",
             bench.one_class, sizes.per_saver, lambda t: save_direct(bench, t)),
            ("diag_em", "diagnostic: save_sheet, write_cells as executemany", first,
             sizes.saves, lambda t: save_direct_executemany(bench, t)),
            ("raw_many_seq", "raw: asyncpg executemany of 45 rows, sequential", first,
             sizes.saves, raw.executemany),
            ("raw_many_conc", f"raw: executemany, {CONCURRENCY} connections", eight,
             sizes.per_saver * 2, raw.executemany),
            ("raw_copy_seq", "raw: asyncpg COPY of 45 rows, sequential", first, sizes.saves,
             raw.copy),
            ("raw_copy_conc", f"raw: COPY, {CONCURRENCY} connections", eight,
             sizes.per_saver * 2, raw.copy),
        ]  # fmt: skip
        # Warm-up: each case at a tenth of its size (and the sheets' first, inserting saves).
        for _, _, targets, count, save in cases:
            await timed_saves(targets, max(3, count // 10), save)
        for _ in range(sizes.reps):
            for key, text, targets, count, save in cases:
                latencies, elapsed = await timed_saves(targets, count, save)
                results.saves(key, text, latencies, elapsed)
                bench.exporter.clear()
    finally:
        await pool.close()


# ---------------------------------------------------------------------------------------------
# (b) a school's year results


async def load_inputs(
    bench: Bench, class_id: uuid.UUID, options: RuleOptions
) -> list[StudentInputs]:
    """A class's students' inputs by the queries ``compute_class_results`` makes (no rules)."""
    del options
    uow = bench.uow()
    async with uow:
        row = await class_of(uow, class_id)
        year = await uow.records.school_year(row.school_year_id)
        assert year is not None
        windows = await uow.records.period_windows(year.id)
        roster = await uow.records.class_roster(
            row.id, windows["term_1"].starts_on, windows["term_2"].ends_on
        )
        subjects = tuple(spec_of(s) for s in await uow.records.curriculum(year.id, row.grade))
        ids = [s.id for s, _ in roster]
        cells = await _cells_by_student(uow, year.id, row.id, ids)
        absences = await uow.records.absence_totals(year.id, ids)
        await uow.records.enrolments_in_class(row.id, ids)
        await uow.records.live_review(row.id, "year")
        inputs = []
        for sid in ids:
            total = absences.get(sid)
            inputs.append(
                StudentInputs(
                    grade=row.grade,
                    school_year=year.code,
                    subjects=subjects,
                    cells=cells.get(sid, {}),
                    absence_days=None
                    if total is None
                    else total.excused_days + total.unexcused_days,
                )
            )
        return inputs


async def bench_results(bench: Bench, sizes: Sizes, results: Results) -> dict[str, Any]:
    school = bench.province.results_school
    assert school is not None
    settings = bench.settings
    options = RuleOptions(
        year_average_from_rounded_terms=settings.year_average_from_rounded_terms,
        absence_limit_days=settings.absence_limit_days,
        primary_completion_min_score=settings.primary_completion_min_score,
        adjustment_one_level_up=settings.adjustment_one_level_up,
    )
    classes = [c.id for c in school.classes]
    students = school.students

    async def ours() -> int:
        count = 0
        for class_id in classes:
            uow = bench.uow()
            async with uow:
                row = await class_of(uow, class_id)
                outcome = await compute_class_results(uow, row, ResultPeriod.YEAR, options)
                count += len(outcome.students)
                if outcome.students and outcome.students[0].missing:
                    raise RuntimeError(f"incomplete results: {outcome.students[0].missing}")
        return count

    async def loading() -> list[list[StudentInputs]]:
        return [await load_inputs(bench, c, options) for c in classes]

    def pure(inputs: list[list[StudentInputs]]) -> int:
        count = 0
        for class_inputs in inputs:
            if not class_inputs:
                continue
            rules = rule_set_for(class_inputs[0].grade, class_inputs[0].school_year)
            for one in class_inputs:
                rules.compute(one, options)
                count += 1
        return count

    assert await ours() == students  # warm-up, and every student has a complete year
    preloaded = await loading()
    pure(preloaded)
    n_cells = sum(len(i.cells) for c in preloaded for i in c)
    for _ in range(sizes.reps):
        start = time.perf_counter()
        await ours()
        elapsed = time.perf_counter() - start
        results.add("results_ours", "ours: compute_class_results, year, 24 classes", "students/s",
                    students / elapsed)  # fmt: skip
        results.add("results_ours_s", "  the whole school", "s", elapsed)
        start = time.perf_counter()
        await loading()
        elapsed = time.perf_counter() - start
        results.add("results_load", "baseline: loading the inputs alone (same queries)",
                    "students/s", students / elapsed)  # fmt: skip
        start = time.perf_counter()
        pure(preloaded)
        elapsed = time.perf_counter() - start
        results.add("results_pure", "baseline: rule_set.compute over pre-loaded inputs",
                    "students/s", students / elapsed)  # fmt: skip
    return {"students": students, "classes": len(classes), "cells": n_cells}


# ---------------------------------------------------------------------------------------------
# Report


SAVE_KEYS: Final = (
    "ours_seq",
    "ours_conc",
    "http_seq",
    "http_conc",
    "one_class",
    "diag_em",
    "raw_many_seq",
    "raw_many_conc",
    "raw_copy_seq",
    "raw_copy_conc",
)
RESULT_KEYS: Final = ("results_ours", "results_ours_s", "results_load", "results_pure")


def report(results: Results) -> dict[str, float]:
    med = results.median
    out = {}
    for ours, raw in (
        ("ours_seq", "raw_many_seq"),
        ("ours_seq", "raw_copy_seq"),
        ("ours_conc", "raw_many_conc"),
        ("http_seq", "raw_many_seq"),
        ("http_conc", "raw_many_conc"),
        ("http_seq", "ours_seq"),
        ("diag_em", "ours_seq"),
    ):
        out[f"p50 {ours} / {raw}"] = ratio(med(f"{ours}_p50"), med(f"{raw}_p50"))
        out[f"sheets/s {ours} / {raw}"] = ratio(med(f"{ours}_rate"), med(f"{raw}_rate"))
    out["results: ours / pure rules (students/s)"] = ratio(med("results_ours"), med("results_pure"))
    s_ours = 1 / med("results_ours")
    out["results: share of time outside the rules"] = 1 - (1 / med("results_pure")) / s_ours
    out["results: share of time loading (same queries)"] = (1 / med("results_load")) / s_ours
    return out


def print_table(results: Results, ratios: dict[str, float]) -> None:
    width = 62
    print()
    print(f"{'figure':<{width}} {'median':>10}  {'unit':<10} runs")
    print("-" * (width + 44))
    for key in [f"{k}_{m}" for k in SAVE_KEYS for m in ("p50", "p99", "rate")] + list(RESULT_KEYS):
        fig = results.figures.get(key)
        if fig is None:
            continue
        runs = " / ".join(f"{r:,.2f}" for r in fig.runs)
        print(f"{fig.label:<{width}} {fig.median:>10,.2f}  {fig.unit:<10} {runs}")
    print()
    print("ratios (ours / raw)")
    for name, value in ratios.items():
        print(f"  {name:<{width - 2}} {value:>10.3f}")


async def run(sizes: Sizes) -> dict[str, Any]:
    started = time.monotonic()
    load = os.getloadavg()
    results = Results()
    async with records_bench(sizes, uuid.uuid4().hex[:8]) as bench:
        province = bench.province
        gc.collect()
        gc.freeze()
        setup_s = time.monotonic() - started
        await bench_sheets(bench, sizes, results)
        school = await bench_results(bench, sizes, results)
        spans = len(bench.exporter.get_finished_spans())
    ratios = report(results)
    print_table(results, ratios)
    elapsed = time.monotonic() - started
    print(f"\nprovince: {Scale.of(sizes.scale)} + a 1,000-student THCS; "
          f"{province.total_rows:,} rows in {province.seconds:.1f} s "
          f"({province.total_rows / province.seconds:,.0f} rows/s)")  # fmt: skip
    print(f"whole run {elapsed:.0f} s (setup {setup_s:.0f} s); load average at start {load[0]:.2f}")
    print(f"results in {RESULTS}")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run --no-sync python -m bench.records " + " ".join(sys.argv[1:]),
        "machine": machine() | {"load_average_at_start": load},
        "versions": versions(("sqlalchemy", "asyncpg", "fastapi", "httpx", "opentelemetry-sdk")),
        "sizes": asdict(sizes),
        "province": {
            "scale": asdict(Scale.of(sizes.scale)),
            "rows": dict(province.rows),
            "seconds": province.seconds,
            "rows_per_s": province.total_rows / province.seconds,
        },
        "results_school": school,
        "trace_sample_ratio": TRACE_RATIO,
        "spans_left_at_end": spans,
        "figures": {
            key: {"label": fig.label, "unit": fig.unit, "median": fig.median, "runs": fig.runs}
            for key, fig in results.figures.items()
        },
        "ratios": ratios,
        "seconds": elapsed,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.records", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="one run of each, smaller")
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    out = asyncio.run(run(sizes))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
