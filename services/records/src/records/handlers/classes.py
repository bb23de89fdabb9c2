"""Classes, students and their movements, teaching assignments (R13, R14, R24, R35)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

from common.events.records import ClassCreated, StudentTransferred, TransferKind
from common.secretbox import SecretBox
from common.vietnamese import name_sort_key
from records import progress
from records.access import Actor, Forbidden, rule
from records.domain.curriculum import Level, Term, level_of_grade
from records.domain.errors import DomainError
from records.handlers.base import (
    audit,
    authorize_class,
    authorize_student,
    class_of,
    conflict,
    not_found,
    school_unit,
    utcnow,
    year_of,
)
from records.handlers.locks import ensure_class_writable, ensure_writable
from records.models import (
    ClassRow,
    EnrolmentRow,
    MovementRow,
    OrgUnitRow,
    SchoolYearRow,
    StudentRow,
    TeachingAssignmentRow,
)
from records.uow import RecordsUnitOfWork

NATIONAL_ID: Final = re.compile(r"^[0-9]{12}$")


def records_secret_box(data_key: bytes) -> SecretBox:
    return SecretBox(
        data_key,
        cipher_purpose=b"hsdt-records national-id v1",
        hash_purpose=b"hsdt-records national-id-lookup v1",
    )


# Which grades a school of each level (identity's school levels) may open classes in.
_GRADES_OF_LEVEL: Final[dict[str, range]] = {
    "primary": range(1, 6),
    "lower_secondary": range(6, 10),
    "upper_secondary": range(10, 13),
    "multi_level": range(1, 13),
    "vocational_continuing_centre": range(6, 13),
    "provincial_continuing_centre": range(6, 13),
}


def school_teaches_grade(levels: list[str], grade: int) -> bool:
    return any(grade in _GRADES_OF_LEVEL.get(level, range(0)) for level in levels)


@dataclass(frozen=True, slots=True)
class CreateClass:
    school_id: uuid.UUID
    school_year_id: uuid.UUID
    grade: int
    name: str
    homeroom_teacher_id: uuid.UUID | None


async def _check_year_of_school(
    uow: RecordsUnitOfWork, school: OrgUnitRow, year_id: uuid.UUID
) -> SchoolYearRow:
    year = await year_of(uow, year_id)
    if year.province_id != school.province_id:
        raise DomainError(
            "school-year-not-in-province",
            "Năm học không thuộc tỉnh của trường",
            "the school year belongs to another province",
        )
    return year


async def create_class(uow: RecordsUnitOfWork, actor: Actor, cmd: CreateClass) -> ClassRow:
    async with uow:
        school = await school_unit(uow, cmd.school_id)
        actor.check(rule("POST", "/classes"), school)
        year = await _check_year_of_school(uow, school, cmd.school_year_id)
        await ensure_writable(uow, school, year_id=year.id)
        level_of_grade(cmd.grade)
        if not school_teaches_grade(school.levels, cmd.grade):
            raise DomainError(
                "grade-not-taught",
                "Trường không dạy khối lớp này",
                f"school {school.code} ({', '.join(school.levels)}) has no grade {cmd.grade}",
            )
        row = ClassRow(
            id=uuid.uuid4(),
            school_id=school.id,
            school_year_id=year.id,
            grade=cmd.grade,
            name=cmd.name,
            homeroom_teacher_id=cmd.homeroom_teacher_id,
            data_version=0,
            created_at=utcnow(),
            created_by=actor.person(),
        )
        existing = await uow.records.classes(school.id, year.id, None)
        if any(c.name.casefold() == cmd.name.casefold() for c in existing):
            raise conflict("class-exists", "Lớp đã có", f"{cmd.name} exists in {year.code}")
        uow.records.add(row)
        await audit(
            uow,
            actor,
            school.id,
            "class.created",
            row.id,
            {"grade": row.grade, "name": row.name, "homeroom_teacher_id": row.homeroom_teacher_id},
        )
        await progress.recount_class(uow, row.id)  # progress figures (R11, R26)
        uow.roster_changed(row.id)  # an empty list, so attendance knows the class and teacher
        uow.emit(
            ClassCreated(
                class_id=row.id,
                school_id=school.id,
                district_id=school.district_id,
                province_id=school.province_id,
                school_year=year.code,
                grade=row.grade,
                label=row.name,
                homeroom_teacher_id=row.homeroom_teacher_id,
                created_at=row.created_at,
                created_by=row.created_by,
            )
        )
        await uow.commit()
        return row


async def set_homeroom_teacher(
    uow: RecordsUnitOfWork, actor: Actor, class_id: uuid.UUID, teacher_id: uuid.UUID | None
) -> ClassRow:
    async with uow:
        row = await class_of(uow, class_id, for_update=True)
        await authorize_class(uow, actor, rule("PATCH", "/classes/{class_id}"), row)
        await ensure_class_writable(uow, row)
        row.homeroom_teacher_id = teacher_id
        await audit(
            uow, actor, row.school_id, "class.homeroom_set", row.id, {"teacher_id": teacher_id}
        )
        await progress.teacher_changed(
            uow, row.id, subject=None, term=None, teacher_id=teacher_id
        )  # progress figures (R11, R26)
        uow.roster_changed(row.id)
        await uow.commit()
        return row


# --- students


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class Guardian:
    name: str
    relation: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class StudentProfile:
    """Sơ yếu lý lịch (R13)."""

    full_name: str
    date_of_birth: date
    gender: Gender
    ethnicity: str
    place_of_birth: str
    national_id: str | None = None
    student_code: str | None = None
    address: str | None = None
    guardians: tuple[Guardian, ...] = field(default=())


def _guardians_json(guardians: tuple[Guardian, ...]) -> list[dict[str, Any]]:
    return [{"name": g.name, "relation": g.relation, "phone": g.phone} for g in guardians]


def _check_profile(profile: StudentProfile) -> None:
    if profile.national_id is not None and not NATIONAL_ID.match(profile.national_id):
        raise DomainError(
            "national-id-invalid",
            "Số định danh cá nhân phải gồm 12 chữ số",
            "a national personal ID is 12 ASCII digits",
        )


async def _check_unique_identifiers(
    uow: RecordsUnitOfWork, box: SecretBox, profile: StudentProfile, own_id: uuid.UUID | None
) -> str | None:
    digest = None
    if profile.national_id is not None:
        digest = box.keyed_hash(profile.national_id)
        other = await uow.records.student_id_by_digest(digest)
        if other is not None and other != own_id:
            # No id in the answer: the number alone must not reveal where a child is.
            raise conflict(
                "national-id-exists",
                "Số định danh cá nhân đã có trong hệ thống",
                "another student has this national ID; record a transfer instead",
            )
    if profile.student_code is not None:
        other = await uow.records.student_id_by_code(profile.student_code)
        if other is not None and other != own_id:
            raise conflict(
                "student-code-exists",
                "Mã học sinh đã có trong hệ thống",
                "another student has this education-sector code",
            )
    return digest


def _apply_profile(
    row: StudentRow, profile: StudentProfile, box: SecretBox, digest: str | None
) -> None:
    row.full_name = profile.full_name
    row.sort_key = name_sort_key(profile.full_name)
    row.date_of_birth = profile.date_of_birth
    row.gender = profile.gender.value
    row.ethnicity = profile.ethnicity
    row.place_of_birth = profile.place_of_birth
    row.national_id_cipher = (
        None
        if profile.national_id is None
        else box.encrypt(profile.national_id.encode(), owner=str(row.id))
    )
    row.national_id_digest = digest
    row.student_code = profile.student_code
    row.address = profile.address
    row.guardians = _guardians_json(profile.guardians)


def _check_enrolment_date(year: SchoolYearRow, on: date) -> None:
    if not year.starts_on <= on <= year.ends_on:
        raise DomainError(
            "date-outside-school-year",
            "Ngày không thuộc năm học của lớp",
            f"{on} is outside {year.code} ({year.starts_on}..{year.ends_on})",
        )


async def enrol_new_students(
    uow: RecordsUnitOfWork,
    actor: Actor,
    box: SecretBox,
    *,
    class_id: uuid.UUID,
    profiles: list[StudentProfile],
    starts_on: date,
    route: tuple[str, str] = ("POST", "/classes/{class_id}/students"),
) -> list[StudentRow]:
    """Add students to a class from their profiles: all of them or none."""
    for profile in profiles:
        _check_profile(profile)
    async with uow:
        row = await class_of(uow, class_id, for_update=True)
        await authorize_class(uow, actor, rule(*route), row)
        await ensure_class_writable(uow, row)
        year = await year_of(uow, row.school_year_id)
        _check_enrolment_date(year, starts_on)
        seen_ids: set[str] = set()
        seen_codes: set[str] = set()
        created: list[StudentRow] = []
        now = utcnow()
        for profile in profiles:
            for value, seen in (
                (profile.national_id, seen_ids),
                (profile.student_code, seen_codes),
            ):
                if value is not None:
                    if value in seen:
                        raise conflict(
                            "duplicate-in-request",
                            "Danh sách có học sinh trùng mã",
                            "two rows share a national ID or student code",
                        )
                    seen.add(value)
            digest = await _check_unique_identifiers(uow, box, profile, None)
            student = StudentRow(
                id=uuid.uuid4(),
                school_id=row.school_id,
                status="enrolled",
                version=1,
                created_at=now,
                updated_at=now,
            )
            _apply_profile(student, profile, box, digest)
            uow.records.add(student)
            # No ORM relationships (lazy loading is off by design), so the order of inserts
            # is ours to make: the student before the enrolment that references it.
            await uow.records.flush()
            uow.records.add(
                EnrolmentRow(
                    id=uuid.uuid4(),
                    student_id=student.id,
                    class_id=row.id,
                    school_id=row.school_id,
                    starts_on=starts_on,
                )
            )
            created.append(student)
        await uow.records.bump_class_version(row.id)
        await progress.roster_changed(uow, row.id)  # progress figures (R11, R26)
        uow.roster_changed(row.id)
        await audit(
            uow,
            actor,
            row.school_id,
            "students.enrolled",
            row.id,
            {"students": [s.id for s in created], "starts_on": starts_on.isoformat()},
        )
        await uow.commit()
        return created


async def update_student(
    uow: RecordsUnitOfWork,
    actor: Actor,
    box: SecretBox,
    *,
    student_id: uuid.UUID,
    profile: StudentProfile,
    if_match: int,
) -> StudentRow:
    _check_profile(profile)
    async with uow:
        student = await uow.records.student(student_id, for_update=True)
        if student is None:
            raise not_found("Student", student_id)
        school, current = await authorize_student(
            uow, actor, rule("PATCH", "/students/{student_id}"), student
        )
        await ensure_writable(uow, school, year_id=current.school_year_id if current else None)
        if student.version != if_match:
            from records.handlers.sheets import stale  # noqa: PLC0415 - one shared 412 shape

            raise stale(student.version)
        digest = await _check_unique_identifiers(uow, box, profile, student.id)
        renamed = student.full_name != profile.full_name
        _apply_profile(student, profile, box, digest)
        if renamed:
            # The lists that call the student by name this year; older years' lists are history.
            uow.roster_changed(*await _classes_this_year(uow, student.id))
        student.version += 1
        student.updated_at = utcnow()
        # The chain records that the profile changed and its version, not the personal data.
        await audit(
            uow, actor, school.id, "student.updated", student.id, {"version": student.version}
        )
        await uow.commit()
        return student


async def _classes_this_year(uow: RecordsUnitOfWork, student_id: uuid.UUID) -> list[uuid.UUID]:
    """Classes of the student's enrolments in the year of their current (or last) class."""
    enrolments = await uow.records.enrolments_of(student_id)
    if not enrolments:
        return []
    current = next((e for e in reversed(enrolments) if e.ends_on is None), enrolments[-1])
    year_id = (await class_of(uow, current.class_id)).school_year_id
    classes = [await class_of(uow, e.class_id) for e in enrolments]
    return list(dict.fromkeys(c.id for c in classes if c.school_year_id == year_id))


