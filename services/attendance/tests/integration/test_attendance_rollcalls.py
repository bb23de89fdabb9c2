"""The roll call through the API (R14: the homeroom teacher takes the roll and enters it no later
than 30 minutes after the first period starts; LC Đ7.2, Đ11.1; BP Đ7.2).

The clock is frozen at chosen instants (a second before a deadline, on a holiday); everything
else is real: PostgreSQL, the app, tokens verified against a JWKS.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, time, timedelta
from typing import Any

import pytest

from attendance.clock import CLOCK
from attendance.testing import AttendanceWorld, local
from common.testing import assert_problem

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUBMITTED = "vn.hsdt.attendance.rollcall.submitted.v1"
LATE = "vn.hsdt.attendance.rollcall.late.v1"


def monday(world: AttendanceWorld, weeks: int) -> date:
    """A Monday ``weeks`` weeks into the school year (Mondays are school days everywhere)."""
    day = world.year_starts + timedelta(weeks=weeks)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def url(class_id: uuid.UUID, day: date, session: str = "morning") -> str:
    return f"/classes/{class_id}/roll-calls/{day}/{session}"


async def put_roll(
    world: AttendanceWorld,
    class_id: uuid.UUID,
    day: date,
    headers: dict[str, str],
    body: dict[str, Any],
    session: str = "morning",
) -> Any:
    return await world.client.put(url(class_id, day, session), json=body, headers=headers)


# --- deadlines (R14)


async def test_deadline_is_first_period_plus_thirty_minutes_to_the_second(
    attendance_world: AttendanceWorld,
) -> None:
    """R14: on time up to and including the deadline's second; a microsecond later is late."""
    w = attendance_world
    day = monday(w, 3)
    deadline = local(day, time(7, 30))
    outcomes = {}
    for label, at in (
        ("at", deadline),
        ("second after", deadline + timedelta(seconds=1)),
        ("microsecond after", deadline + timedelta(microseconds=1)),
        ("before", deadline - timedelta(minutes=29)),
    ):
        class_id, homeroom, students = await w.new_class(w.units.thcs)
        CLOCK.freeze(at)
        response = await put_roll(
            w, class_id, day, w.teacher(homeroom, w.units.thcs), w.roll(students)
        )
        assert response.status_code == 201, response.text
        roll = response.json()["roll_call"]
        assert roll["deadline"] == f"{day.isoformat()}T00:30:00Z"
        outcomes[label] = roll["on_time"]
        late = await w.outbox_events(LATE, class_id)
        assert len(late) == (0 if roll["on_time"] else 1)
    assert outcomes == {
        "at": True,
        "second after": False,
        "microsecond after": False,
        "before": True,
    }


async def test_schools_with_different_first_periods_have_different_deadlines(
    attendance_world: AttendanceWorld,
) -> None:
    """R14: the deadline follows each school's own first period; one instant, two answers."""
    w = attendance_world
    await w.set_bells(
        w.units.other_thcs,
        [{"session": "morning", "first_period_start": "07:30"}],
        [1, 2, 3, 4, 5, 6],
    )
    day = monday(w, 4)
    early, early_teacher, early_students = await w.new_class(w.units.thcs)
    later, later_teacher, later_students = await w.new_class(
        w.units.other_thcs, district=w.units.other_district
    )
    CLOCK.freeze(local(day, time(7, 45)))
    first = await put_roll(
        w, early, day, w.teacher(early_teacher, w.units.thcs), w.roll(early_students)
    )
    second = await put_roll(
        w, later, day, w.teacher(later_teacher, w.units.other_thcs), w.roll(later_students)
    )
    assert (first.json()["roll_call"]["on_time"], second.json()["roll_call"]["on_time"]) == (
        False,
        True,
    )
    assert second.json()["roll_call"]["deadline"] == f"{day.isoformat()}T01:00:00Z"
    # Late rolls say how late: 15 minutes after 07:30.
    [late] = await w.outbox_events(LATE, early)
    assert late["seconds_late"] == 15 * 60
    assert late["was_reported_missing"] is False


