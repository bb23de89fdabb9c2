"""Progress benchmark: the province dashboard at province scale, and what keeping the progress
aggregates adds to a grade-sheet save, both measured in the same run.

    uv run --no-sync python -m bench.progress [--scale 1.0 | --database NAME] [--reps 30] [--quick]

Setup: a synthetic province from ``bench.province`` (by default the full one: 500 schools,
10,000 classes, 300,000 students with a full year of entries; ``--scale`` shrinks it), loaded
here into ``hsdt_bench_progress_<id>`` (dropped at the end unless ``--keep``), or an existing
database kept by ``python -m bench.province --keep`` (``--database``; left as it was, apart from
the benchmark's one extra class). ``ANALYZE`` after the load; ``gc.freeze()`` before measuring.

Figures:

(a) dashboard queries: ``records.progress.progress_lines`` in a unit of work of its own, plus
    building the route's response model and serialising it to JSON (``api.progress``'s work
    without HTTP and token checks), for the province, its largest district and its largest
    school, grouped by school, district, class, teacher, subject and month, all periods;
    ``--reps`` times each, p50 / p99;
(b) the save: a 45-student grade-6 class in the largest THCS with its maths teacher, saving the
    ``tx1`` column through ``records.handlers.sheets.save_sheet`` in a cycle of three saves —
    fill every cell (45 new entries), change every value (no count moves), clear every cell
    (45 cleared: the one case that reads ``entry_changes``) — with the progress hook and with
    ``records.progress.sheet_saved`` replaced by a no-op, in alternating blocks; p50 / p99 of
    each and their ratio;
(c) diagnostic: ``recount_class`` (roster changes, bulk loads) on a fully loaded class.

The table goes to stdout and everything to ``bench/results/progress.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import records.progress as progress
from bench.figures import machine, versions
from bench.province import (
    PG_HOST,
    Loader,
    Scale,
    create_database,
    drop_database,
    loader_actor,
    profiles,
)
from bench.records import percentile, teacher_actor
from common.db import create_engine, create_sessionmaker
from records.api.progress import ProgressRead, _row, _total
from records.bulk import enrol_students
from records.domain.curriculum import Period, Term
from records.handlers.base import school_today
from records.handlers.classes import CreateClass, assign_teacher, create_class
from records.handlers.sheets import CellInput, SaveSheet, save_sheet
from records.models import ClassRow, EnrolmentRow, OrgUnitRow, SchoolYearRow, SheetProgressRow
from records.progress import GroupBy, progress_lines, review_period
from records.uow import RecordsUnitOfWork

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "progress.json"
CLASS_SIZE: Final = 45
GRACE_DAYS: Final = 21


@dataclass
class Scopes:
    province: OrgUnitRow
    district: OrgUnitRow
    school: OrgUnitRow  # the largest school
    thcs: OrgUnitRow  # the largest THCS (the saves' class goes there)
    year: SchoolYearRow


async def find_scopes(sessions: async_sessionmaker[AsyncSession]) -> Scopes:
    async with sessions() as session:
        province = (
            await session.scalars(select(OrgUnitRow).where(OrgUnitRow.kind == "province"))
        ).one()
        year = (await session.scalars(select(SchoolYearRow))).one()
        size = func.count(EnrolmentRow.id)
        by_school = (
            await session.execute(
                select(OrgUnitRow, size)
                .join(EnrolmentRow, EnrolmentRow.school_id == OrgUnitRow.id)
                .group_by(OrgUnitRow.id)
                .order_by(size.desc())
            )
        ).all()
        school = by_school[0][0]
        thcs = next(u for u, _ in by_school if u.levels == ["lower_secondary"])
        district_size = func.sum(SheetProgressRow.required)
        district_id = (
            await session.execute(
                select(SheetProgressRow.district_id)
                .where(SheetProgressRow.district_id.is_not(None))
                .group_by(SheetProgressRow.district_id)
                .order_by(district_size.desc())
                .limit(1)
            )
        ).scalar_one()
        district = await session.get(OrgUnitRow, district_id)
        assert district is not None
        return Scopes(province, district, school, thcs, year)


def pct(values: Sequence[float]) -> tuple[float, float]:
    ms = sorted(v * 1000 for v in values)
    return percentile(ms, 50), percentile(ms, 99)


# --- (a) the dashboard ----------------------------------------------------------------------------


async def dashboard(
    uow_factory: Callable[[], RecordsUnitOfWork], scopes: Scopes, reps: int
) -> list[dict[str, Any]]:
    figures = []
    for name, unit in (
        ("province", scopes.province),
        ("district", scopes.district),
        ("school", scopes.school),
    ):
        for by in GroupBy:
            times: list[float] = []
            count = 0
            for _ in range(reps):
                started = time.perf_counter()
                uow = uow_factory()
                async with uow:
                    lines = await progress_lines(uow, unit, scopes.year.id, None, by)
                body = ProgressRead(
                    unit_id=unit.id,
                    unit_code=unit.code,
                    school_year_id=scopes.year.id,
                    period=None,
                    review_period=review_period(None),
                    by=by,
                    rows=[_row(x) for x in lines],
                    total=_row(_total(lines, by)),
                ).model_dump_json()
                times.append(time.perf_counter() - started)
                count = len(lines)
                assert body
            p50, p99 = pct(times)
            figures.append({"scope": name, "by": by.value, "rows": count, "p50": p50, "p99": p99})
            print(
                f"  {name:<8} by {by.value:<8} {count:>6,} rows  p50 {p50:7.1f} ms  "
                f"p99 {p99:7.1f} ms",
                file=sys.stderr,
                flush=True,
            )
    return figures


# --- (b) the save ---------------------------------------------------------------------------------


@dataclass
class Target:
    class_id: uuid.UUID
    school_id: uuid.UUID
    students: list[uuid.UUID]
    teacher: uuid.UUID
    version: int = 0
    step: int = 0


async def make_target(
    uow_factory: Callable[[], RecordsUnitOfWork], scopes: Scopes, first_year: int
) -> Target:
    actor = loader_actor(scopes.province.id, uuid.uuid4())
    row = await create_class(
        uow_factory(),
        actor,
        CreateClass(
            scopes.thcs.id, scopes.year.id, 6, f"6P{uuid.uuid4().hex[:4]}", homeroom_teacher_id=None
        ),
    )
    students = await enrol_students(
        uow_factory(),
        actor,
        class_id=row.id,
        profiles=profiles(random.Random(3), CLASS_SIZE, 6, first_year),
        starts_on=scopes.year.starts_on,
    )
    teacher = uuid.uuid4()
    await assign_teacher(
        uow_factory(), actor, class_id=row.id, subject="toan", term=Term.TERM_1, teacher_id=teacher
    )
    return Target(row.id, scopes.thcs.id, students, teacher)


KINDS: Final = ("fill", "change", "clear")


async def one_save(uow_factory: Callable[[], RecordsUnitOfWork], target: Target) -> str:
    kind = KINDS[target.step % 3]
    target.step += 1
    values: list[object | None]
    if kind == "fill":
        values = [f"{6 + (i % 4) * 0.5:.1f}" for i in range(len(target.students))]
    elif kind == "change":
        values = [f"{7 + (i % 4) * 0.5:.1f}" for i in range(len(target.students))]
    else:
        values = [None] * len(target.students)
    outcome = await save_sheet(
        uow_factory(),
        teacher_actor(target.teacher, target.school_id),
        SaveSheet(
            class_id=target.class_id,
            sheet="toan",
            period=Period.TERM_1,
            if_match=target.version,
            cells=tuple(
                CellInput(s, "tx1", v) for s, v in zip(target.students, values, strict=True)
            ),
            assessed_on=school_today(),
        ),
        grace_days=GRACE_DAYS,
    )
    target.version = outcome.view.version
    return kind


async def _no_hook(*_: object, **__: object) -> None:
    return None


async def saves(
    uow_factory: Callable[[], RecordsUnitOfWork], target: Target, blocks: int, per_block: int
) -> dict[str, dict[str, list[float]]]:
    """Alternating blocks with and without the hook; latencies by variant and kind."""
    real = progress.sheet_saved
    out: dict[str, dict[str, list[float]]] = {"with": {}, "without": {}}
    for block in range(blocks * 2):
        variant = "with" if block % 2 == 0 else "without"
        progress.sheet_saved = real if variant == "with" else _no_hook
        try:
            for _ in range(per_block):
                started = time.perf_counter()
                kind = await one_save(uow_factory, target)
                out[variant].setdefault(kind, []).append(time.perf_counter() - started)
        finally:
            progress.sheet_saved = real
    return out


# --- (c) recount ----------------------------------------------------------------------------------


async def recount_times(
    uow_factory: Callable[[], RecordsUnitOfWork],
    sessions: async_sessionmaker[AsyncSession],
    reps: int,
) -> tuple[float, float, int]:
    async with sessions() as session:
        class_id, size = (
            await session.execute(
                select(ClassRow.id, func.count(EnrolmentRow.id))
                .join(EnrolmentRow, EnrolmentRow.class_id == ClassRow.id)
                .group_by(ClassRow.id)
                .order_by(func.count(EnrolmentRow.id).desc())
                .limit(1)
            )
        ).one()
    times = []
    for _ in range(reps):
        uow = uow_factory()
        async with uow:
            started = time.perf_counter()
            await progress.recount_class(uow, class_id)
            await uow.records.session.flush()
            times.append(time.perf_counter() - started)
            # Rolled back: the figures stay as they were.
    p50, p99 = pct(times)
    return p50, p99, int(size)


# --- the run --------------------------------------------------------------------------------------


async def timed(label: str, step: Awaitable[Any]) -> Any:
    started = time.perf_counter()
    result = await step
    print(f"{label}: {time.perf_counter() - started:,.1f} s", file=sys.stderr, flush=True)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    owned = args.database is None
    name = args.database or f"hsdt_bench_progress_{uuid.uuid4().hex[:8]}"
    url = (
        await create_database(name) if owned else f"postgresql+asyncpg://postgres@{PG_HOST}/{name}"
    )
    engine = create_engine(url, pool_size=4, application_name="bench-progress")
    sessions = create_sessionmaker(engine)

    def uow_factory() -> RecordsUnitOfWork:
        return RecordsUnitOfWork(sessions, source="records")

    load: dict[str, Any] = {"database": name, "loaded_here": owned}
    try:
        if owned:
            scale = Scale.of(args.scale)
            province = await Loader(sessions, seed=7, jobs=3).generate(scale)
            load |= {
                "scale": args.scale,
                "rows": province.total_rows,
                "seconds": province.seconds,
                "rows_per_s": province.total_rows / province.seconds,
            }
        async with sessions() as session:
            for table in ("students", "classes", "entries", "sheet_progress", "progress_monthly"):
                load[table] = int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        print(f"database {name}: {load}", file=sys.stderr, flush=True)
        scopes = await find_scopes(sessions)
        first_year = scopes.year.starts_on.year
        target = await make_target(uow_factory, scopes, first_year)
        gc.collect()
        gc.freeze()
        # Warm-up: plans, caches, the target's first saves.
        await dashboard(uow_factory, scopes, 1)
        for _ in range(6):
            await one_save(uow_factory, target)
        print("(a) dashboard", file=sys.stderr)
        board = await dashboard(uow_factory, scopes, args.reps)
        print("(b) saves", file=sys.stderr)
        latencies = await saves(uow_factory, target, args.blocks, 3 * args.cycles)
        save_figures: dict[str, Any] = {}
        for variant, kinds in latencies.items():
            every = [x for values in kinds.values() for x in values]
            p50, p99 = pct(every)
            save_figures[variant] = {
                "saves": len(every),
                "p50": p50,
                "p99": p99,
                "mean": statistics.fmean(every) * 1000,
                **{f"{k}_p50": pct(v)[0] for k, v in kinds.items()},
            }
        with_, without = save_figures["with"], save_figures["without"]
        save_figures["ratio_p50"] = with_["p50"] / without["p50"]
        save_figures["ratio_mean"] = with_["mean"] / without["mean"]
        for kind in KINDS:
            save_figures[f"ratio_{kind}_p50"] = with_[f"{kind}_p50"] / without[f"{kind}_p50"]
        print("(c) recount_class", file=sys.stderr)
        r50, r99, size = await recount_times(uow_factory, sessions, args.reps)
        return {
            "when": datetime.now(UTC).isoformat(),
            "machine": machine(),
            "versions": versions(("sqlalchemy", "asyncpg", "fastapi", "opentelemetry-sdk")),
            "load": load,
            "scopes": {
                "province": scopes.province.code,
                "district": scopes.district.code,
                "school": scopes.school.code,
                "thcs": scopes.thcs.code,
            },
            "dashboard": board,
            "save": save_figures,
            "recount": {"p50": r50, "p99": r99, "class_students": size},
        }
    finally:
        await engine.dispose()
        if owned and not args.keep:
            await drop_database(name)


def print_table(result: dict[str, Any]) -> None:
    load = result["load"]
    print(
        f"\nprovince: {load['students']:,} students, {load['classes']:,} classes, "
        f"{load['entries']:,} entries; {load['sheet_progress']:,} sheet_progress rows, "
        f"{load['progress_monthly']:,} progress_monthly rows"
    )
    print(f"scopes: {result['scopes']}")
    print("\n| scope | by | rows | p50 ms | p99 ms |\n|---|---|---:|---:|---:|")
    for f in result["dashboard"]:
        print(f"| {f['scope']} | {f['by']} | {f['rows']:,} | {f['p50']:.1f} | {f['p99']:.1f} |")
    s = result["save"]
    print("\n| save of a 45-cell column | with hook | without | ratio |\n|---|---:|---:|---:|")
    print(
        f"| all, p50 ms | {s['with']['p50']:.2f} | {s['without']['p50']:.2f} | "
        f"{s['ratio_p50']:.3f} |"
    )
    print(
        f"| all, p99 ms | {s['with']['p99']:.2f} | {s['without']['p99']:.2f} | "
        f"{s['with']['p99'] / s['without']['p99']:.3f} |"
    )
    print(
        f"| all, mean ms | {s['with']['mean']:.2f} | {s['without']['mean']:.2f} | "
        f"{s['ratio_mean']:.3f} |"
    )
    for kind in KINDS:
        print(
            f"| {kind}, p50 ms | {s['with'][f'{kind}_p50']:.2f} | "
            f"{s['without'][f'{kind}_p50']:.2f} | {s[f'ratio_{kind}_p50']:.3f} |"
        )
    r = result["recount"]
    print(
        f"\nrecount_class of a {r['class_students']}-student class with a full year: "
        f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.progress", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="province size (1 = 300,000)")
    parser.add_argument("--database", help="use a province kept by bench.province --keep")
    parser.add_argument("--keep", action="store_true", help="keep a database loaded here")
    parser.add_argument("--reps", type=int, default=30, help="runs of each dashboard query")
    parser.add_argument("--blocks", type=int, default=4, help="blocks of saves per variant")
    parser.add_argument("--cycles", type=int, default=15, help="fill/change/clear per block")
    parser.add_argument("--quick", action="store_true", help="scale 0.01, few repetitions")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.reps, args.blocks, args.cycles = 0.01, 3, 2, 3
    result = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))
    print_table(result)


if __name__ == "__main__":
    main()
