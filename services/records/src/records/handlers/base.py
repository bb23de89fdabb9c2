"""What every handler of records shares: the clock, look-ups that 404, scope resolution."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from common.errors import Problem, http_problem
from common.events.identity import OrgLevel
from records.access import Actor, EndpointRule, Forbidden, Owner
from records.models import ClassRow, OrgUnitRow, SchoolYearRow, StudentRow
from records.uow import RecordsUnitOfWork

# School days are Vietnamese days: "today" for an entry's date is today in Hà Nội.
SCHOOL_TIME_ZONE: Final = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(UTC)


def school_today() -> date:
    return datetime.now(SCHOOL_TIME_ZONE).date()


def not_found(what: str, ident: object) -> Problem:
    return http_problem(404, f"{what} {ident} does not exist")


def conflict(code: str, title_vi: str, detail: str, **extensions: object) -> Problem:
    return Problem(409, code, title_vi, detail, extensions=extensions or None)


async def school_unit(uow: RecordsUnitOfWork, school_id: uuid.UUID) -> OrgUnitRow:
    unit = await uow.records.org_unit(school_id)
    if unit is None or unit.kind != OrgLevel.SCHOOL:
        raise not_found("School", school_id)
    return unit


async def province_unit(uow: RecordsUnitOfWork, province_id: uuid.UUID) -> OrgUnitRow:
    unit = await uow.records.org_unit(province_id)
    if unit is None or unit.kind != OrgLevel.PROVINCE:
        raise not_found("Province", province_id)
    return unit


async def year_of(uow: RecordsUnitOfWork, year_id: uuid.UUID) -> SchoolYearRow:
    year = await uow.records.school_year(year_id)
    if year is None:
        raise not_found("School year", year_id)
    return year


async def class_of(
    uow: RecordsUnitOfWork, class_id: uuid.UUID, *, for_update: bool = False
) -> ClassRow:
    row = await uow.records.class_(class_id, for_update=for_update)
    if row is None:
        raise not_found("Class", class_id)
    return row


async def student_of(
    uow: RecordsUnitOfWork, student_id: uuid.UUID, *, for_update: bool = False
) -> StudentRow:
    row = await uow.records.student(student_id, for_update=for_update)
    if row is None:
        raise not_found("Student", student_id)
    return row


async def authorize_class(
    uow: RecordsUnitOfWork, actor: Actor, rule: EndpointRule, row: ClassRow
) -> OrgUnitRow:
    """The role check at the class's school, then the owner check of the rule's row.

    Owner checks that belong to one resource (a sheet's assigned teacher) are made by the
    handler that knows the resource; here are the ones every class route shares.
    """
    school = await school_unit(uow, row.school_id)
    held = actor.check(rule, school)
    only_teacher = held <= {"teacher"}
    if rule.owner is Owner.TEACHER_OF_CLASS and only_teacher:
        user = actor.user_id
        if user is None or not (
            row.homeroom_teacher_id == user or await uow.records.teaches_in(user, row.id)
        ):
            raise Forbidden("Teachers read the classes they teach or lead")
    if rule.owner is Owner.HOMEROOM and only_teacher and row.homeroom_teacher_id != actor.user_id:
        raise Forbidden(
            "Only the homeroom teacher of the class may do this",
            code="not-homeroom-teacher",
            title="Chỉ giáo viên chủ nhiệm của lớp được thực hiện",
        )
    return school


async def authorize_student(
    uow: RecordsUnitOfWork, actor: Actor, rule: EndpointRule, student: StudentRow
) -> tuple[OrgUnitRow, ClassRow | None]:
    """Scope of a student is their current school; the owner check uses their current class
    (or their last one, for a student who has left)."""
    enrolments = await uow.records.enrolments_of(student.id)
    current = next((e for e in reversed(enrolments) if e.ends_on is None), None)
    last = current or (enrolments[-1] if enrolments else None)
    if last is not None:
        row = await class_of(uow, last.class_id)
        if row.school_id == student.school_id:
            return await authorize_class(uow, actor, rule, row), row
    school = await school_unit(uow, student.school_id)
    held = actor.check(rule, school)
    if rule.owner is not Owner.NONE and held <= {"teacher"}:
        raise Forbidden("Teachers reach students through their classes")
    return school, None


async def audit(  # noqa: PLR0917 - the record's fields, in its order
    uow: RecordsUnitOfWork,
    actor: Actor | None,
    school_id: uuid.UUID,
    action: str,
    target: object,
    content: dict[str, object],
    at: datetime | None = None,
) -> str:
    """Append the write to the school's chain (R5); returns the new head."""
    record = await uow.audit.append(
        school_id,
        action,
        str(target),
        content,
        actor_id=actor.user_id if actor else None,
        client_id=actor.client_id if actor else None,
        at=at,
    )
    return record.hash
