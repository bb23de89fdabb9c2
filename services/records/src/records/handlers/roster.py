"""``ClassRosterChanged``: the whole list of a class, published whenever it changes (R13, R14).

Attendance takes the roll from it, so it carries names and enrolment dates and nothing else
about a child. Handlers do not call ``emit_roster`` themselves: they note the class with
``uow.roster_changed`` and the unit of work emits once per class at commit.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from common.events.records import ClassRosterChanged, RosterStudent
from records.handlers.base import class_of, school_unit, utcnow, year_of
from records.models import EnrolmentRow, StudentRow
from records.uow import RecordsUnitOfWork


async def emit_roster(uow: RecordsUnitOfWork, class_id: uuid.UUID) -> None:
    """Emit the class's current state: every enrolment of it, with each student's name now."""
    row = await class_of(uow, class_id)
    school = await school_unit(uow, row.school_id)
    year = await year_of(uow, row.school_year_id)
    # A class belongs to one school year, so its enrolments are that year's.
    enrolments = await uow.records.session.execute(
        select(StudentRow.id, StudentRow.full_name, EnrolmentRow.starts_on, EnrolmentRow.ends_on)
        .join(EnrolmentRow, EnrolmentRow.student_id == StudentRow.id)
        .where(EnrolmentRow.class_id == row.id)
        .order_by(StudentRow.sort_key, StudentRow.id, EnrolmentRow.starts_on)
    )
    uow.emit(
        ClassRosterChanged(
            class_id=row.id,
            school_id=school.id,
            district_id=school.district_id,
            province_id=school.province_id,
            school_year=year.code,
            grade=row.grade,
            label=row.name,
            homeroom_teacher_id=row.homeroom_teacher_id,
            students=tuple(
                RosterStudent(
                    student_id=student_id, full_name=name, starts_on=starts_on, ends_on=ends_on
                )
                for student_id, name, starts_on, ends_on in enrolments
            ),
            changed_at=utcnow(),
        )
    )
