"""Compliance and absence reports for a school, a district (R7) or the province (R6), and the
students close to the 45-day limit (DOMAIN §1.9).

A class-session is *due* once its deadline has passed on a school day; it is then on time,
late, or missing. Rows are the children of the unit asked for: a school's classes, a
district's schools, the province's districts.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from attendance.access import Actor, rule
from attendance.domain.calendar import deadline as deadline_of
from attendance.domain.calendar import local_day
from attendance.domain.counting import LimitStatus, Spell, absence_days, limit_status
from attendance.handlers.base import (
    authorize_at,
    invalid,
    not_found,
    school_context,
    unit_of,
    utcnow,
)
from attendance.handlers.months import rolls_of
from attendance.models import ClassRow, OrgUnitRow
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.events.identity import OrgLevel

MAX_DAYS = 200


@dataclass(slots=True)
class ComplianceRow:
    unit_id: uuid.UUID
    label: str
    due: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    student_sessions: int = 0
    absences: int = 0

    @property
    def absence_rate(self) -> float:
        return round(self.absences / self.student_sessions, 4) if self.student_sessions else 0.0

    def add(self, other: ComplianceRow) -> None:
        self.due += other.due
        self.on_time += other.on_time
        self.late += other.late
        self.missing += other.missing
        self.student_sessions += other.student_sessions
        self.absences += other.absences


@dataclass(slots=True)
class ComplianceReport:
    unit: OrgUnitRow
    first: date
    last: date
    school_year: str
    rows: list[ComplianceRow] = field(default_factory=list)
    total: ComplianceRow | None = None


async def _year_code(uow: AttendanceUnitOfWork, unit: OrgUnitRow, day: date) -> str:
    for year in await uow.repo.years_covering(day):
        if year.province_id == unit.province_id:
            return year.code
    raise invalid(
        "no-school-year", "Ngày không thuộc năm học nào", f"no school year of the province on {day}"
    )


async def _school_rows(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    settings: AttendanceSettings,
    school: OrgUnitRow,
    classes: list[ClassRow],
    first: date,
    last: date,
    now: datetime,
) -> dict[uuid.UUID, ComplianceRow]:
    """One row per class of the school."""
    rows = {c.id: ComplianceRow(c.id, c.label) for c in classes}
    if not classes:
        return rows
    context = await school_context(uow, settings, school, classes[0].school_year)
    due_sessions = 0
    for day in context.calendar.school_days(first, min(last, local_day(now))):
        for bells in context.schedule.sessions:
            if deadline_of(day, bells, context.rules.grace) < now:
                due_sessions += 1
    for school_id, class_id, on_time, count in await uow.repo.roll_counts([school.id], first, last):
        row = rows.get(class_id)
        if row is None or school_id != school.id:
            continue
        if on_time:
            row.on_time += count
        else:
            row.late += count
    totals = await uow.repo.roll_totals([c.id for c in classes], first, last)
    for class_id, (sessions, absences) in totals.items():
        if class_id in rows:
            rows[class_id].student_sessions, rows[class_id].absences = sessions, absences
    for row in rows.values():
        row.due = max(due_sessions, row.on_time + row.late)
        row.missing = row.due - row.on_time - row.late
    return rows


async def compliance(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    unit_id: uuid.UUID,
    first: date,
    last: date,
    *,
    path: str = "/reports/compliance",
) -> ComplianceReport:
    now = utcnow()
    async with uow:
        unit = await unit_of(uow, unit_id)
        await authorize_at(uow, actor, rule("GET", path), unit)
        if last < first or (last - first).days > MAX_DAYS:
            raise invalid(
                "range-invalid", "Khoảng ngày không hợp lệ", f"from ≤ to, at most {MAX_DAYS} days"
            )
        year = await _year_code(uow, unit, first)
        level = OrgLevel(unit.kind)
        classes = await uow.repo.classes_in(level.value, unit.id, year)
        by_school: dict[uuid.UUID, list[ClassRow]] = defaultdict(list)
        for c in classes:
            by_school[c.school_id].append(c)
        units = await uow.repo.org_units(
            {*by_school, *(c.district_id for c in classes if c.district_id is not None)}
        )
        report = ComplianceReport(unit, first, last, year)
        groups: dict[uuid.UUID, ComplianceRow] = {}
        for school_id, school_classes in by_school.items():
            school = units.get(school_id)
            if school is None:
                continue
            class_rows = await _school_rows(uow, settings, school, school_classes, first, last, now)
            if level is OrgLevel.SCHOOL:
                groups.update(class_rows)
                continue
            # The province's rows are its districts, and the schools under it directly.
            key = (
                school_id
                if level is OrgLevel.DISTRICT
                else school_classes[0].district_id or school_id
            )
            label_unit = units.get(key)
            group = groups.setdefault(
                key, ComplianceRow(key, label_unit.code if label_unit else str(key))
            )
            for row in class_rows.values():
                group.add(row)
        report.rows = sorted(groups.values(), key=lambda r: r.label)
        total = ComplianceRow(unit.id, unit.code)
        for row in report.rows:
            total.add(row)
        report.total = total
        return report


# --- students close to the limit


@dataclass(frozen=True, slots=True)
class AtRisk:
    student_id: uuid.UUID
    full_name: str
    class_id: uuid.UUID
    class_label: str
    excused_days: int
    unexcused_days: int
    status: LimitStatus

    @property
    def total(self) -> int:
        return self.excused_days + self.unexcused_days


async def absence_limit(
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    school_id: uuid.UUID,
    *,
    path: str = "/schools/{school_id}/absence-limit",
) -> tuple[OrgUnitRow, str, int, list[AtRisk]]:
    """Secondary students of a school whose year-to-date absence days reach the warning line.

    Primary has no limit (TT 27); its classes are left out.
    """
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        await authorize_at(uow, actor, rule("GET", path), school)
        today = local_day(utcnow())
        year_code = await _year_code(uow, school, today)
        classes = [
            c for c in await uow.repo.classes_of_school(school.id, year_code) if c.grade >= 6
        ]
        if not classes:
            return school, year_code, 0, []
        context = await school_context(uow, settings, school, year_code)
        first, last = context.year.starts_on, min(today, context.year.ends_on)
        ids = [c.id for c in classes]
        enrolments = await uow.repo.enrolments(ids)
        rolls = rolls_of(
            await uow.repo.sessions_held(ids, first, last),
            await uow.repo.absent_marks(ids, first, last),
            enrolments,
        )
        spells: dict[uuid.UUID, list[Spell]] = defaultdict(list)
        where: dict[uuid.UUID, tuple[str, ClassRow]] = {}
        labels = {c.id: c for c in classes}
        for e in enrolments:
            spells[e.student_id].append(Spell(e.starts_on, e.ends_on))
            where[e.student_id] = (e.full_name, labels[e.class_id])
        totals = absence_days(rolls, spells, context.rules.day_rule)
        rules = context.rules
        found = []
        for student, days in totals.items():
            status = limit_status(days.total, rules.absence_limit_days, rules.warn_from_days)
            if status is LimitStatus.WITHIN:
                continue
            name, class_ = where[student]
            found.append(
                AtRisk(student, name, class_.id, class_.label, days.excused, days.unexcused, status)
            )
        found.sort(key=lambda r: (-r.total, r.class_label, r.full_name))
        return school, year_code, rules.absence_limit_days, found


__all__ = [
    "AtRisk",
    "ComplianceReport",
    "ComplianceRow",
    "absence_limit",
    "compliance",
    "not_found",
]
