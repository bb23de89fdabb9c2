"""Bells, school days, holidays, the department's rules, classes and their timetable."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from attendance.access import rule
from attendance.api.deps import ActorDep, SettingsDep, UowDep
from attendance.domain.calendar import BellSchedule, SessionBells
from attendance.domain.counting import DayRule
from attendance.handlers import schedule as handlers
from attendance.handlers.base import Rules, authorize_at, invalid, unit_of
from attendance.models import TimetableSlotRow
from common.errors import problem_responses
from common.events.attendance import Session
from common.events.identity import OrgLevel, Role

router = APIRouter(tags=["schedules"])
# A wall-clock time of the school's day: always Việt Nam's, so an offset would only mislead.
LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


# --- bells


class SessionBellsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session: Session
    first_period_start: str = Field(
        pattern=LOCAL_TIME,
        description="Local time of day (Asia/Ho_Chi_Minh), no offset, e.g. 07:00.",
        examples=["07:00"],
    )
    period_minutes: int = Field(default=45, ge=20, le=90)
    break_minutes: int = Field(default=5, ge=0, le=60)
    periods: int = Field(default=5, ge=1, le=6)
    long_break_after: int | None = Field(default=2, ge=1, le=5)
    long_break_minutes: int = Field(default=15, ge=0, le=60)


class BellScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sessions: list[SessionBellsBody] = Field(min_length=1, max_length=2)
    weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5, 6], min_length=1, max_length=7, description="ISO: 1 = Monday."
    )


class BellScheduleRead(BellScheduleBody):
    version: int = Field(description="0 while the school uses the platform's default.")
    periods: list[list[str]] = Field(
        description="Start and end (HH:MM, local) of every period of the day."
    )


def _bells_read(schedule: BellSchedule, version: int) -> BellScheduleRead:
    return BellScheduleRead(
        sessions=[
            SessionBellsBody(
                session=s.session,
                first_period_start=s.first_period_start.strftime("%H:%M"),
                period_minutes=s.period_minutes,
                break_minutes=s.break_minutes,
                periods=s.periods,
                long_break_after=s.long_break_after,
                long_break_minutes=s.long_break_minutes,
            )
            for s in schedule.sessions
        ],
        weekdays=sorted(schedule.weekdays),
        version=version,
        periods=[
            [a.strftime("%H:%M"), b.strftime("%H:%M")]
            for s in schedule.sessions
            for a, b in s.period_times()
        ],
    )


@router.get(
    "/schools/{school_id}/bell-schedule",
    response_model=BellScheduleRead,
    summary="A school's bells and working weekdays",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_bells(
    school_id: uuid.UUID, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> BellScheduleRead:
    schedule, version = await handlers.read_bells(uow, actor, settings, school_id)
    return _bells_read(schedule, version)


@router.put(
    "/schools/{school_id}/bell-schedule",
    response_model=BellScheduleRead,
    summary="Set a school's bells (its board); deadlines follow the first period",
    responses=problem_responses(401, 403, 404, 422),
)
async def set_bells(
    school_id: uuid.UUID, body: BellScheduleBody, uow: UowDep, actor: ActorDep
) -> BellScheduleRead:
    try:
        schedule = BellSchedule(
            sessions=tuple(
                SessionBells(
                    session=s.session,
                    first_period_start=time.fromisoformat(s.first_period_start),
                    period_minutes=s.period_minutes,
                    break_minutes=s.break_minutes,
                    periods=s.periods,
                    long_break_after=s.long_break_after,
                    long_break_minutes=s.long_break_minutes,
                )
                for s in body.sessions
            ),
            weekdays=frozenset(body.weekdays),
        )
    except ValueError as exc:
        raise invalid("bells-invalid", "Thời gian biểu không hợp lệ", str(exc)) from None
    version = await handlers.set_bells(uow, actor, school_id, schedule)
    return _bells_read(schedule, version)


class SchoolDayRead(BaseModel):
    day: date
    deadlines: dict[Session, datetime] = Field(description="Roll-call deadline per session.")


@router.get(
    "/schools/{school_id}/school-days",
    response_model=list[SchoolDayRead],
    summary="A school's school days in a range, with the roll-call deadline of each session",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def school_days(
    school_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    school_year: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{4}$")],
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> list[SchoolDayRead]:
    days = await handlers.school_days(uow, actor, settings, school_id, school_year, from_, to)
    return [SchoolDayRead(day=d.day, deadlines=d.deadlines) for d in days]


# --- holidays and make-up days


class CalendarDayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["holiday", "make_up"] = Field(
        description="holiday (nghỉ), or make_up: a day off made a school day (học bù)."
    )
    name: str = Field(min_length=1, max_length=120, description="E.g. Tết Dương lịch.")


class CalendarDayRead(CalendarDayBody):
    unit_id: uuid.UUID
    day: date


@router.get(
    "/units/{unit_id}/calendar-days",
    response_model=list[CalendarDayRead],
    summary="Holidays and make-up days of a province or a school (a school's include the "
    "province's)",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_calendar_days(
    unit_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> list[CalendarDayRead]:
    rows = await handlers.list_calendar_days(uow, actor, unit_id, from_, to)
    return [CalendarDayRead(unit_id=r.unit_id, day=r.day, kind=r.kind, name=r.name) for r in rows]


@router.put(
    "/units/{unit_id}/calendar-days/{day}",
    response_model=CalendarDayRead,
    summary="Declare a holiday or a make-up day (province admin for the province, the school's "
    "board for the school)",
    responses=problem_responses(401, 403, 404, 422),
)
async def set_calendar_day(
    unit_id: uuid.UUID, day: date, body: CalendarDayBody, uow: UowDep, actor: ActorDep
) -> CalendarDayRead:
    row = await handlers.set_calendar_day(uow, actor, unit_id, day, body.kind, body.name)
    return CalendarDayRead(unit_id=row.unit_id, day=row.day, kind=body.kind, name=row.name)


@router.delete(
    "/units/{unit_id}/calendar-days/{day}",
    status_code=204,
    response_class=Response,
    summary="Remove a holiday or make-up day",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_calendar_day(
    unit_id: uuid.UUID, day: date, uow: UowDep, actor: ActorDep
) -> Response:
    await handlers.delete_calendar_day(uow, actor, unit_id, day)
    return Response(status_code=204)


# --- the department's rules


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deadline_minutes: int = Field(
        ge=0, le=240, description="Minutes after the first period's start (R14: 30)."
    )
    day_rule: DayRule = Field(
        description="whole_day: a day counts when every session was missed; any_session: when "
        "one was (DOMAIN §7.3)."
    )
    month_close_day: int = Field(
        ge=1, le=28, description="Day of the next month the platform closes a month."
    )
    absence_limit_days: int = Field(ge=0, le=366, description="45 under TT 22 / TT 58.")
    warn_from_days: int = Field(ge=0, le=366, description="Flag students from this many days.")
    amend_days: int = Field(
        ge=0, le=31, description="Days after the roll's day the homeroom teacher amends alone."
    )


def _rules_read(rules: Rules) -> RulesBody:
    return RulesBody(
        deadline_minutes=rules.deadline_minutes,
        day_rule=rules.day_rule,
        month_close_day=rules.month_close_day,
        absence_limit_days=rules.absence_limit_days,
        warn_from_days=rules.warn_from_days,
        amend_days=rules.amend_days,
    )


@router.get(
    "/provinces/{province_id}/settings",
    response_model=RulesBody,
    summary="The department's attendance rules",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_rules(
    province_id: uuid.UUID, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> RulesBody:
    return _rules_read(await handlers.read_rules(uow, actor, settings, province_id))


@router.put(
    "/provinces/{province_id}/settings",
    response_model=RulesBody,
    summary="Set the department's attendance rules (Bình Phước may relax the deadline)",
    responses=problem_responses(401, 403, 404, 422),
)
async def set_rules(
    province_id: uuid.UUID, body: RulesBody, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> RulesBody:
    rules = await handlers.set_rules(
        uow,
        actor,
        settings,
        province_id,
        handlers.RulesWrite(
            deadline_minutes=body.deadline_minutes,
            day_rule=body.day_rule,
            month_close_day=body.month_close_day,
            absence_limit_days=body.absence_limit_days,
            warn_from_days=body.warn_from_days,
            amend_days=body.amend_days,
        ),
    )
    return _rules_read(rules)


# --- classes and the timetable


class ClassRead(BaseModel):
    class_id: uuid.UUID
    label: str
    grade: int
    school_year: str
    homeroom_teacher_id: uuid.UUID | None


@router.get(
    "/classes",
    response_model=list[ClassRead],
    summary="A school's classes as attendance knows them (a teacher sees the ones they lead "
    "or teach)",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_classes(
    uow: UowDep,
    actor: ActorDep,
    school_id: uuid.UUID,
    school_year: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{4}$")],
) -> list[ClassRead]:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        held = await authorize_at(uow, actor, rule("GET", "/classes"), school)
        classes = await uow.repo.classes_of_school(school.id, school_year)
        if held <= {Role.TEACHER}:
            user = actor.user_id
            taught = await uow.repo.classes_taught_by(user) if user else set()
            classes = [c for c in classes if c.homeroom_teacher_id == user or c.id in taught]
    return [
        ClassRead(
            class_id=c.id,
            label=c.label,
            grade=c.grade,
            school_year=c.school_year,
            homeroom_teacher_id=c.homeroom_teacher_id,
        )
        for c in classes
    ]


class SlotBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=1, le=7, description="ISO: 1 = Monday.")
    period: int = Field(ge=1, le=12, description="Period of the day, 1 = the first of the morning.")
    subject_code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    teacher_id: uuid.UUID


class TimetableBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slots: list[SlotBody] = Field(max_length=84)


def _timetable(rows: list[TimetableSlotRow]) -> TimetableBody:
    return TimetableBody(
        slots=[
            SlotBody(
                weekday=r.weekday,
                period=r.period,
                subject_code=r.subject_code,
                teacher_id=r.teacher_id,
            )
            for r in rows
        ]
    )


@router.get(
    "/classes/{class_id}/timetable",
    response_model=TimetableBody,
    summary="A class's timetable (thời khóa biểu)",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_timetable(class_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> TimetableBody:
    _, rows = await handlers.read_timetable(uow, actor, class_id)
    return _timetable(rows)


@router.put(
    "/classes/{class_id}/timetable",
    response_model=TimetableBody,
    summary="Replace a class's timetable (the school's board)",
    responses=problem_responses(401, 403, 404, 422),
)
async def set_timetable(
    class_id: uuid.UUID, body: TimetableBody, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> TimetableBody:
    rows = await handlers.set_timetable(
        uow,
        actor,
        settings,
        class_id,
        [handlers.Slot(s.weekday, s.period, s.subject_code, s.teacher_id) for s in body.slots],
    )
    return _timetable(rows)
