"""Progress figures (R11, R26, R6, R7) equal a brute-force recount from the entries and rosters.

Classes are built through the API with complete, partial, cleared and late entries (last
year's sheets entered today are late), with students enrolled and moved between saves; then
every grouping of ``GET /progress`` for a school, a district and the province, for each period
and for all, is compared with a recount written here from the tables themselves (entries,
entry history, enrolments, calendar, curriculum, assignments, reviews), not from
``records.progress``.
"""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import text

from records.handlers.base import school_today
from records.testing import RecordsWorld

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NAMES = ["Trần Văn Bình", "Nguyễn Thị An", "Lê Minh Anh", "Phạm Thu Ánh", "Đỗ Quang Huy"]
BYS = ("school", "district", "class", "teacher", "subject", "month")


async def save(
    world: RecordsWorld,
    class_id: uuid.UUID,
    headers: dict[str, str],
    sheet: str,
    period: str,
    cells: Sequence[tuple[uuid.UUID, str, object]],
    on: date,
) -> None:
    url = f"/classes/{class_id}/sheets/{sheet}/{period}"
    current = await world.client.get(url, headers=headers)
    assert current.status_code == 200, current.text
    saved = await world.client.patch(
        url,
        json={
            "cells": [{"student_id": str(s), "column": c, "value": v} for s, c, v in cells],
            "assessed_on": on.isoformat(),
        },
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert saved.status_code == 200, saved.text


async def build(world: RecordsWorld) -> None:
    """Five classes in three schools of two districts and one under the department."""
    today = school_today()
    units = world.units
    start = today - timedelta(days=20)
    on = today - timedelta(days=1)
    # A: THCS, grade 6: complete, partial, cleared; students enrolled and moved between saves.
    homeroom, t_toan, t_van, t_new = (uuid.uuid4() for _ in range(4))
    a = await world.new_class(units.thcs, 6, homeroom=homeroom)
    b = await world.new_class(units.thcs, 6)
    a_students = await world.add_students(a, units.thcs, NAMES[:4], start)
    b_students = await world.add_students(b, units.thcs, NAMES[3:], start)
    await world.assign(a, units.thcs, "toan", "term_1", t_toan)
    await world.assign(a, units.thcs, "ngu_van", "term_1", t_van)
    await world.assign(b, units.thcs, "toan", "term_1", t_toan)
    await world.fill(
        a, world.teacher(t_toan, units.thcs), "toan", "term_1",
        dict.fromkeys(a_students, "8"), on,
    )  # fmt: skip
    await save(
        world, a, world.teacher(t_van, units.thcs), "ngu_van", "term_1",
        [(a_students[0], "tx1", "7"), (a_students[1], "tx1", "6,5"), (a_students[1], "nx", "Tốt")],
        on,
    )  # fmt: skip
    await save(
        world, a, world.teacher(homeroom, units.thcs), "_conduct", "term_1",
        [(s, "rating", "T") for s in a_students[:3]],
        on,
    )  # fmt: skip
    # A student moves from A to B (A's roster for term 2 loses them), then a newcomer joins A.
    moved = await world.client.post(
        f"/students/{a_students[3]}/movements",
        json={"kind": "class_transfer", "effective_on": today.isoformat(), "to_class_id": str(b)},
        headers=world.admin_of(units.thcs),
    )
    assert moved.status_code == 201, moved.text
    newcomer = await world.add_students(a, units.thcs, ["Vũ Thị Mai"], today)
    # Saves after the roster changes: a value changed, a cell cleared, a cell re-entered.
    me = world.teacher(t_toan, units.thcs)
    await save(
        world, a, me, "toan", "term_1",
        [(a_students[0], "tx1", "9"), (a_students[1], "gk", None), (a_students[2], "ck", None),
         (newcomer[0], "tx1", "5")],
        today,
    )  # fmt: skip
    await save(world, a, me, "toan", "term_1", [(a_students[2], "ck", "6")], today)
    await save(
        world, b, me, "toan", "term_1",
        [(s, "tx1", "7") for s in b_students] + [(a_students[3], "tx2", "8")],
        today,
    )  # fmt: skip
    # The toan sheet changes hands: its figures follow the new teacher.
    await world.assign(a, units.thcs, "toan", "term_1", t_new)

    # C: last year's class in the other district, everything entered today: all late; its
    # term 1 confirmed and approved.
    c, c_homeroom, _, _ = await world.complete_year(units.other_thcs, NAMES[:3])
    await world.approve(c, units.other_thcs, c_homeroom, "term_1")
    # D: this year's THPT (under the department): partial, and one cleared cell.
    d = await world.new_class(units.thpt, 10)
    d_students = await world.add_students(d, units.thpt, NAMES[:2], start)
    t_d = uuid.uuid4()
    await world.assign(d, units.thpt, "toan", "term_1", t_d)
    teacher_d = world.teacher(t_d, units.thpt)
    await save(world, d, teacher_d, "toan", "term_1", [(d_students[0], "tx1", "4")], on)
    await save(world, d, teacher_d, "toan", "term_1", [(d_students[0], "tx1", None)], today)
    await save(world, d, teacher_d, "toan", "term_1", [(d_students[1], "gk", "10")], today)


# --- the recount -------------------------------------------------------------------------------


@dataclass
class Cell:
    """One required cell of a class's sheet for a period: its school, district, class,
    teacher and subject, and when (if at all) it was first entered."""

    year: uuid.UUID
    school: uuid.UUID
    district: uuid.UUID | None
    class_id: uuid.UUID
    teacher: uuid.UUID | None
    sheet: str
    period: str
    first_at: datetime | None
    late: bool


async def rows(world: RecordsWorld, sql: str) -> list[Any]:
    async with world.sessions() as session:
        return list((await session.execute(text(sql))).all())


async def recount(world: RecordsWorld) -> list[Cell]:
    """Every required cell of every class, from the tables (secondary classes only here)."""
    classes = await rows(
        world,
        "SELECT c.id, c.school_id, u.district_id, c.school_year_id, c.grade,"
        " c.homeroom_teacher_id FROM classes c JOIN org_units u ON u.id = c.school_id",
    )
    windows = {
        (r.school_year_id, r.period): (r.starts_on, r.ends_on)
        for r in await rows(world, "SELECT * FROM period_windows")
    }
    subjects: dict[tuple[uuid.UUID, int], list[tuple[str, int]]] = defaultdict(list)
    for r in await rows(
        world, "SELECT school_year_id, grade, code, regular_count FROM curriculum_subjects"
    ):
        subjects[(r.school_year_id, r.grade)].append((r.code, r.regular_count))
    enrolments = defaultdict(list)
    for r in await rows(world, "SELECT class_id, student_id, starts_on, ends_on FROM enrolments"):
        enrolments[r.class_id].append(r)
    teachers = {
        (r.class_id, r.subject_code, r.term): r.teacher_id
        for r in await rows(world, "SELECT * FROM teaching_assignments")
    }
    filled = {
        (r.class_id, r.sheet, r.period, r.student_id, r.column)
        for r in await rows(
            world,
            "SELECT s.class_id, s.sheet, s.period, e.student_id, e.column"
            " FROM entries e JOIN sheets s ON s.id = e.sheet_id",
        )
    }
    first: dict[tuple[Any, ...], datetime] = {}
    for r in await rows(
        world,
        "SELECT s.class_id, s.sheet, s.period, h.student_id, h.column, h.changed_at"
        " FROM entry_changes h JOIN sheets s ON s.id = h.sheet_id"
        " WHERE h.old_value IS NULL AND h.new_value IS NOT NULL ORDER BY h.id",
    ):
        first[(r.class_id, r.sheet, r.period, r.student_id, r.column)] = r.changed_at  # last wins
    cells: list[Cell] = []
    for k in classes:
        assert k.grade >= 6, "the recount knows secondary sheets only"
        for period in ("term_1", "term_2"):
            start, end = windows[(k.school_year_id, period)]
            roster = {
                e.student_id
                for e in enrolments[k.id]
                if e.starts_on <= end and (e.ends_on is None or e.ends_on >= start)
            }
            sheets = [
                (code, [f"tx{i}" for i in range(1, n + 1)] + ["gk", "ck"], teachers.get(
                    (k.id, code, period)))
                for code, n in subjects[(k.school_year_id, k.grade)]
            ] + [("_conduct", ["rating"], k.homeroom_teacher_id)]  # fmt: skip
            for sheet, columns, teacher in sheets:
                for student in roster:
                    for column in columns:
                        key = (k.id, sheet, period, student, column)
                        at = first.get(key) if key in filled else None
                        cells.append(
                            Cell(
                                k.school_year_id, k.school_id, k.district_id, k.id, teacher,
                                sheet, period, at,
                                at is not None and at.astimezone(HANOI).date() > end,
                            )
                        )  # fmt: skip
    return cells


async def reviews(world: RecordsWorld) -> dict[tuple[uuid.UUID, str], bool]:
    """(class, period) → approved, for the live reviews."""
    return {
        (r.class_id, r.period): r.approved_at is not None
        for r in await rows(world, "SELECT * FROM result_reviews WHERE voided_at IS NULL")
    }


def expected(
    cells: list[Cell],
    reviewed: dict[tuple[uuid.UUID, str], bool],
    year: uuid.UUID,
    scope: tuple[str, uuid.UUID],
    period: str | None,
    by: str,
) -> dict[str, tuple[int, ...]]:
    kind, unit = scope
    chosen = [
        c
        for c in cells
        if c.year == year
        and (period is None or c.period == period)
        and (
            kind == "province"
            or (kind == "school" and c.school == unit)
            or (kind == "district" and c.district == unit)
        )
    ]
    review_period = "year" if period is None else period
    if by == "month":
        required = len(chosen)
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in chosen:
            if c.first_at is not None:
                month = c.first_at.astimezone(HANOI).strftime("%Y-%m")
                out[month][0] += 1
                out[month][1] += c.late
        return {m: (required, e, la) for m, (e, la) in out.items()}

    def key_of(c: Cell) -> str:
        value = {
            "school": c.school,
            "district": c.district,
            "class": c.class_id,
            "teacher": c.teacher,
            "subject": c.sheet,
        }[by]
        return "" if value is None else str(value)

    groups: dict[str, list[Cell]] = defaultdict(list)
    for c in chosen:
        groups[key_of(c)].append(c)
    result: dict[str, tuple[int, ...]] = {}
    for key, members in groups.items():
        classes = {c.class_id for c in members}
        result[key] = (
            len(members),
            sum(c.first_at is not None for c in members),
            sum(c.late for c in members),
            sum((k, review_period) in reviewed for k in classes),
            sum(reviewed.get((k, review_period), False) for k in classes),
        )
    return result


def actual(body: dict[str, Any], by: str) -> dict[str, tuple[int, ...]]:
    if by == "month":
        return {r["key"]: (r["required"], r["entered"], r["late"]) for r in body["rows"]}
    return {
        r["key"]: (
            r["required"],
            r["entered"],
            r["late"],
            r["classes_confirmed"],
            r["classes_approved"],
        )
        for r in body["rows"]
    }


async def test_every_grouping_equals_a_brute_force_recount(records_world: RecordsWorld) -> None:
    world = records_world
    await build(world)
    cells = await recount(world)
    reviewed = await reviews(world)
    units = world.units
    # The data has what it should: entered and missing cells, late ones, a confirmed class.
    assert any(c.late for c in cells)
    assert any(c.first_at is not None and not c.late for c in cells)
    assert any(c.first_at is None for c in cells)
    assert any(approved for approved in reviewed.values())

    reader = world.as_(uuid.uuid4(), f"province_inspector@{units.province}")
    scopes = [
        ("school", units.thcs),
        ("district", units.district),
        ("district", units.other_district),
        ("province", units.province),
    ]
    checked = 0
    for year in (world.year_id, world.last_year_id):
        for scope in scopes:
            for period in (None, "term_1", "term_2"):
                for by in BYS:
                    params = {"unit_id": str(scope[1]), "school_year_id": str(year), "by": by}
                    if period is not None:
                        params["period"] = period
                    response = await world.client.get("/progress", params=params, headers=reader)
                    assert response.status_code == 200, response.text
                    body = response.json()
                    want = expected(cells, reviewed, year, scope, period, by)
                    assert actual(body, by) == want, (year, scope, period, by)
                    for row in body["rows"]:
                        assert row["percent"] == (
                            round(100 * row["entered"] / row["required"], 1)
                            if row["required"]
                            else 0.0
                        )
                    checked += 1
    assert checked == 2 * 4 * 3 * 6


async def test_labels_and_totals(records_world: RecordsWorld) -> None:
    world = records_world
    units = world.units
    reader = world.as_(uuid.uuid4(), f"province_admin@{units.province}")
    params = {"unit_id": str(units.province), "school_year_id": str(world.year_id)}
    by_district = await world.client.get(
        "/progress", params={**params, "by": "district"}, headers=reader
    )
    body = by_district.json()
    labels = {r["key"]: r["label"] for r in body["rows"]}
    assert labels[str(units.district)] == "TP-D1"
    assert labels[""] == "Trực thuộc Sở"  # the THPT hangs under the department
    assert body["total"]["required"] == sum(r["required"] for r in body["rows"])
    assert body["total"]["entered"] == sum(r["entered"] for r in body["rows"])
    by_subject = await world.client.get(
        "/progress", params={**params, "by": "subject", "period": "term_1"}, headers=reader
    )
    subjects = {r["key"]: r["label"] for r in by_subject.json()["rows"]}
    assert subjects["toan"] == "Toán"
    assert subjects["_conduct"] == "Rèn luyện"
    assert by_subject.json()["review_period"] == "term_1"


async def test_the_excel_export_has_vietnamese_headers(records_world: RecordsWorld) -> None:
    world = records_world
    units = world.units
    response = await world.client.get(
        "/progress.xlsx",
        params={
            "unit_id": str(units.district),
            "school_year_id": str(world.year_id),
            "by": "class",
        },
        headers=world.as_(uuid.uuid4(), f"district_admin@{units.district}"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[2][:6] == [
        "Mã",
        "Đơn vị / nhóm",
        "Số đầu điểm phải nhập",
        "Đã nhập",
        "Tỷ lệ (%)",
        "Nhập muộn",
    ]
    assert values[-1][1] == "Tổng cộng"
    json_body = (
        await world.client.get(
            "/progress",
            params={
                "unit_id": str(units.district),
                "school_year_id": str(world.year_id),
                "by": "class",
            },
            headers=world.as_(uuid.uuid4(), f"district_admin@{units.district}"),
        )
    ).json()
    assert values[-1][2] == json_body["total"]["required"]
    assert len(values) == 3 + len(json_body["rows"]) + 1


async def test_progress_is_read_only_within_the_callers_scope(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    units = world.units
    base = {"school_year_id": str(world.year_id), "by": "school"}
    cases = [
        (units.district, world.as_(uuid.uuid4(), f"district_admin@{units.other_district}"), 403),
        (units.district, world.admin_of(units.thcs), 403),  # a school's board, not the district
        (units.thcs, world.teacher(uuid.uuid4(), units.thcs), 403),
        (units.thcs, world.leader_of(units.thcs), 200),
        (units.thcs, world.as_(uuid.uuid4(), f"district_inspector@{units.district}"), 200),
        (units.province, world.as_(uuid.uuid4(), f"district_admin@{units.district}"), 403),
        (uuid.uuid4(), world.leader_of(units.thcs), 404),
    ]
    for unit, headers, status in cases:
        response = await world.client.get(
            "/progress", params={**base, "unit_id": str(unit)}, headers=headers
        )
        assert response.status_code == status, (unit, response.text)
    bad = await world.client.get(
        "/progress",
        params={**base, "unit_id": str(units.thcs), "by": "planet"},
        headers=world.leader_of(units.thcs),
    )
    assert bad.status_code == 422
