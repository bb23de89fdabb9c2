"""Attendance of one period (tiết) by the teacher the timetable gives it to (LC Đ11.1).

It records who was not there; it does not count towards the day's absences (the roll does),
but it shows a student who answered the roll and left, and it is the subject teacher's own
daily record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from attendance.access import Actor, Forbidden, rule
from attendance.domain.calendar import local_day, period_session
from attendance.domain.counting import Mark
from attendance.handlers.base import (
    authorize_class,
    class_of,
    invalid,
    not_found,
    school_context,
    utcnow,
)
from attendance.models import ClassRow, EnrolmentRow, PeriodAttendanceRow
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.errors import http_problem

ROUTE = "/classes/{class_id}/periods/{day}/{period}"


@dataclass(frozen=True, slots=True)
class SubmitPeriod:
    class_id: uuid.UUID
    day: date
    period: int
    not_present: dict[uuid.UUID, Mark]
    if_match: int | None


async def submit_period(
    uow: AttendanceUnitOfWork, actor: Actor, settings: AttendanceSettings, cmd: SubmitPeriod
) -> tuple[PeriodAttendanceRow, bool]:
    """Returns the row and whether it was created."""
    async with uow:
        class_ = await class_of(uow, cmd.class_id)
        school = await authorize_class(uow, actor, rule("PUT", ROUTE), class_)
        person = actor.person()
        context = await school_context(uow, settings, school, class_.school_year)
        why = context.calendar.why_not_school_day(cmd.day)
        if why is not None:
            raise invalid(
                "not-a-school-day", "Ngày này không phải ngày học", f"{cmd.day}: {why.value}"
            )
        if cmd.day > local_day(utcnow()):
            raise invalid("day-in-future", "Chưa thể điểm danh cho ngày chưa đến", str(cmd.day))
        try:
            period_session(context.schedule, cmd.period)
        except ValueError:
            raise invalid(
                "period-not-scheduled", "Trường không có tiết học này", f"period {cmd.period}"
            ) from None
        slot = await uow.repo.slot(class_.id, cmd.day.isoweekday(), cmd.period)
        if slot is None or slot.teacher_id != person:
            raise Forbidden(
                "The timetable gives this period to another teacher, or to none",
                code="not-period-teacher",
                title="Tiết học này không do thầy/cô dạy",
            )
        roster = await uow.repo.roster_on(class_.id, cmd.day)
        _check(roster, cmd.not_present)
        existing = await uow.repo.period_attendance(class_.id, cmd.day, cmd.period, for_update=True)
        marks = {str(s): m.value for s, m in cmd.not_present.items()}
        now = utcnow()
        if existing is None:
            if cmd.if_match is not None:
                raise http_problem(412, "Nothing to match yet", extensions={"current_version": 0})
            row = PeriodAttendanceRow(
                id=uuid.uuid4(),
                class_id=class_.id,
                school_id=class_.school_id,
                day=cmd.day,
                period=cmd.period,
                subject_code=slot.subject_code,
                teacher_id=person,
                marks=marks,
                version=1,
                submitted_at=now,
                submitted_by=person,
            )
            uow.repo.add(row)
            created = True
        else:
            if cmd.if_match is None:
                raise http_problem(
                    428,
                    "Send If-Match with the version you read",
                    extensions={"current_version": existing.version},
                )
            if cmd.if_match != existing.version:
                raise http_problem(
                    412,
                    f"The period is at version {existing.version}",
                    extensions={"current_version": existing.version},
                )
            row = existing
            row.marks, row.version, row.submitted_at, row.submitted_by = (
                marks,
                existing.version + 1,
                now,
                person,
            )
            created = False
        await uow.commit()
        return row, created


def _check(roster: list[EnrolmentRow], not_present: dict[uuid.UUID, Mark]) -> None:
    on_list = {e.student_id for e in roster}
    errors = [
        {
            "student_id": str(s),
            "code": "student-not-in-class",
            "message": "Học sinh không thuộc lớp vào ngày này",
        }
        for s in not_present
        if s not in on_list
    ]
    errors += [
        {
            "student_id": str(s),
            "code": "mark-present",
            "message": "Chỉ ghi học sinh vắng hoặc đi muộn",
        }
        for s, m in not_present.items()
        if m is Mark.PRESENT
    ]
    if errors:
        raise invalid(
            "period-invalid",
            "Điểm danh tiết học không hợp lệ",
            f"{len(errors)} problem(s); nothing was saved",
            errors=errors,
        )


async def read_period(
    uow: AttendanceUnitOfWork, actor: Actor, class_id: uuid.UUID, day: date, period: int
) -> tuple[ClassRow, PeriodAttendanceRow]:
    async with uow:
        class_ = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", ROUTE), class_)
        row = await uow.repo.period_attendance(class_.id, day, period)
        if row is None:
            raise not_found("Period attendance of", f"{class_id} {day} {period}")
        return class_, row


__all__ = ["PeriodAttendanceRow", "SubmitPeriod", "read_period", "submit_period"]
