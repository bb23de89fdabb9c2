"""Month totals (BP: monthly) and their close, which sends records the numbers it promotes by.

A month's totals count days of a one-session plan (DOMAIN §1.9, §7.3): ``domain.counting``
turns each day's sessions into at most one absence day under the province's rule. Closing
publishes ``attendance.month.closed`` with each student's numbers; an approved amendment of a
day in a closed month closes it again with the next revision, so records always ends on the
truth.
"""

from __future__ import annotations

import calendar as cal
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from attendance.access import Actor, rule
from attendance.domain.calendar import local_day
from attendance.domain.counting import AbsenceDays, Mark, Spell, absence_days
from attendance.handlers.base import (
    SWEEP_LOCK_KEY,
    SchoolContext,
    authorize_class,
    class_of,
    conflict,
    invalid,
    school_context,
    unit_of,
    utcnow,
)
from attendance.models import ClassRow, EnrolmentRow, MonthCloseRow

__all__ = ["ClassRow", "MonthCloseRow", "MonthTotals", "close_month", "read_month"]
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.events.attendance import MonthClosed, Session, StudentMonthAbsences
from common.events.identity import OrgLevel


def month_bounds(month: str) -> tuple[date, date]:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, cal.monthrange(year, number)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class MonthTotals:
    month: str
    school_days: int
    late_roll_calls: int
    students: dict[uuid.UUID, AbsenceDays]
    roster: list[EnrolmentRow]


def rolls_of(
    held: list[tuple[uuid.UUID, date, str]],
    absent: list[tuple[uuid.UUID, date, str, uuid.UUID, str]],
    enrolments: list[EnrolmentRow],
) -> dict[date, dict[Session, dict[uuid.UUID, Mark]]]:
    """The marks of every roll held, rebuilt from its absences alone.

    A roll lists every student on the class list that day (the API refuses any other), so a
    student on the list who is not marked absent was there; fetching only the absences keeps
    a year's count to the few rows that matter.
    """
    spells: dict[uuid.UUID, list[EnrolmentRow]] = defaultdict(list)
    for e in enrolments:
        spells[e.class_id].append(e)
    rolls: dict[date, dict[Session, dict[uuid.UUID, Mark]]] = defaultdict(dict)
    for class_id, day, session in held:
        marks = rolls[day].setdefault(Session(session), {})
        for e in spells[class_id]:
            if e.starts_on <= day and (e.ends_on is None or e.ends_on >= day):
                marks[e.student_id] = Mark.PRESENT
    for _, day, session, student, mark in absent:
        rolls[day].setdefault(Session(session), {})[student] = Mark(mark)
    return rolls


async def compute_totals(
    uow: AttendanceUnitOfWork, class_: ClassRow, context: SchoolContext, month: str
) -> MonthTotals:
    first, last = month_bounds(month)
    enrolments = await uow.repo.enrolments([class_.id])
    rolls = rolls_of(
        await uow.repo.sessions_held([class_.id], first, last),
        await uow.repo.absent_marks([class_.id], first, last),
        enrolments,
    )
    spells: dict[uuid.UUID, list[Spell]] = defaultdict(list)
    for e in enrolments:
        if e.starts_on <= last and (e.ends_on is None or e.ends_on >= first):
            spells[e.student_id].append(Spell(e.starts_on, e.ends_on))
    totals = absence_days(rolls, spells, context.rules.day_rule)
    late = sum(
        1 for r in await uow.repo.roll_calls_of_class(class_.id, first, last) if not r.on_time
    )
    roster = [e for e in enrolments if e.student_id in spells]
    return MonthTotals(
        month=month,
        school_days=len(context.calendar.school_days(first, last)),
        late_roll_calls=late,
        students=totals,
        roster=roster,
    )


def _closed_event(
    class_: ClassRow, context: SchoolContext, totals: MonthTotals, row: MonthCloseRow
) -> MonthClosed:
    _, last = month_bounds(totals.month)
    enrolled = {
        e.student_id
        for e in totals.roster
        if e.starts_on <= last and (e.ends_on is None or e.ends_on >= last)
    }
    return MonthClosed(
        class_id=class_.id,
        school_id=class_.school_id,
        district_id=class_.district_id,
        province_id=class_.province_id,
        school_year=context.year.code,
        month=totals.month,
        school_days=totals.school_days,
        enrolled=len(enrolled),
        excused_absence_days=sum(d.excused for d in totals.students.values()),
        unexcused_absence_days=sum(d.unexcused for d in totals.students.values()),
        late_roll_calls=totals.late_roll_calls,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        revision=row.revision,
        students=tuple(
            StudentMonthAbsences(student_id=s, excused_days=d.excused, unexcused_days=d.unexcused)
            for s, d in sorted(totals.students.items())
        ),
    )


