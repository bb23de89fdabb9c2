"""Absence days from attendance (``MonthClosed``, R14) and the 45-day promotion rule.

Events are handled as the consumer runtime handles them: the inbox claim first, then every
handler ``records.consumers.SUBSCRIPTIONS`` names for the event, one transaction.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from sqlalchemy import select

from common.events.attendance import MonthClosed, StudentMonthAbsences
from common.events.base import CloudEvent
from common.testing import assert_problem
from records.consumers import SUBSCRIPTIONS
from records.handlers.attendance import NotKnownYetError
from records.models import AbsenceTotalRow, MonthAbsenceRow
from records.testing import RecordsWorld
from records.uow import RecordsUnitOfWork

CONSUMER: Final = "records"


def closed(
    world: RecordsWorld,
    class_id: uuid.UUID,
    month: str,
    days: dict[uuid.UUID, tuple[int, int]],
    *,
    revision: int = 1,
    school_year: str | None = None,
) -> MonthClosed:
    first = world.last_year_first
    students = tuple(
        StudentMonthAbsences(student_id=s, excused_days=e, unexcused_days=u)
        for s, (e, u) in days.items()
    )
    return MonthClosed(
        class_id=class_id,
        school_id=world.units.thcs,
        district_id=world.units.district,
        province_id=world.units.province,
        school_year=school_year or f"{first}-{first + 1}",
        month=month,
        school_days=22,
        enrolled=len(students),
        excused_absence_days=sum(s.excused_days for s in students),
        unexcused_absence_days=sum(s.unexcused_days for s in students),
        late_roll_calls=0,
        closed_at=datetime.now(UTC),
        closed_by=None,
        revision=revision,
        students=students,
    )


def envelope(event: MonthClosed, sequence: int) -> CloudEvent:
    return CloudEvent.wrap(event, source="hsdt-attendance", sequence=f"{sequence:020d}")


async def handle(world: RecordsWorld, message: CloudEvent) -> bool:
    """What ``EventConsumer`` does with one delivery; False when the inbox had it already."""
    uow = RecordsUnitOfWork(world.sessions, source="records")
    async with uow:
        if not await uow.claim_inbox(CONSUMER, message.id, message.type):
            return False
        event = MonthClosed.model_validate(message.data)
        for handler in SUBSCRIPTIONS[MonthClosed]:
            await handler(event, uow=uow, envelope=message)
        await uow.commit()
    return True


async def deliver(world: RecordsWorld, event: MonthClosed, sequence: int) -> CloudEvent:
    message = envelope(event, sequence)
    assert await handle(world, message)
    return message


async def totals(world: RecordsWorld, students: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    async with world.sessions() as session:
        rows = await session.scalars(
            select(AbsenceTotalRow).where(
                AbsenceTotalRow.school_year_id == world.last_year_id,
                AbsenceTotalRow.student_id.in_(students),
            )
        )
        return {r.student_id: (r.excused_days, r.unexcused_days, r.source) for r in rows.all()}


async def months(world: RecordsWorld, class_id: uuid.UUID) -> dict[tuple[uuid.UUID, str], Any]:
    async with world.sessions() as session:
        rows = await session.scalars(
            select(MonthAbsenceRow).where(MonthAbsenceRow.class_id == class_id)
        )
        return {
            (r.student_id, r.month): (r.excused_days, r.unexcused_days, r.revision)
            for r in rows.all()
        }


async def promotion(world: RecordsWorld, class_id: uuid.UUID) -> dict[str, str | None]:
    response = await world.client.get(
        f"/classes/{class_id}/results/year", headers=world.leader_of(world.units.thcs)
    )
    assert response.status_code == 200, response.text
    return {
        s["student_id"]: next(f["value"] for f in s["findings"] if f["key"] == "promotion")
        for s in response.json()["students"]
    }


async def test_closed_months_add_up_to_the_year_and_decide_promotion_at_45_days(
    records_world: RecordsWorld,
) -> None:
    # R14 (absences) and DOMAIN §1.9: more than 45 days absent in the year, not promoted (THCS).
    world = records_world
    first = world.last_year_first
    class_id, _, _, (over, limit) = await world.complete_year(
        world.units.thcs, ["Mai Văn Nghỉ", "Đinh Thị Đủ"]
    )
    # Without absence days nobody is declared promoted yet (TT 22: the count is an input).
    assert set((await promotion(world, class_id)).values()) == {None}

    await deliver(
        world, closed(world, class_id, f"{first}-10", {over: (15, 5), limit: (15, 5)}), 10
    )
    await deliver(
        world, closed(world, class_id, f"{first}-11", {over: (20, 6), limit: (20, 5)}), 11
    )

    assert await totals(world, [over, limit]) == {
        over: (35, 11, "attendance"),
        limit: (35, 10, "attendance"),
    }
    decided = await promotion(world, class_id)
    assert decided[str(over)] == "retained"  # 46 days
    assert decided[str(limit)] == "promoted"  # 45 days: the limit itself is allowed


async def test_a_replayed_event_has_no_second_effect(records_world: RecordsWorld) -> None:
    world = records_world
    first = world.last_year_first
    class_id, _, _, (student,) = await world.last_years_grade6(world.units.thcs, ["Tô Thị Lặp"])
    message = await deliver(world, closed(world, class_id, f"{first}-09", {student: (2, 1)}), 20)
    before = await world.fingerprint()

    # The broker redelivers the same event (same id): the inbox turns it into a no-op.
    assert not await handle(world, message)

    assert await world.fingerprint() == before
    assert await totals(world, [student]) == {student: (2, 1, "attendance")}


async def test_an_older_revision_arriving_late_is_ignored(records_world: RecordsWorld) -> None:
    world = records_world
    first = world.last_year_first
    class_id, _, _, (student, dropped) = await world.last_years_grade6(
        world.units.thcs, ["Lý Văn Muộn", "Kha Thị Bớt"]
    )
    month = f"{first}-12"
    newer = closed(world, class_id, month, {student: (1, 2)}, revision=2)
    older = closed(world, class_id, month, {student: (9, 9), dropped: (4, 0)}, revision=1)

    await deliver(world, newer, 41)
    before = await world.fingerprint()
    await deliver(world, older, 40)

    assert await months(world, class_id) == {(student, month): (1, 2, 2)}
    assert await totals(world, [student, dropped]) == {student: (1, 2, "attendance")}
    # Nothing of records moved (the inbox, outside the fingerprint, notes it as handled).
    assert await world.fingerprint() == before

    # In order, a newer revision replaces the class's month whole: a student it no longer
    # lists loses that month.
    await deliver(world, closed(world, class_id, month, {dropped: (3, 0)}, revision=3), 42)
    assert await months(world, class_id) == {(dropped, month): (3, 0, 3)}
    assert await totals(world, [student, dropped]) == {
        student: (0, 0, "attendance"),
        dropped: (3, 0, "attendance"),
    }


async def test_a_batch_applies_its_events_in_sequence_order_of_their_months(
    records_world: RecordsWorld,
) -> None:
    # The consumer handles deliveries that arrive together in one transaction: each event must
    # see what the one before it wrote, not rows its session loaded earlier.
    world = records_world
    first = world.last_year_first
    class_id, _, _, (student,) = await world.last_years_grade6(world.units.thcs, ["Bạch Văn Lô"])
    october, november = f"{first}-10", f"{first}-11"
    await deliver(world, closed(world, class_id, october, {student: (1, 0)}), 90)
    batch = [
        envelope(closed(world, class_id, october, {student: (4, 0)}, revision=3), 93),
        envelope(closed(world, class_id, october, {student: (2, 0)}, revision=2), 92),
        envelope(closed(world, class_id, november, {student: (0, 3)}), 94),
        envelope(closed(world, class_id, november, {student: (0, 7)}), 91),
    ]
    uow = RecordsUnitOfWork(world.sessions, source="records")
    async with uow:
        claimed = await uow.claim_inbox_many(CONSUMER, [(m.id, m.type) for m in batch])
        assert claimed == {m.id for m in batch}
        for message in batch:
            for handler in SUBSCRIPTIONS[MonthClosed]:
                await handler(MonthClosed.model_validate(message.data), uow=uow, envelope=message)
        await uow.commit()

    assert await months(world, class_id) == {
        (student, october): (4, 0, 3),
        (student, november): (0, 3, 1),
    }
    assert await totals(world, [student]) == {student: (4, 3, "attendance")}


async def test_absences_from_attendance_cannot_be_typed_over(records_world: RecordsWorld) -> None:
    # R14, R17: the homeroom teacher types absence days only until attendance sends them.
    world = records_world
    school = world.units.thcs
    first = world.last_year_first
    class_id, homeroom, _, (counted, typed) = await world.last_years_grade6(
        school, ["Cao Văn Đếm", "Ông Thị Gõ"]
    )
    gvcn = world.teacher(homeroom, school)
    await deliver(world, closed(world, class_id, f"{first}-09", {counted: (1, 0)}), 50)
    before = await world.fingerprint()

    refused = assert_problem(
        await world.client.put(
            f"/classes/{class_id}/absences/{counted}",
            json={"excused_days": 0, "unexcused_days": 0},
            headers=gvcn,
        ),
        409,
        "absences-from-attendance",
    )
    assert refused["title"] == "Số ngày nghỉ được tổng hợp từ điểm danh, không nhập tay"
    assert await world.fingerprint() == before
    # A classmate attendance has not counted yet is still typed by hand.
    typed_in = await world.client.put(
        f"/classes/{class_id}/absences/{typed}",
        json={"excused_days": 3, "unexcused_days": 0},
        headers=gvcn,
    )
    assert typed_in.status_code == 204, typed_in.text
    assert await totals(world, [counted, typed]) == {
        counted: (1, 0, "attendance"),
        typed: (3, 0, "manual"),
    }


async def test_a_manual_figure_gives_way_to_attendance(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    first = world.last_year_first
    class_id, homeroom, _, (student,) = await world.last_years_grade6(school, ["Âu Văn Tay"])
    typed = await world.client.put(
        f"/classes/{class_id}/absences/{student}",
        json={"excused_days": 30, "unexcused_days": 30},
        headers=world.teacher(homeroom, school),
    )
    assert typed.status_code == 204, typed.text

    await deliver(world, closed(world, class_id, f"{first}-09", {student: (2, 0)}), 60)

    assert await totals(world, [student]) == {student: (2, 0, "attendance")}


async def test_an_unknown_class_or_year_is_retried_and_an_unknown_student_skipped(
    records_world: RecordsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = records_world
    first = world.last_year_first
    class_id, _, _, (student,) = await world.last_years_grade6(world.units.thcs, ["Khúc Văn Biết"])
    # The class may still be on its way from records' own outbox to attendance and back: raise,
    # so the consumer retries, and leave nothing behind (the inbox claim is rolled back too).
    early = envelope(closed(world, uuid.uuid4(), f"{first}-09", {student: (1, 0)}), 70)
    before = await world.fingerprint()
    with pytest.raises(NotKnownYetError):
        await handle(world, early)
    wrong_year = envelope(
        closed(world, class_id, f"{first}-09", {student: (1, 0)}, school_year="2001-2002"), 71
    )
    with pytest.raises(NotKnownYetError):
        await handle(world, wrong_year)
    assert await world.fingerprint() == before
    with pytest.raises(NotKnownYetError):
        await handle(world, early)  # still unclaimed, so a retry runs the handler again

    stranger = uuid.uuid4()
    with caplog.at_level(logging.WARNING, logger="records.handlers.attendance"):
        await deliver(
            world, closed(world, class_id, f"{first}-09", {student: (1, 0), stranger: (5, 5)}), 72
        )
    assert await months(world, class_id) == {(student, f"{first}-09"): (1, 0, 1)}
    (warning,) = [r for r in caplog.records if r.name == "records.handlers.attendance"]
    assert str(stranger) in warning.getMessage()
    assert "Khúc" not in warning.getMessage()  # ids only, never a name


async def test_a_year_lock_keeps_the_totals_until_it_is_reopened(
    records_world: RecordsWorld,
) -> None:
    # R10, R14: the month is stored (attendance's fact), the locked year's results do not move;
    # reopening the year brings the totals up to date.
    world = records_world
    school = world.units.thcs
    first = world.last_year_first
    class_id, homeroom, _, (absent, present) = await world.complete_year(
        school, ["Giáp Văn Khóa", "Ninh Thị Sổ"]
    )
    await world.approve(class_id, school, homeroom, "year")
    leader = world.leader_of(school)
    locked = await world.client.post(
        "/locks",
        json={
            "school_id": str(school),
            "school_year_id": str(world.last_year_id),
            "period": "year",
            "class_ids": [str(class_id)],
            "reason": "Khóa sổ cả năm",
        },
        headers=leader,
    )
    assert locked.status_code == 201, locked.text
    results_url = f"/classes/{class_id}/results/year"
    results_before = (await world.client.get(results_url, headers=leader)).json()

    await deliver(world, closed(world, class_id, f"{first + 1}-03", {absent: (30, 20)}), 80)

    assert await months(world, class_id) == {(absent, f"{first + 1}-03"): (30, 20, 1)}
    assert await totals(world, [absent, present]) == {}
    assert (await world.client.get(results_url, headers=leader)).json() == results_before
    # Still waiting for the absence days, as locked: the 50 days do not reach the locked year.
    assert (await promotion(world, class_id))[str(absent)] is None

    reopened = await world.client.post(
        f"/locks/{locked.json()['id']}/reopen",
        json={"reason": "Cập nhật chuyên cần"},
        headers=leader,
    )
    assert reopened.status_code == 200, reopened.text

    assert await totals(world, [absent, present]) == {absent: (30, 20, "attendance")}
    assert (await promotion(world, class_id))[str(absent)] == "retained"
    # The year's approval was of other inputs: the change voided it.
    assert (await world.client.get(results_url, headers=leader)).json()["review"] is None