async def test_afternoon_session_of_a_two_session_school_has_its_own_deadline(
    attendance_world: AttendanceWorld,
) -> None:
    w = attendance_world
    await w.set_bells(
        w.units.primary,
        [
            {"session": "morning", "first_period_start": "07:15", "periods": 4},
            {"session": "afternoon", "first_period_start": "14:00", "periods": 3},
        ],
        [1, 2, 3, 4, 5],
    )
    day = monday(w, 5)
    class_id, homeroom, students = await w.new_class(w.units.primary, 3)
    CLOCK.freeze(local(day, time(14, 20)))
    me = w.teacher(homeroom, w.units.primary)
    morning = await put_roll(w, class_id, day, me, w.roll(students))
    afternoon = await put_roll(w, class_id, day, me, w.roll(students), session="afternoon")
    assert morning.json()["roll_call"]["on_time"] is False
    assert afternoon.json()["roll_call"]["on_time"] is True
    assert afternoon.json()["roll_call"]["deadline"] == f"{day.isoformat()}T07:30:00Z"


async def test_holidays_weekends_and_make_up_days(attendance_world: AttendanceWorld) -> None:
    """No roll on a province holiday or a day the school does not work; a make-up Sunday is a
    school day (nothing is written for a refused roll)."""
    w = attendance_world
    holiday, sunday = monday(w, 6), monday(w, 6) + timedelta(days=6)
    admin = w.province_admin()
    put = await w.client.put(
        f"/units/{w.units.province}/calendar-days/{holiday}",
        json={"kind": "holiday", "name": "Ngày nghỉ của tỉnh"},
        headers=admin,
    )
    assert put.status_code == 200, put.text
    class_id, homeroom, students = await w.new_class(w.units.thcs)
    me = w.teacher(homeroom, w.units.thcs)
    CLOCK.freeze(local(sunday, time(7, 0)))
    before = await w.fingerprint()
    refused = await put_roll(w, class_id, holiday, me, w.roll(students))
    body = assert_problem(refused, 422, "not-a-school-day")
    assert body["reason"] == "holiday"
    assert_problem(
        await put_roll(w, class_id, sunday, me, w.roll(students)), 422, "not-a-school-day"
    )
    assert await w.fingerprint() == before
    make_up = await w.client.put(
        f"/units/{w.units.thcs}/calendar-days/{sunday}",
        json={"kind": "make_up", "name": "Học bù"},
        headers=w.admin_of(w.units.thcs),
    )
    assert make_up.status_code == 200, make_up.text
    accepted = await put_roll(w, class_id, sunday, me, w.roll(students))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["roll_call"]["on_time"] is True
    days = await w.client.get(
        f"/schools/{w.units.thcs}/school-days",
        params={"school_year": w.year_code, "from": str(holiday), "to": str(sunday)},
        headers=w.admin_of(w.units.thcs),
    )
    listed = [d["day"] for d in days.json()]
    assert str(holiday) not in listed
    assert str(sunday) in listed
    assert len(listed) == 6  # Tue–Sat and the make-up Sunday


# --- bad input changes nothing


async def test_bad_rolls_are_refused_with_every_problem_listed(
    attendance_world: AttendanceWorld,
) -> None:
    w = attendance_world
    day = monday(w, 7)
    class_id, homeroom, students = await w.new_class(w.units.thcs)
    other_class, other_homeroom, other_students = await w.new_class(
        w.units.other_thcs, district=w.units.other_district
    )
    me = w.teacher(homeroom, w.units.thcs)
    CLOCK.freeze(local(day, time(7, 5)))
    before = await w.fingerprint()
    body = w.roll(students)
    body["marks"].append({"student_id": str(students[0]), "mark": "present"})  # twice
    body["marks"].append({"student_id": str(other_students[0]), "mark": "present"})  # not ours
    del body["marks"][1]  # one missing
    problem = assert_problem(await put_roll(w, class_id, day, me, body), 422, "roll-invalid")
    codes = sorted(e["code"] for e in problem["errors"])
    assert codes == ["duplicate-student", "student-missing", "student-not-in-class"]
    # A class of another school: the teacher's grant does not reach it.
    assert_problem(
        await put_roll(w, other_class, day, me, w.roll(other_students)), 403, "forbidden"
    )
    # Another teacher of the school is not the homeroom teacher.
    stranger = w.teacher(uuid.uuid4(), w.units.thcs)
    assert_problem(
        await put_roll(w, class_id, day, stranger, w.roll(students)), 403, "not-homeroom-teacher"
    )
    # Tomorrow cannot be taken yet; a session the school does not hold cannot either.
    assert_problem(
        await put_roll(w, class_id, day + timedelta(days=1), me, w.roll(students)),
        422,
        "day-in-future",
    )
    assert_problem(
        await put_roll(w, class_id, day, me, w.roll(students), session="afternoon"),
        422,
        "session-not-scheduled",
    )
    # A mark the API does not know.
    bad_mark = {"marks": [{"student_id": str(students[0]), "mark": "sick"}]}
    assert_problem(await put_roll(w, class_id, day, me, bad_mark), 422, "validation-failed")
    assert await w.fingerprint() == before
    assert other_homeroom != homeroom


