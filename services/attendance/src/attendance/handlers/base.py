"""What every handler of attendance shares: the clock, look-ups that 404, authorization, and a
school's calendar, bells and rules put together from the rows that hold them."""

from __future__ import annotations

import time as time_module
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from attendance.access import Actor, EndpointRule, Forbidden, Owner, Scope, not_homeroom
from attendance.clock import CLOCK
from attendance.domain.calendar import BellSchedule, SchoolCalendar, SessionBells
from attendance.domain.counting import DayRule
from attendance.models import BellScheduleRow, ClassRow, OrgUnitRow, SchoolYearRow
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.errors import Problem, http_problem
from common.events.attendance import Session
from common.events.identity import OrgLevel, Role

# pg_try_advisory_xact_lock key of the scheduled singletons (the deadline sweep, the month
# close): "att_swep" in ASCII, which fits a bigint.
SWEEP_LOCK_KEY = 0x61_74_74_5F_73_77_65_70


def utcnow() -> datetime:
    return CLOCK.now()


def not_found(what: str, ident: object) -> Problem:
    return http_problem(404, f"{what} {ident} does not exist")


def invalid(code: str, title_vi: str, detail: str, **extensions: object) -> Problem:
    """Input the rules refuse: 422 with its own code; nothing is written."""
    return Problem(422, code, title_vi, detail, extensions=extensions or None)


def conflict(code: str, title_vi: str, detail: str, **extensions: object) -> Problem:
    return Problem(409, code, title_vi, detail, extensions=extensions or None)


async def unit_of(
    uow: AttendanceUnitOfWork, unit_id: uuid.UUID, kind: OrgLevel | None = None
) -> OrgUnitRow:
    unit = await uow.repo.org_unit(unit_id)
    if unit is None or (kind is not None and unit.kind != kind):
        raise not_found((kind or "Org unit").capitalize(), unit_id)
    return unit


async def class_of(
    uow: AttendanceUnitOfWork, class_id: uuid.UUID, *, for_update: bool = False
) -> ClassRow:
    row = await uow.repo.class_(class_id, for_update=for_update)
    if row is None:
        raise not_found("Class", class_id)
    return row


async def authorize_at(
    uow: AttendanceUnitOfWork, actor: Actor, rule: EndpointRule, unit: OrgUnitRow
) -> frozenset[Role]:
    """The role check of a rule about ``unit`` itself (a province's rules, a unit's days)."""
    if rule.scope is Scope.PROVINCE:
        return await authorize_province(uow, actor, rule, unit)
    return actor.require(rule.roles, unit, writes=rule.writes)


async def authorize_province(
    uow: AttendanceUnitOfWork, actor: Actor, rule: EndpointRule, unit: OrgUnitRow
) -> frozenset[Role]:
    """Scope.PROVINCE: any grant at a unit of the resource's province, with a role of the rule."""
    units = await uow.repo.org_units(actor.granted_unit_ids(rule.roles))
    return actor.require_in_province(rule.roles, units, unit)


async def authorize_class(
    uow: AttendanceUnitOfWork, actor: Actor, rule: EndpointRule, row: ClassRow
) -> OrgUnitRow:
    """The role check at the class's school, then the owner check of the rule's row."""
    school = await unit_of(uow, row.school_id, OrgLevel.SCHOOL)
    held = actor.require(rule.roles, school, writes=rule.writes)
    only_teacher = held <= {Role.TEACHER}
    if not only_teacher or rule.owner is Owner.NONE:
        return school
    user = actor.user_id
    if rule.owner is Owner.HOMEROOM:
        if row.homeroom_teacher_id is None or row.homeroom_teacher_id != user:
            raise not_homeroom()
    elif rule.owner is Owner.TEACHER_OF_CLASS and (
        user is None
        or not (row.homeroom_teacher_id == user or await uow.repo.teaches_in(user, row.id))
    ):
        raise Forbidden("Teachers read the classes they teach or lead")
    # Owner.PERIOD_TEACHER is checked by the handler that knows the period.
    return school


# --- a school's calendar, bells and rules


@dataclass(frozen=True, slots=True)
class Rules:
    """A department's attendance rules (its own, or the platform's defaults)."""

    deadline_minutes: int
    day_rule: DayRule
    month_close_day: int
    absence_limit_days: int
    warn_from_days: int
    amend_days: int

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.deadline_minutes)