def reveal_national_id(box: SecretBox, student: StudentRow) -> str | None:
    if student.national_id_cipher is None:
        return None
    return box.decrypt(student.national_id_cipher, owner=str(student.id)).decode()


# --- movements (R14)


class MovementKind(StrEnum):
    CLASS_TRANSFER = "class_transfer"  # chuyển lớp
    TRANSFER_OUT = "transfer_out"  # chuyển đi (another school)
    TRANSFER_IN = "transfer_in"  # chuyển đến (from another school)
    DROP_OUT = "drop_out"  # bỏ học
    RETURN = "return"  # trở lại học


@dataclass(frozen=True, slots=True)
class RecordMovement:
    student_id: uuid.UUID
    kind: MovementKind
    effective_on: date
    to_class_id: uuid.UUID | None = None
    to_school_id: uuid.UUID | None = None
    note: str | None = None


def _movement_invalid(detail: str) -> DomainError:
    return DomainError("movement-invalid", "Biến động học sinh không hợp lệ", detail)


async def _close_enrolment(
    uow: RecordsUnitOfWork, student: StudentRow, on: date, reason: str
) -> EnrolmentRow:
    open_ = await uow.records.open_enrolment(student.id)
    if open_ is None:
        raise _movement_invalid("the student is in no class now")
    last_day = on - timedelta(days=1)
    if last_day < open_.starts_on:
        raise _movement_invalid("the movement takes effect before the student joined the class")
    open_.ends_on = last_day
    open_.end_reason = reason
    await uow.records.bump_class_version(open_.class_id)
    return open_