async def test_a_student_counts_only_while_on_the_list(attendance_world: AttendanceWorld) -> None:
    """R14: a student who left the class (records' movement) is not on the roll after it."""
    w = attendance_world
    day = monday(w, 8)
    class_id, homeroom = uuid.uuid4(), uuid.uuid4()
    staying, leaving = uuid.uuid4(), uuid.uuid4()
    await w.roster(
        class_id,
        w.units.thcs,
        7,
        homeroom,
        [
            (staying, "Đặng Văn Khoa", w.year_starts, None),
            (leaving, "Bùi Thị Lan", w.year_starts, day - timedelta(days=1)),
        ],
    )
    me = w.teacher(homeroom, w.units.thcs)
    CLOCK.freeze(local(day, time(7, 0)))
    listed = await w.client.get(url(class_id, day), headers=me)
    assert [s["student_id"] for s in listed.json()["students"]] == [str(staying)]
    assert listed.json()["submitted"] is False
    both = w.roll([staying, leaving])
    problem = assert_problem(await put_roll(w, class_id, day, me, both), 422, "roll-invalid")
    assert problem["errors"] == [
        {
            "student_id": str(leaving),
            "code": "student-not-in-class",
            "message": "Học sinh không thuộc lớp vào ngày này",
        }
    ]
    assert (await put_roll(w, class_id, day, me, w.roll([staying]))).status_code == 201


# --- retries and conflicts


async def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(
    attendance_world: AttendanceWorld,
) -> None:
    w = attendance_world
    day = monday(w, 9)
    class_id, homeroom, students = await w.new_class(w.units.thcs)
    me = {**w.teacher(homeroom, w.units.thcs), "Idempotency-Key": "may-9-6a1-roll-1"}
    CLOCK.freeze(local(day, time(7, 20)))
    body = w.roll(students, s2="absent_unexcused")
    first = await put_roll(w, class_id, day, me, body)
    assert first.status_code == 201
    CLOCK.freeze(local(day, time(8, 0)))  # the retry arrives after the deadline
    retried = await asyncio.gather(*(put_roll(w, class_id, day, me, body) for _ in range(3)))
    for again in retried:
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["etag"] == first.headers["etag"] == '"1"'
        assert again.headers["idempotent-replayed"] == "true"
    assert len(await w.outbox_events(SUBMITTED, class_id)) == 1
    assert await w.outbox_events(LATE, class_id) == []
    # The same key for another request is refused, not answered with the first one's result.
    other = w.roll(students)
    assert_problem(await put_roll(w, class_id, day, me, other), 422, "idempotency-key-reused")


async def test_conflicting_edits_are_caught_by_version(attendance_world: AttendanceWorld) -> None:
    """Two devices amend from the same revision: one wins, the other gets 412; none may
    overwrite without If-Match (428)."""
    w = attendance_world
    day = monday(w, 10)
    class_id, homeroom, students = await w.new_class(w.units.thcs)
    me = w.teacher(homeroom, w.units.thcs)
    CLOCK.freeze(local(day, time(7, 10)))
    assert (await put_roll(w, class_id, day, me, w.roll(students))).status_code == 201
    assert_problem(
        await put_roll(w, class_id, day, me, w.roll(students, s0="late")),
        428,
        "precondition-required",
    )
    CLOCK.freeze(local(day, time(9, 0)))
    a, b = await asyncio.gather(
        put_roll(w, class_id, day, {**me, "If-Match": '"1"'}, w.roll(students, s0="late")),
        put_roll(
            w, class_id, day, {**me, "If-Match": '"1"'}, w.roll(students, s1="absent_excused")
        ),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 412]
    loser = a if a.status_code == 412 else b
    assert loser.json()["current_version"] == 2
    history = await w.client.get(url(class_id, day) + "/history", headers=me)
    assert [r["revision"] for r in history.json()["revisions"]] == [1, 2]
    # The first submission decided lateness; an amendment after the deadline does not.
    assert history.json()["on_time"] is True