async def _close(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    class_: ClassRow,
    context: SchoolContext,
    month: str,
    now: datetime,
    closed_by: uuid.UUID | None,
    existing: MonthCloseRow | None,
) -> MonthCloseRow:
    totals = await compute_totals(uow, class_, context, month)
    values = {str(s): [d.excused, d.unexcused] for s, d in totals.students.items()}
    if existing is None:
        row = MonthCloseRow(
            class_id=class_.id,
            month=month,
            school_id=class_.school_id,
            revision=1,
            totals=values,
            school_days=totals.school_days,
            closed_at=now,
            closed_by=closed_by,
        )
        uow.repo.add(row)
    else:
        row = existing
        row.revision += 1
        row.totals, row.school_days, row.closed_at, row.closed_by = (
            values,
            totals.school_days,
            now,
            closed_by,
        )
    await uow.repo.flush()
    uow.emit(_closed_event(class_, context, totals, row))
    return row


def _check_month(month: str, today: date) -> None:
    _, last = month_bounds(month)
    if last >= today:
        raise invalid(
            "month-not-over",
            "Tháng chưa kết thúc",
            f"{month} ends on {last}; it can be closed from the next day",
        )


async def close_month(
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    class_id: uuid.UUID,
    month: str,
) -> MonthCloseRow:
    """The homeroom teacher (or the school board) closes a month of a class."""
    async with uow:
        class_ = await class_of(uow, class_id, for_update=True)
        school = await authorize_class(
            uow, actor, rule("POST", "/classes/{class_id}/months/{month}/close"), class_
        )
        person = actor.person()
        now = utcnow()
        _check_month(month, local_day(now))
        context = await school_context(uow, settings, school, class_.school_year)
        existing = await uow.repo.month_close(class_.id, month, for_update=True)
        if existing is not None:
            raise conflict(
                "month-closed",
                "Tháng đã được chốt",
                f"{month} was closed at revision {existing.revision}; amendments re-close it",
            )
        row = await _close(uow, class_, context, month, now, person, None)
        await uow.commit()
        return row


async def reclose_if_closed(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    settings: AttendanceSettings,
    class_: ClassRow,
    context: SchoolContext,
    day: date,
    now: datetime,
) -> None:
    """After a change to ``day``'s roll: a closed month is closed again with its new totals."""
    existing = await uow.repo.month_close(class_.id, month_of(day), for_update=True)
    if existing is not None:
        await _close(uow, class_, context, existing.month, now, existing.closed_by, existing)


async def read_month(
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    class_id: uuid.UUID,
    month: str,
) -> tuple[ClassRow, MonthTotals, MonthCloseRow | None]:
    """A month's totals as they stand (live), and its close if it was closed."""
    async with uow:
        class_ = await class_of(uow, class_id)
        school = await authorize_class(
            uow, actor, rule("GET", "/classes/{class_id}/months/{month}"), class_
        )
        context = await school_context(uow, settings, school, class_.school_year)
        totals = await compute_totals(uow, class_, context, month)
        return class_, totals, await uow.repo.month_close(class_.id, month)


async def close_due_months(
    uow: AttendanceUnitOfWork, settings: AttendanceSettings, now: datetime, *, limit: int = 200
) -> int:
    """The platform closes last month for every class nobody closed, from the province's
    closing day on. Called by the sweeper, under its lock; ``limit`` keeps a pass short."""
    today = local_day(now)
    previous = date(today.year, today.month, 1).replace(day=1)
    last_of_previous = previous.fromordinal(previous.toordinal() - 1)
    month = month_of(last_of_previous)
    closed = 0
    async with uow:
        if not await uow.repo.try_sweep_lock(SWEEP_LOCK_KEY):
            return 0
        for year in await uow.repo.years_covering(last_of_previous):
            for class_ in await uow.repo.classes_without_close(year.code, month):
                if class_.province_id != year.province_id or closed >= limit:
                    continue
                school = await unit_of(uow, class_.school_id, OrgLevel.SCHOOL)
                context = await school_context(uow, settings, school, class_.school_year)
                if today.day < context.rules.month_close_day:
                    continue
                if not await uow.repo.enrolments([class_.id]):
                    continue
                await _close(uow, class_, context, month, now, None, None)
                closed += 1
        await uow.commit()
    return closed