async def rules_of(
    uow: AttendanceUnitOfWork, settings: AttendanceSettings, province_id: uuid.UUID
) -> Rules:
    row = await uow.repo.province_settings(province_id)
    if row is None:
        return Rules(
            deadline_minutes=settings.deadline_minutes,
            day_rule=DayRule(settings.day_rule),
            month_close_day=settings.month_close_day,
            absence_limit_days=settings.absence_limit_days,
            warn_from_days=settings.warn_from_days,
            amend_days=settings.amend_days,
        )
    return Rules(
        deadline_minutes=row.deadline_minutes,
        day_rule=DayRule(row.day_rule),
        month_close_day=row.month_close_day,
        absence_limit_days=row.absence_limit_days,
        warn_from_days=row.warn_from_days,
        amend_days=row.amend_days,
    )


def default_schedule(settings: AttendanceSettings) -> BellSchedule:
    return BellSchedule(
        sessions=(SessionBells(Session.MORNING, settings.default_first_period),),
        weekdays=frozenset(settings.default_weekdays),
    )


def schedule_from_row(row: BellScheduleRow | None, settings: AttendanceSettings) -> BellSchedule:
    if row is None:
        return default_schedule(settings)
    return BellSchedule(
        sessions=tuple(
            SessionBells(
                session=Session(s["session"]),
                first_period_start=time.fromisoformat(s["first_period_start"]),
                period_minutes=s["period_minutes"],
                break_minutes=s["break_minutes"],
                periods=s["periods"],
                long_break_after=s.get("long_break_after"),
                long_break_minutes=s["long_break_minutes"],
            )
            for s in row.sessions
        ),
        weekdays=frozenset(row.weekdays),
    )


@dataclass(frozen=True, slots=True)
class SchoolContext:
    """Everything the roll call of a school checks a day against."""

    school: OrgUnitRow
    year: SchoolYearRow
    schedule: BellSchedule
    calendar: SchoolCalendar
    rules: Rules


class ContextCache:
    """A school's context for ``ttl`` seconds: every class of a school submits within minutes
    of the others, and four queries a roll for the same bells and holidays would be a third of
    the morning peak's statements. A change made through this process clears it at once; other
    replicas see it within the TTL (documented in docs/attendance.md)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[uuid.UUID, str], tuple[float, SchoolContext]] = {}

    def get(self, school_id: uuid.UUID, school_year: str, ttl: float) -> SchoolContext | None:
        found = self._entries.get((school_id, school_year))
        if found is None or time_module.monotonic() - found[0] > ttl:
            return None
        return found[1]

    def put(self, context: SchoolContext) -> None:
        if len(self._entries) > 20_000:  # a province's schools fit many times over
            self._entries.clear()
        self._entries[(context.school.id, context.year.code)] = (time_module.monotonic(), context)

    def clear(self) -> None:
        self._entries.clear()


CONTEXTS = ContextCache()


async def school_context(
    uow: AttendanceUnitOfWork,
    settings: AttendanceSettings,
    school: OrgUnitRow,
    school_year: str,
) -> SchoolContext:
    cached = CONTEXTS.get(school.id, school_year, settings.context_cache_seconds)
    if cached is not None:
        return cached
    context = await _load_context(uow, settings, school, school_year)
    CONTEXTS.put(context)
    return context


async def _load_context(
    uow: AttendanceUnitOfWork,
    settings: AttendanceSettings,
    school: OrgUnitRow,
    school_year: str,
) -> SchoolContext:
    year = await uow.repo.year_of_province(school.province_id, school_year)
    if year is None:
        raise conflict(
            "school-year-unknown",
            "Chưa có năm học trong lịch của tỉnh",
            f"{school_year} has not reached attendance from records yet",
        )
    schedule = schedule_from_row(await uow.repo.bell_schedule(school.id), settings)
    days = await uow.repo.calendar_days(
        (school.province_id, school.id), year.starts_on, year.ends_on
    )
    # A school's own entry wins over the province's for the same day.
    by_day = {d.day: d for d in days if d.unit_id == school.province_id}
    by_day.update({d.day: d for d in days if d.unit_id == school.id})
    calendar = SchoolCalendar(
        terms=tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in year.terms),
        weekdays=schedule.weekdays,
        holidays=frozenset(d for d, row in by_day.items() if row.kind == "holiday"),
        make_up_days=frozenset(d for d, row in by_day.items() if row.kind == "make_up"),
    )
    rules = await rules_of(uow, settings, school.province_id)
    return SchoolContext(school, year, schedule, calendar, rules)