async def _open_enrolment(
    uow: RecordsUnitOfWork, student: StudentRow, target: ClassRow, on: date
) -> None:
    year = await year_of(uow, target.school_year_id)
    _check_enrolment_date(year, on)
    uow.records.add(
        EnrolmentRow(
            id=uuid.uuid4(),
            student_id=student.id,
            class_id=target.id,
            school_id=target.school_id,
            starts_on=on,
        )
    )
    await uow.records.bump_class_version(target.id)


async def _check_transfer_in(
    uow: RecordsUnitOfWork, student: StudentRow, target: ClassRow | None
) -> ClassRow:
    if target is None:
        raise _movement_invalid("a transfer in names the class the student joins")
    pending = await uow.records.last_movement(student.id)
    if student.status != "transferred_out" or (
        pending is not None
        and pending.to_school_id is not None
        and pending.to_school_id != target.school_id
    ):
        raise _movement_invalid("the student has not been transferred to this school")
    return target


async def _apply_movement(
    uow: RecordsUnitOfWork, student: StudentRow, cmd: RecordMovement, target: ClassRow | None
) -> uuid.UUID | None:
    """Change enrolments and status; returns the class the student left, if any."""
    on = cmd.effective_on
    if cmd.kind is MovementKind.CLASS_TRANSFER:
        if target is None or target.school_id != student.school_id:
            raise _movement_invalid("a class transfer moves to a class of the same school")
        closed = await _close_enrolment(uow, student, on, "class_transfer")
        if closed.class_id == target.id:
            raise _movement_invalid("the student is already in that class")
        await _open_enrolment(uow, student, target, on)
        return closed.class_id
    if cmd.kind is MovementKind.TRANSFER_OUT:
        if cmd.to_school_id is not None and cmd.to_school_id == student.school_id:
            raise _movement_invalid("a transfer out goes to another school")
        closed = await _close_enrolment(uow, student, on, "transfer_out")
        student.status = "transferred_out"
        return closed.class_id
    if cmd.kind is MovementKind.DROP_OUT:
        closed = await _close_enrolment(uow, student, on, "drop_out")
        student.status = "dropped_out"
        return closed.class_id
    if cmd.kind is MovementKind.TRANSFER_IN:
        assert target is not None
        student.school_id = target.school_id
    elif student.status != "dropped_out":
        raise _movement_invalid("only a student who dropped out returns")
    elif target is None or target.school_id != student.school_id:
        raise _movement_invalid("a return names a class of the student's school")
    student.status = "enrolled"
    await _open_enrolment(uow, student, target, on)
    return None


