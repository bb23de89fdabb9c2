"""The deadline sweep (R14: a roll not in 30 minutes after the first period is reported), the
month close (BP: monthly; DOMAIN §1.9, §7.3: days of a one-session plan), the compliance
report of a school, a district and the province (R6, R7, R26) and the students near the
45-day limit."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import date, time, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete

from attendance.clock import CLOCK
from attendance.handlers.months import close_due_months
from attendance.handlers.sweep import sweep_deadlines
from attendance.models import SweptSessionRow
from attendance.testing import AttendanceWorld, local
from common.testing import assert_problem

pytestmark = pytest.mark.asyncio(loop_scope="session")

MISSING = "vn.hsdt.attendance.rollcall.missing.v1"
LATE = "vn.hsdt.attendance.rollcall.late.v1"
CLOSED = "vn.hsdt.attendance.month.closed.v1"


def weekday_in(world: AttendanceWorld, month_offset: int, weekday: int = 1) -> date:
    """The first ``weekday`` (ISO) of the month ``month_offset`` months into the school year."""
    start = world.year_starts
    month = start.month - 1 + month_offset
    first = date(start.year + month // 12, month % 12 + 1, 1)
    return first + timedelta(days=(weekday - first.isoweekday()) % 7)


async def test_two_sweepers_report_each_missing_roll_once(
    attendance_world: AttendanceWorld,
) -> None:
    """R14: however many replicas sweep at once, each class without a roll is reported once,
    and a roll that then arrives says it had been reported missing."""
    w = attendance_world
    day = weekday_in(w, 1, 2)  # a Tuesday in September
    classes = [await w.new_class(w.units.thcs) for _ in range(3)]
    on_time_class, homeroom, students = classes[0]
    CLOCK.freeze(local(day, time(7, 20)))
    submitted = await w.client.put(
        f"/classes/{on_time_class}/roll-calls/{day}/morning",
        json=w.roll(students),
        headers=w.teacher(homeroom, w.units.thcs),
    )
    assert submitted.status_code == 201
    settings = w.settings.model_copy(update={"sweep_days_back": 0})
    # Before the deadline nothing is missing.
    assert await sweep_deadlines(w.uow(), settings, local(day, time(7, 30))) == 0
    after = local(day, time(7, 31))
    results = await asyncio.gather(*(sweep_deadlines(w.uow(), settings, after) for _ in range(4)))
    # Each pass either swept (a count) or found the lock taken (None); never a second report.
    assert all(r is None or r >= 0 for r in results)
    for class_id, _, _ in classes[1:]:
        [event] = await w.outbox_events(MISSING, class_id)
        assert event["day"] == str(day)
        assert event["deadline"] == f"{day.isoformat()}T00:30:00Z"
    assert await w.outbox_events(MISSING, on_time_class) == []
    # A later pass, even with the record of what was swept gone, reports nothing again.
    async with w.sessions() as session:
        await session.execute(delete(SweptSessionRow).where(SweptSessionRow.day == day))
        await session.commit()
    await sweep_deadlines(w.uow(), settings, after + timedelta(minutes=5))
    for class_id, _, _ in classes[1:]:
        assert len(await w.outbox_events(MISSING, class_id)) == 1
    # The missing roll arrives: accepted, late, and marked as reported missing before.
    late_class, late_homeroom, late_students = classes[1]
    CLOCK.freeze(local(day, time(9, 0)))
    arrived = await w.client.put(
        f"/classes/{late_class}/roll-calls/{day}/morning",
        json=w.roll(late_students),
        headers=w.teacher(late_homeroom, w.units.thcs),
    )
    assert arrived.json()["roll_call"]["on_time"] is False
    [late] = await w.outbox_events(LATE, late_class)
    assert late["was_reported_missing"] is True
    assert late["seconds_late"] == 90 * 60


async def test_a_holiday_is_never_swept(attendance_world: AttendanceWorld) -> None:
    w = attendance_world
    day = weekday_in(w, 2, 3)
    put = await w.client.put(
        f"/units/{w.units.thcs}/calendar-days/{day}",
        json={"kind": "holiday", "name": "Nghỉ bù"},
        headers=w.admin_of(w.units.thcs),
    )
    assert put.status_code == 200, put.text
    class_id, _, _ = await w.new_class(w.units.thcs)
    only_that_day = w.settings.model_copy(update={"sweep_days_back": 0})
    await sweep_deadlines(w.uow(), only_that_day, local(day, time(12, 0)))
    assert await w.outbox_events(MISSING, class_id) == []
    # The next day's roll is missing, though: the sweep does run.
    await sweep_deadlines(w.uow(), only_that_day, local(day + timedelta(days=1), time(12, 0)))
    assert len(await w.outbox_events(MISSING, class_id)) == 1


async def test_month_totals_count_days_of_a_one_session_plan(
    attendance_world: AttendanceWorld,
) -> None:
    """DOMAIN §7.3: a two-session school records per session and counts per day; under the
    default rule a day counts when every session was missed. Closing sends each student's days
    to records; an approved amendment re-closes the month."""
    w = attendance_world
    await w.set_bells(
        w.units.primary,
        [
            {"session": "morning", "first_period_start": "07:00"},
            {"session": "afternoon", "first_period_start": "13:30", "periods": 3},
        ],
        [1, 2, 3, 4, 5],
    )
    class_id, homeroom, students = await w.new_class(w.units.primary, 4)
    me = w.teacher(homeroom, w.units.primary)
    monday = weekday_in(w, 3)  # the first Monday of November
    month = f"{monday.year}-{monday.month:02d}"
    # Monday: s0 misses both sessions (one excused, one not), s1 only the afternoon.
    # Tuesday: s0 misses the morning with permission, the afternoon too: one excused day.
    plan = {
        (monday, "morning"): {"s0": "absent_excused"},
        (monday, "afternoon"): {"s0": "absent_unexcused", "s1": "absent_unexcused"},
        (monday + timedelta(days=1), "morning"): {"s0": "absent_excused", "s2": "late"},
        (monday + timedelta(days=1), "afternoon"): {"s0": "absent_excused"},
    }
    for (day, session), marks in plan.items():
        CLOCK.freeze(local(day, time(15, 0)))
        response = await w.client.put(
            f"/classes/{class_id}/roll-calls/{day}/{session}",
            json=w.roll(students, **marks),
            headers=me,
        )
        assert response.status_code == 201, response.text
    CLOCK.freeze(local(monday + timedelta(days=2), time(9, 0)))
    early = await w.client.post(f"/classes/{class_id}/months/{month}/close", headers=me)
    assert_problem(early, 422, "month-not-over")
    next_month = date(monday.year + monday.month // 12, monday.month % 12 + 1, 2)
    CLOCK.freeze(local(next_month, time(9, 0)))
    closed = await w.client.post(f"/classes/{class_id}/months/{month}/close", headers=me)
    assert closed.status_code == 201, closed.text
    by_student = {s["student_id"]: s for s in closed.json()["students"]}
    assert (
        by_student[str(students[0])]["excused_days"],
        by_student[str(students[0])]["unexcused_days"],
    ) == (1, 1)
    assert by_student[str(students[1])]["unexcused_days"] == 0
    assert by_student[str(students[2])]["excused_days"] == 0
    [event] = await w.outbox_events(CLOSED, class_id)
    assert event["revision"] == 1
    assert event["excused_absence_days"] == 1
    assert event["unexcused_absence_days"] == 1
    assert event["late_roll_calls"] == 4
    assert {s["student_id"] for s in event["students"]} == {str(s) for s in students}
    assert_problem(
        await w.client.post(f"/classes/{class_id}/months/{month}/close", headers=me),
        409,
        "month-closed",
    )
    # Monday's afternoon is corrected later (s1 was there): the leader approves, the month
    # is closed again with revision 2.
    url = f"/classes/{class_id}/roll-calls/{monday}/afternoon"
    asked = await w.client.put(
        url,
        json={**w.roll(students, s0="absent_excused"), "reason": "Giấy phép nộp muộn"},
        headers={**me, "If-Match": '"1"'},
    )
    assert asked.status_code == 202, asked.text
    approved = await w.client.post(
        f"/amendments/{asked.json()['amendment']['amendment_id']}/approve",
        json={},
        headers=w.leader_of(w.units.primary),
    )
    assert approved.status_code == 200, approved.text
    events = await w.outbox_events(CLOSED, class_id)
    assert [e["revision"] for e in events] == [1, 2]
    assert (events[1]["excused_absence_days"], events[1]["unexcused_absence_days"]) == (2, 0)


async def test_the_platform_closes_months_nobody_closed(attendance_world: AttendanceWorld) -> None:
    w = attendance_world
    class_id, _, _ = await w.new_class(w.units.other_thcs, district=w.units.other_district)
    first_of_month = weekday_in(w, 4).replace(day=1)
    previous = first_of_month - timedelta(days=1)
    month = f"{previous.year}-{previous.month:02d}"
    # Before the province's closing day (5th by default) nothing closes; from it, all do once.
    assert (
        await close_due_months(
            w.uow(), w.settings, local(first_of_month + timedelta(days=2), time(1, 0))
        )
        >= 0
    )
    assert await w.outbox_events(CLOSED, class_id) == []
    at = local(first_of_month + timedelta(days=4), time(1, 0))
    await close_due_months(w.uow(), w.settings, at, limit=10_000)
    await close_due_months(w.uow(), w.settings, at, limit=10_000)
    [event] = await w.outbox_events(CLOSED, class_id)
    assert event["month"] == month
    assert event["closed_by"] is None


async def test_compliance_report_for_school_district_and_province(
    attendance_world: AttendanceWorld,
) -> None:
    """R6, R7, R26: on time, late and missing per class, school and district; Excel too."""
    w = attendance_world
    day = weekday_in(w, 5, 4)  # a Thursday in January
    await w.set_bells(
        w.units.thcs, [{"session": "morning", "first_period_start": "07:00"}], [1, 2, 3, 4, 5, 6]
    )
    on_time, late, missing = [await w.new_class(w.units.thcs) for _ in range(3)]
    CLOCK.freeze(local(day, time(7, 10)))
    await w.client.put(
        f"/classes/{on_time[0]}/roll-calls/{day}/morning",
        json=w.roll(on_time[2], s0="absent_unexcused"),
        headers=w.teacher(on_time[1], w.units.thcs),
    )
    CLOCK.freeze(local(day, time(8, 10)))
    await w.client.put(
        f"/classes/{late[0]}/roll-calls/{day}/morning",
        json=w.roll(late[2]),
        headers=w.teacher(late[1], w.units.thcs),
    )
    params = {"unit_id": str(w.units.thcs), "from": str(day), "to": str(day)}
    school = await w.client.get(
        "/reports/compliance", params=params, headers=w.leader_of(w.units.thcs)
    )
    assert school.status_code == 200, school.text
    rows = {r["unit_id"]: r for r in school.json()["rows"]}
    assert (rows[str(on_time[0])]["on_time"], rows[str(on_time[0])]["missing"]) == (1, 0)
    assert (rows[str(late[0])]["late"], rows[str(late[0])]["missing"]) == (1, 0)
    assert (rows[str(missing[0])]["due"], rows[str(missing[0])]["missing"]) == (1, 1)
    assert rows[str(on_time[0])]["absence_rate"] == round(1 / 6, 4)
    district = await w.client.get(
        "/reports/compliance",
        params={**params, "unit_id": str(w.units.district)},
        headers=w.as_(uuid.uuid4(), f"district_inspector@{w.units.district}"),
    )
    [thcs_row] = [r for r in district.json()["rows"] if r["unit_id"] == str(w.units.thcs)]
    assert thcs_row["on_time"] >= 1
    assert thcs_row["late"] >= 1
    assert thcs_row["missing"] >= 1
    province = await w.client.get(
        "/reports/compliance",
        params={**params, "unit_id": str(w.units.province)},
        headers=w.province_admin(),
    )
    assert province.json()["total"]["due"] >= thcs_row["due"]
    # A school's board reads its own school, not the district.
    assert_problem(
        await w.client.get(
            "/reports/compliance",
            params={**params, "unit_id": str(w.units.district)},
            headers=w.leader_of(w.units.thcs),
        ),
        403,
        "forbidden",
    )
    sheet = await w.client.get(
        "/reports/compliance.xlsx", params=params, headers=w.leader_of(w.units.thcs)
    )
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.content))
    table = [[c.value for c in row] for row in book.active.iter_rows()]  # type: ignore[union-attr]
    assert table[0][:5] == [
        "Đơn vị",
        "Số buổi phải điểm danh",
        "Đúng hạn",
        "Muộn",
        "Chưa điểm danh",
    ]
    assert table[-1][0] == "Tổng"


async def test_students_near_the_absence_limit(attendance_world: AttendanceWorld) -> None:
    """DOMAIN §1.9: more than 45 days means retention at secondary level; the school sees who
    is close (from 36 days by default) and who is past it."""
    w = attendance_world
    rules = await w.client.put(
        f"/provinces/{w.units.province}/settings",
        json={
            "deadline_minutes": 30,
            "day_rule": "whole_day",
            "month_close_day": 5,
            "absence_limit_days": 3,
            "warn_from_days": 2,
            "amend_days": 0,
        },
        headers=w.province_admin(),
    )
    assert rules.status_code == 200, rules.text
    try:
        school = w.units.other_thcs
        class_id, homeroom, students = await w.new_class(school, 8, district=w.units.other_district)
        me = w.teacher(homeroom, school)
        day = weekday_in(w, 0)
        for offset in range(4):
            d = day + timedelta(days=offset)
            CLOCK.freeze(local(d, time(7, 0)))
            marks = {"s0": "absent_unexcused"} if offset < 4 else {}
            if offset < 2:
                marks["s1"] = "absent_excused"
            response = await w.client.put(
                f"/classes/{class_id}/roll-calls/{d}/morning",
                json=w.roll(students, **marks),
                headers=me,
            )
            assert response.status_code == 201, response.text
        report = await w.client.get(f"/schools/{school}/absence-limit", headers=w.admin_of(school))
        assert report.status_code == 200, report.text
        found = {
            r["student_id"]: r for r in report.json()["students"] if r["class_id"] == str(class_id)
        }
        assert found[str(students[0])]["status"] == "over"
        assert found[str(students[0])]["total_days"] == 4
        assert found[str(students[1])]["status"] == "near"
        assert str(students[2]) not in found
        sheet = await w.client.get(
            f"/schools/{school}/absence-limit.xlsx", headers=w.admin_of(school)
        )
        rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
        assert rows[0] == ("Họ và tên", "Lớp", "Có phép", "Không phép", "Tổng", "Tình trạng")
        assert ("Nguyễn Văn An", 0, 4, 4) in [(r[0], r[2], r[3], r[4]) for r in rows[1:]]
    finally:
        reset = await w.client.put(
            f"/provinces/{w.units.province}/settings",
            json={
                "deadline_minutes": 30,
                "day_rule": "whole_day",
                "month_close_day": 5,
                "absence_limit_days": 45,
                "warn_from_days": 36,
                "amend_days": 0,
            },
            headers=w.province_admin(),
        )
        assert reset.status_code == 200
