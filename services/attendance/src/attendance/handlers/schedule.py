"""Bells, holidays and make-up days, the department's rules, the timetable, school days."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from attendance.access import Actor, rule
from attendance.domain.calendar import BellSchedule, SessionBells
from attendance.domain.calendar import deadline as deadline_of
from attendance.domain.counting import DayRule
from attendance.handlers.base import (
    CONTEXTS,
    Rules,
    authorize_at,
    authorize_class,
    class_of,
    invalid,
    not_found,
    rules_of,
    schedule_from_row,
    school_context,
    unit_of,
    utcnow,
)
from attendance.models import (
    BellScheduleRow,
    CalendarDayRow,
    ClassRow,
    ProvinceSettingsRow,
    TimetableSlotRow,
)
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.events.attendance import Session
from common.events.identity import OrgLevel

# --- bells


async def read_bells(
    uow: AttendanceUnitOfWork, actor: Actor, settings: AttendanceSettings, school_id: uuid.UUID
) -> tuple[BellSchedule, int]:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        await authorize_at(uow, actor, rule("GET", "/schools/{school_id}/bell-schedule"), school)
        row = await uow.repo.bell_schedule(school.id)
        return schedule_from_row(row, settings), row.version if row else 0


def _session_json(bells: SessionBells) -> dict[str, Any]:
    return {
        "session": bells.session.value,
        "first_period_start": bells.first_period_start.isoformat(timespec="minutes"),
        "period_minutes": bells.period_minutes,
        "break_minutes": bells.break_minutes,
        "periods": bells.periods,
        "long_break_after": bells.long_break_after,
        "long_break_minutes": bells.long_break_minutes,
    }


async def set_bells(
    uow: AttendanceUnitOfWork, actor: Actor, school_id: uuid.UUID, schedule: BellSchedule
) -> int:
    """Replace a school's bells; rolls already in keep the deadline they were judged by."""
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        await authorize_at(uow, actor, rule("PUT", "/schools/{school_id}/bell-schedule"), school)
        person = actor.person()
        row = await uow.repo.bell_schedule(school.id)
        sessions = [_session_json(s) for s in schedule.sessions]
        weekdays = sorted(schedule.weekdays)
        if row is None:
            row = BellScheduleRow(
                school_id=school.id,
                sessions=sessions,
                weekdays=weekdays,
                version=1,
                updated_at=utcnow(),
                updated_by=person,
            )
            uow.repo.add(row)
        else:
            row.sessions, row.weekdays, row.version = sessions, weekdays, row.version + 1
            row.updated_at, row.updated_by = utcnow(), person
        await uow.commit()
        CONTEXTS.clear()
        return row.version


# --- holidays and make-up days


async def list_calendar_days(
    uow: AttendanceUnitOfWork, actor: Actor, unit_id: uuid.UUID, first: date, last: date
) -> list[CalendarDayRow]:
    async with uow:
        unit = await unit_of(uow, unit_id)
        await authorize_at(uow, actor, rule("GET", "/units/{unit_id}/calendar-days"), unit)
        if last < first or (last - first).days > 400:
            raise invalid(
                "range-invalid", "Khoảng ngày không hợp lệ", "from ≤ to, at most 400 days"
            )
        ids = [unit.id]
        if unit.kind == OrgLevel.SCHOOL:
            ids.append(unit.province_id)  # a school sees the province's days with its own
        return await uow.repo.calendar_days(ids, first, last)


async def set_calendar_day(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    actor: Actor,
    unit_id: uuid.UUID,
    day: date,
    kind: str,
    name: str,
) -> CalendarDayRow:
    async with uow:
        unit = await unit_of(uow, unit_id)
        await authorize_at(uow, actor, rule("PUT", "/units/{unit_id}/calendar-days/{day}"), unit)
        if unit.kind == OrgLevel.DISTRICT:
            raise invalid(
                "unit-kind",
                "Ngày nghỉ do Sở hoặc trường quy định",
                "holidays belong to the province or a school, not a district office",
            )
        person = actor.person()
        row = await uow.repo.calendar_day(unit.id, day)
        if row is None:
            row = CalendarDayRow(
                unit_id=unit.id,
                day=day,
                kind=kind,
                name=name,
                created_at=utcnow(),
                created_by=person,
            )
            uow.repo.add(row)
        else:
            row.kind, row.name, row.created_at, row.created_by = kind, name, utcnow(), person
        await uow.commit()
        CONTEXTS.clear()
        return row


async def delete_calendar_day(
    uow: AttendanceUnitOfWork, actor: Actor, unit_id: uuid.UUID, day: date
) -> None:
    async with uow:
        unit = await unit_of(uow, unit_id)
        await authorize_at(uow, actor, rule("DELETE", "/units/{unit_id}/calendar-days/{day}"), unit)
        actor.person()
        if not await uow.repo.delete_calendar_day(unit.id, day):
            raise not_found("Calendar day", day)
        await uow.commit()
        CONTEXTS.clear()