_EVENT_KIND: Final = {
    MovementKind.CLASS_TRANSFER: TransferKind.CLASS_CHANGE,
    MovementKind.TRANSFER_OUT: TransferKind.SCHOOL_CHANGE,
}


async def record_movement(uow: RecordsUnitOfWork, actor: Actor, cmd: RecordMovement) -> MovementRow:
    """Record a movement (R14). The school the student is in acts, except on a transfer in,
    where the receiving school places a student another school let go; the history (classes,
    entries) stays where it was made and travels with the student."""
    route = rule("POST", "/students/{student_id}/movements")
    async with uow:
        student = await uow.records.student(cmd.student_id, for_update=True)
        if student is None:
            raise not_found("Student", cmd.student_id)
        target = None
        if cmd.to_class_id is not None:
            target = await class_of(uow, cmd.to_class_id, for_update=True)
        if cmd.kind is MovementKind.TRANSFER_IN:
            target = await _check_transfer_in(uow, student, target)
            actor.check(route, await school_unit(uow, target.school_id))
        else:
            home = await school_unit(uow, student.school_id)
            actor.check(route, home)
            current = await uow.records.open_enrolment(student.id)
            if current is not None:
                await ensure_class_writable(uow, await class_of(uow, current.class_id))
        if target is not None:
            await ensure_class_writable(uow, target)
        from_school = student.school_id
        from_class = await _apply_movement(uow, student, cmd, target)
        now = utcnow()
        movement = MovementRow(
            id=uuid.uuid4(),
            student_id=student.id,
            kind=cmd.kind.value,
            effective_on=cmd.effective_on,
            from_school_id=from_school,
            from_class_id=from_class,
            to_school_id=target.school_id if target is not None else cmd.to_school_id,
            to_class_id=target.id if target is not None else None,
            note=cmd.note,
            recorded_by=actor.person(),
            recorded_at=now,
        )
        uow.records.add(movement)
        await progress.roster_changed(
            uow, from_class, movement.to_class_id
        )  # progress figures (R11, R26)
        uow.roster_changed(from_class, movement.to_class_id)
        for school_id in dict.fromkeys([from_school, student.school_id]):
            await audit(
                uow,
                actor,
                school_id,
                "student.movement",
                student.id,
                {
                    "movement_id": movement.id,
                    "kind": cmd.kind.value,
                    "effective_on": cmd.effective_on.isoformat(),
                    "from_class_id": from_class,
                    "to_class_id": movement.to_class_id,
                    "to_school_id": movement.to_school_id,
                },
                at=now,
            )
        event_kind = _EVENT_KIND.get(cmd.kind)
        if event_kind is not None and from_class is not None:
            await _emit_transfer(uow, student, movement, event_kind, from_class)
        student.version += 1
        student.updated_at = now
        await uow.commit()
        return movement