async def test_later_amendments_wait_for_the_leader(attendance_world: AttendanceWorld) -> None:
    """The same day the homeroom teacher amends alone; later the school leader approves, and
    every revision is kept."""
    w = attendance_world
    day = monday(w, 11)
    class_id, homeroom, students = await w.new_class(w.units.thcs)
    me = w.teacher(homeroom, w.units.thcs)
    CLOCK.freeze(local(day, time(7, 0)))
    assert (await put_roll(w, class_id, day, me, w.roll(students))).status_code == 201
    CLOCK.freeze(local(day + timedelta(days=1), time(10, 0)))
    changed = w.roll(students, s3="absent_excused")
    no_reason = await put_roll(w, class_id, day, {**me, "If-Match": '"1"'}, changed)
    assert_problem(no_reason, 422, "reason-required")
    asked = await put_roll(
        w, class_id, day, {**me, "If-Match": '"1"'}, {**changed, "reason": "Phụ huynh xin phép"}
    )
    assert asked.status_code == 202, asked.text
    amendment = asked.json()["amendment"]
    assert amendment["status"] == "pending"
    assert asked.json()["roll_call"]["revision"] == 1
    # The teacher cannot approve their own request; the leader can.
    refused = await w.client.post(
        f"/amendments/{amendment['amendment_id']}/approve", json={}, headers=me
    )
    assert_problem(refused, 403, "forbidden")
    leader = w.leader_of(w.units.thcs)
    pending = await w.client.get(
        f"/schools/{w.units.thcs}/amendments", params={"status": "pending"}, headers=leader
    )
    assert amendment["amendment_id"] in [a["amendment_id"] for a in pending.json()]
    approved = await w.client.post(
        f"/amendments/{amendment['amendment_id']}/approve", json={"note": "Đồng ý"}, headers=leader
    )
    assert approved.status_code == 200, approved.text
    again = await w.client.post(
        f"/amendments/{amendment['amendment_id']}/reject", json={}, headers=leader
    )
    assert_problem(again, 409, "amendment-decided")
    now = await w.client.get(url(class_id, day), headers=me)
    assert now.json()["revision"] == 2
    assert now.json()["absent_excused"] == 1
    history = (await w.client.get(url(class_id, day) + "/history", headers=me)).json()
    assert [r["approved_by"] is not None for r in history["revisions"]] == [False, True]
    assert [e["revision"] for e in await w.outbox_events(SUBMITTED, class_id)] == [1, 2]


async def test_per_period_attendance_belongs_to_the_teacher_of_the_period(
    attendance_world: AttendanceWorld,
) -> None:
    """LC Đ11.1: subject teachers take attendance of their own periods, no one else's."""
    w = attendance_world
    day = monday(w, 12)  # a Monday: ISO weekday 1
    class_id, homeroom, students = await w.new_class(w.units.thcs)
    maths, literature = uuid.uuid4(), uuid.uuid4()
    timetable = await w.client.put(
        f"/classes/{class_id}/timetable",
        json={
            "slots": [
                {"weekday": 1, "period": 1, "subject_code": "toan", "teacher_id": str(maths)},
                {
                    "weekday": 1,
                    "period": 2,
                    "subject_code": "ngu_van",
                    "teacher_id": str(literature),
                },
            ]
        },
        headers=w.admin_of(w.units.thcs),
    )
    assert timetable.status_code == 200, timetable.text
    CLOCK.freeze(local(day, time(8, 0)))
    path = f"/classes/{class_id}/periods/{day}/1"
    body = {"not_present": {str(students[0]): "absent_unexcused"}}
    before = await w.fingerprint()
    assert_problem(
        await w.client.put(path, json=body, headers=w.teacher(literature, w.units.thcs)),
        403,
        "not-period-teacher",
    )
    assert_problem(
        await w.client.put(
            f"/classes/{class_id}/periods/{day}/9",
            json=body,
            headers=w.teacher(maths, w.units.thcs),
        ),
        422,
        "period-not-scheduled",
    )
    assert await w.fingerprint() == before
    taken = await w.client.put(path, json=body, headers=w.teacher(maths, w.units.thcs))
    assert taken.status_code == 201, taken.text
    assert taken.json()["subject_code"] == "toan"
    read = await w.client.get(path, headers=w.teacher(homeroom, w.units.thcs))
    assert read.json()["not_present"] == {str(students[0]): "absent_unexcused"}