# --- the department's rules


@dataclass(frozen=True, slots=True)
class RulesWrite:
    deadline_minutes: int
    day_rule: DayRule
    month_close_day: int
    absence_limit_days: int
    warn_from_days: int
    amend_days: int


async def read_rules(
    uow: AttendanceUnitOfWork, actor: Actor, settings: AttendanceSettings, province_id: uuid.UUID
) -> Rules:
    async with uow:
        province = await unit_of(uow, province_id, OrgLevel.PROVINCE)
        await authorize_at(uow, actor, rule("GET", "/provinces/{province_id}/settings"), province)
        return await rules_of(uow, settings, province.id)


async def set_rules(
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    province_id: uuid.UUID,
    cmd: RulesWrite,
) -> Rules:
    async with uow:
        province = await unit_of(uow, province_id, OrgLevel.PROVINCE)
        await authorize_at(uow, actor, rule("PUT", "/provinces/{province_id}/settings"), province)
        person = actor.person()
        if cmd.warn_from_days > cmd.absence_limit_days:
            raise invalid(
                "warn-after-limit",
                "Ngưỡng cảnh báo phải không lớn hơn giới hạn",
                "warn_from_days must not exceed absence_limit_days",
            )
        row = await uow.repo.province_settings(province.id)
        values = {
            "deadline_minutes": cmd.deadline_minutes,
            "day_rule": cmd.day_rule.value,
            "month_close_day": cmd.month_close_day,
            "absence_limit_days": cmd.absence_limit_days,
            "warn_from_days": cmd.warn_from_days,
            "amend_days": cmd.amend_days,
            "updated_at": utcnow(),
            "updated_by": person,
        }
        if row is None:
            uow.repo.add(ProvinceSettingsRow(province_id=province.id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
        await uow.repo.flush()
        rules = await rules_of(uow, settings, province.id)
        await uow.commit()
        CONTEXTS.clear()
        return rules


# --- timetable


@dataclass(frozen=True, slots=True)
class Slot:
    weekday: int
    period: int
    subject_code: str
    teacher_id: uuid.UUID


async def read_timetable(
    uow: AttendanceUnitOfWork, actor: Actor, class_id: uuid.UUID
) -> tuple[ClassRow, list[TimetableSlotRow]]:
    async with uow:
        class_ = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", "/classes/{class_id}/timetable"), class_)
        return class_, await uow.repo.timetable(class_.id)


async def set_timetable(
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    class_id: uuid.UUID,
    slots: list[Slot],
) -> list[TimetableSlotRow]:
    async with uow:
        class_ = await class_of(uow, class_id, for_update=True)
        school = await authorize_class(
            uow, actor, rule("PUT", "/classes/{class_id}/timetable"), class_
        )
        actor.person()
        schedule = schedule_from_row(await uow.repo.bell_schedule(school.id), settings)
        periods = sum(s.periods for s in schedule.sessions)
        errors = []
        seen: set[tuple[int, int]] = set()
        for slot in slots:
            if (slot.weekday, slot.period) in seen:
                errors.append(
                    {"weekday": slot.weekday, "period": slot.period, "code": "slot-twice"}
                )
            seen.add((slot.weekday, slot.period))
            if slot.weekday not in schedule.weekdays or not 1 <= slot.period <= periods:
                errors.append(
                    {"weekday": slot.weekday, "period": slot.period, "code": "slot-outside-bells"}
                )
        if errors:
            raise invalid(
                "timetable-invalid",
                "Thời khóa biểu không khớp với lịch học của trường",
                f"{len(errors)} slot(s) are duplicated or outside the school's bells",
                errors=errors,
            )
        await uow.repo.replace_timetable(
            class_.id,
            [
                {
                    "class_id": class_.id,
                    "weekday": s.weekday,
                    "period": s.period,
                    "subject_code": s.subject_code,
                    "teacher_id": s.teacher_id,
                }
                for s in slots
            ],
        )
        rows = await uow.repo.timetable(class_.id)
        await uow.commit()
        return rows


# --- school days with their deadlines


@dataclass(frozen=True, slots=True)
class SchoolDay:
    day: date
    deadlines: dict[Session, datetime]


async def school_days(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    school_id: uuid.UUID,
    school_year: str,
    first: date,
    last: date,
) -> list[SchoolDay]:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        await authorize_at(uow, actor, rule("GET", "/schools/{school_id}/school-days"), school)
        if last < first or (last - first).days > 366:
            raise invalid("range-invalid", "Khoảng ngày không hợp lệ", "from ≤ to, at most a year")
        context = await school_context(uow, settings, school, school_year)
        return [
            SchoolDay(
                day,
                {
                    b.session: deadline_of(day, b, context.rules.grace)
                    for b in context.schedule.sessions
                },
            )
            for day in context.calendar.school_days(first, last)
        ]