async def _emit_transfer(
    uow: RecordsUnitOfWork,
    student: StudentRow,
    movement: MovementRow,
    kind: TransferKind,
    from_class: uuid.UUID,
) -> None:
    left = await class_of(uow, from_class)
    school = await school_unit(uow, left.school_id)
    year = await year_of(uow, left.school_year_id)
    destination = (
        await uow.records.org_unit(movement.to_school_id)
        if movement.to_school_id is not None
        else None
    )
    uow.emit(
        StudentTransferred(
            movement_id=movement.id,
            student_id=student.id,
            kind=kind,
            school_year=year.code,
            effective_on=movement.effective_on,
            school_id=school.id,
            district_id=school.district_id,
            province_id=school.province_id,
            class_id=from_class,
            to_school_id=movement.to_school_id,
            to_district_id=destination.district_id if destination else None,
            to_province_id=destination.province_id if destination else None,
            to_class_id=movement.to_class_id,
            recorded_at=movement.recorded_at,
            recorded_by=movement.recorded_by,
        )
    )


# --- teaching assignments (phân công, R24)


async def assign_teacher(
    uow: RecordsUnitOfWork,
    actor: Actor,
    *,
    class_id: uuid.UUID,
    subject: str,
    term: Term,
    teacher_id: uuid.UUID,
) -> TeachingAssignmentRow:
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(
            uow, actor, rule("PUT", "/classes/{class_id}/assignments/{subject}/{term}"), row
        )
        await ensure_class_writable(uow, row, [term.value])
        if await uow.records.curriculum_subject(row.school_year_id, row.grade, subject) is None:
            raise DomainError(
                "subject-not-in-grade",
                "Khối lớp không có môn học này",
                f"grade {row.grade} has no subject {subject} this school year",
            )
        assignment = await uow.records.assignment(row.id, subject, term.value)
        if assignment is None:
            assignment = TeachingAssignmentRow(
                id=uuid.uuid4(), class_id=row.id, subject_code=subject, term=term.value
            )
            uow.records.add(assignment)
        assignment.teacher_id = teacher_id
        assignment.assigned_by = actor.person()
        assignment.assigned_at = utcnow()
        await progress.teacher_changed(
            uow, row.id, subject=subject, term=term.value, teacher_id=teacher_id
        )  # progress figures (R11, R26)
        await audit(
            uow,
            actor,
            row.school_id,
            "assignment.set",
            row.id,
            {"subject": subject, "term": term.value, "teacher_id": teacher_id},
        )
        await uow.commit()
        return assignment


async def unassign_teacher(
    uow: RecordsUnitOfWork, actor: Actor, class_id: uuid.UUID, subject: str, term: Term
) -> None:
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(
            uow, actor, rule("DELETE", "/classes/{class_id}/assignments/{subject}/{term}"), row
        )
        await ensure_class_writable(uow, row, [term.value])
        if not await uow.records.delete_assignment(row.id, subject, term.value):
            raise not_found("Assignment", f"{subject}/{term.value}")
        await progress.teacher_changed(
            uow, row.id, subject=subject, term=term.value, teacher_id=None
        )  # progress figures (R11, R26)
        await audit(
            uow,
            actor,
            row.school_id,
            "assignment.removed",
            row.id,
            {"subject": subject, "term": term.value},
        )
        await uow.commit()


def level_of_class(row: ClassRow) -> Level:
    return level_of_grade(row.grade)


def require_teacher(actor: Actor) -> uuid.UUID:
    if actor.user_id is None:
        raise Forbidden("A person's token (or acting_for) is needed")
    return actor.user_id
