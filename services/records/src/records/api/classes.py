"""Classes, students and movements, teaching assignments, class lists in Excel."""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Header, Path, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.errors import Problem, problem_responses
from records.access import Forbidden, rule
from records.api.deps import ActorDep, BoxDep, UowDep
from records.domain.curriculum import Term
from records.excel import class_list as excel
from records.excel.grade_sheet import XLSX_MEDIA_TYPE
from records.handlers import classes as handlers
from records.handlers.base import authorize_class, authorize_student, class_of, student_of
from records.handlers.sheets import etag, parse_if_match
from records.models import ClassRow, MovementRow, StudentRow, TeachingAssignmentRow

router = APIRouter(tags=["classes"])
logger = logging.getLogger(__name__)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SubjectCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class ClassCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    school_id: uuid.UUID
    school_year_id: uuid.UUID
    grade: int = Field(ge=1, le=12)
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    homeroom_teacher_id: uuid.UUID | None = None


class ClassPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    homeroom_teacher_id: uuid.UUID | None


class ClassRead(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    school_year_id: uuid.UUID
    grade: int
    name: str
    homeroom_teacher_id: uuid.UUID | None
    data_version: int


def _class_read(row: ClassRow) -> ClassRead:
    return ClassRead(
        id=row.id,
        school_id=row.school_id,
        school_year_id=row.school_year_id,
        grade=row.grade,
        name=row.name,
        homeroom_teacher_id=row.homeroom_teacher_id,
        data_version=row.data_version,
    )


@router.post(
    "/classes",
    status_code=201,
    response_model=ClassRead,
    summary="Open a class in a school for a school year",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_class(body: ClassCreate, uow: UowDep, actor: ActorDep) -> ClassRead:
    row = await handlers.create_class(
        uow,
        actor,
        handlers.CreateClass(
            body.school_id, body.school_year_id, body.grade, body.name, body.homeroom_teacher_id
        ),
    )
    return _class_read(row)


@router.get(
    "/classes",
    response_model=list[ClassRead],
    summary="Classes of a school (a teacher sees those they teach or lead)",
    responses=problem_responses(401, 403, 404),
)
async def list_classes(
    uow: UowDep,
    actor: ActorDep,
    school_id: uuid.UUID,
    school_year_id: uuid.UUID | None = None,
) -> list[ClassRead]:
    async with uow:
        from records.handlers.base import school_unit  # noqa: PLC0415

        school = await school_unit(uow, school_id)
        held = actor.check(rule("GET", "/classes"), school)
        only = actor.user_id if held <= {"teacher"} else None
        if held <= {"teacher"} and only is None:
            raise Forbidden("Teachers read the classes they teach or lead")
        rows = await uow.records.classes(school.id, school_year_id, only)
        return [_class_read(r) for r in rows]


@router.get(
    "/classes/{class_id}",
    response_model=ClassRead,
    summary="A class",
    responses=problem_responses(401, 403, 404),
)
async def read_class(class_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> ClassRead:
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", "/classes/{class_id}"), row)
        return _class_read(row)


@router.patch(
    "/classes/{class_id}",
    response_model=ClassRead,
    summary="Name the class's homeroom teacher",
    responses=problem_responses(401, 403, 404, 422),
)
async def patch_class(
    class_id: uuid.UUID, body: ClassPatch, uow: UowDep, actor: ActorDep
) -> ClassRead:
    row = await handlers.set_homeroom_teacher(uow, actor, class_id, body.homeroom_teacher_id)
    return _class_read(row)


# --- students


class GuardianModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    relation: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{9,12}$")] | None = None


class StudentProfileModel(BaseModel):
    """Sơ yếu lý lịch (R13)."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name
    date_of_birth: date
    gender: handlers.Gender
    ethnicity: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    place_of_birth: ShortText
    national_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")] | None = Field(
        default=None, description="Số định danh cá nhân, 12 digits; encrypted at rest."
    )
    student_code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,20}$")] | None = Field(
        default=None, description="Mã học sinh on the education-sector database."
    )
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    guardians: list[GuardianModel] = Field(default_factory=list, max_length=4)

    def to_profile(self) -> handlers.StudentProfile:
        return handlers.StudentProfile(
            full_name=self.full_name,
            date_of_birth=self.date_of_birth,
            gender=self.gender,
            ethnicity=self.ethnicity,
            place_of_birth=self.place_of_birth,
            national_id=self.national_id,
            student_code=self.student_code,
            address=self.address,
            guardians=tuple(handlers.Guardian(g.name, g.relation, g.phone) for g in self.guardians),
        )


class StudentEnrol(StudentProfileModel):
    starts_on: date = Field(description="First day in the class.")


class StudentRead(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    full_name: str
    date_of_birth: date
    gender: str
    ethnicity: str
    place_of_birth: str
    national_id: str | None = Field(description="Shown to the school's admins and leaders only.")
    student_code: str | None
    address: str | None
    guardians: list[GuardianModel]
    status: str
    version: int


def _student_read(row: StudentRow, national_id: str | None) -> StudentRead:
    return StudentRead(
        id=row.id,
        school_id=row.school_id,
        full_name=row.full_name,
        date_of_birth=row.date_of_birth,
        gender=row.gender,
        ethnicity=row.ethnicity,
        place_of_birth=row.place_of_birth,
        national_id=national_id,
        student_code=row.student_code,
        address=row.address,
        guardians=[GuardianModel.model_validate(g) for g in row.guardians],
        status=row.status,
        version=row.version,
    )


class RosterEntry(BaseModel):
    ordinal: int
    student_id: uuid.UUID
    full_name: str
    date_of_birth: date
    gender: str
    student_code: str | None
    starts_on: date
    ends_on: date | None


@router.get(
    "/classes/{class_id}/students",
    response_model=list[RosterEntry],
    summary="The class list, in Vietnamese name order",
    responses=problem_responses(401, 403, 404),
)
async def class_list(
    class_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    on: Annotated[date | None, Query(description="Only students in the class on this day.")] = None,
) -> list[RosterEntry]:
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", "/classes/{class_id}/students"), row)
        start, end = (on, on) if on else (date.min, date.max)
        roster = await uow.records.class_roster(row.id, start, end)
        return [
            RosterEntry(
                ordinal=i,
                student_id=s.id,
                full_name=s.full_name,
                date_of_birth=s.date_of_birth,
                gender=s.gender,
                student_code=s.student_code,
                starts_on=e.starts_on,
                ends_on=e.ends_on,
            )
            for i, (s, e) in enumerate(roster, start=1)
        ]


@router.post(
    "/classes/{class_id}/students",
    status_code=201,
    response_model=StudentRead,
    summary="Add a new student to the class",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def add_student(
    class_id: uuid.UUID, body: StudentEnrol, uow: UowDep, actor: ActorDep, box: BoxDep
) -> StudentRead:
    (row,) = await handlers.enrol_new_students(
        uow,
        actor,
        box,
        class_id=class_id,
        profiles=[body.to_profile()],
        starts_on=body.starts_on,
    )
    return _student_read(row, body.national_id)


@router.get(
    "/templates/class-list.xlsx",
    summary="Excel template of a class list",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **problem_responses(401)},
)
async def class_list_template(actor: ActorDep) -> Response:
    return Response(
        excel.class_list_template(),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="danh-sach-lop.xlsx"'},
    )


@router.get(
    "/classes/{class_id}/students.xlsx",
    summary="The class list as Excel",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **problem_responses(401, 403, 404)},
)
async def export_class_list(
    class_id: uuid.UUID, uow: UowDep, actor: ActorDep, box: BoxDep
) -> Response:
    async with uow:
        row = await class_of(uow, class_id)
        held_school = await authorize_class(
            uow, actor, rule("GET", "/classes/{class_id}/students.xlsx"), row
        )
        roster = await uow.records.class_roster(row.id, date.min, date.max)
        year = await uow.records.school_year(row.school_year_id)
        assert year is not None
        keepers = bool(actor.roles_at(held_school) & {"school_leader", "school_admin"})
        logger.info(
            "class list exported",
            extra={
                "class_id": str(row.id),
                "reader_id": str(actor.user_id) if actor.user_id else None,
                "client_id": actor.client_id,
                "students": len(roster),
                "national_id_shown": keepers,
            },
        )
        rows = [
            excel.StudentProfileRow(
                row=i,
                full_name=s.full_name,
                date_of_birth=s.date_of_birth,
                gender=s.gender,
                ethnicity=s.ethnicity,
                place_of_birth=s.place_of_birth,
                national_id=handlers.reveal_national_id(box, s) if keepers else None,
                student_code=s.student_code,
                address=s.address,
                guardian_name=s.guardians[0]["name"] if s.guardians else None,
                guardian_relation=s.guardians[0].get("relation") if s.guardians else None,
                guardian_phone=s.guardians[0].get("phone") if s.guardians else None,
            )
            for i, (s, _) in enumerate(roster, start=1)
        ]
    return Response(
        excel.export_class_list(row.name, year.code, rows),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="lop-{row.id}.xlsx"'},
    )


class ImportResult(BaseModel):
    created: int
    student_ids: list[uuid.UUID]


@router.post(
    "/classes/{class_id}/students/import",
    status_code=201,
    response_model=ImportResult,
    summary="Import a class list from Excel: every row or none",
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
async def import_class_list(
    class_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    box: BoxDep,
    file: Annotated[UploadFile, File(description="The filled-in class list template (.xlsx).")],
    starts_on: Annotated[date, Query(description="First day of the students in the class.")],
) -> ImportResult:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Problem(413, "payload-too-large", "Tệp quá lớn", "at most 5 MB")
    rows = excel.parse_class_list(data)
    profiles = [
        handlers.StudentProfile(
            full_name=r.full_name,
            date_of_birth=r.date_of_birth,
            gender=handlers.Gender(r.gender),
            ethnicity=r.ethnicity,
            place_of_birth=r.place_of_birth,
            national_id=r.national_id,
            student_code=r.student_code,
            address=r.address,
            guardians=(
                (handlers.Guardian(r.guardian_name, r.guardian_relation, r.guardian_phone),)
                if r.guardian_name
                else ()
            ),
        )
        for r in rows
    ]
    created = await handlers.enrol_new_students(
        uow,
        actor,
        box,
        class_id=class_id,
        profiles=profiles,
        starts_on=starts_on,
        route=("POST", "/classes/{class_id}/students/import"),
    )
    return ImportResult(created=len(created), student_ids=[s.id for s in created])


@router.get(
    "/students/{student_id}",
    response_model=StudentRead,
    summary="A student's profile",
    responses=problem_responses(401, 403, 404),
)
async def read_student(
    student_id: uuid.UUID, uow: UowDep, actor: ActorDep, box: BoxDep, response: Response
) -> StudentRead:
    async with uow:
        student = await student_of(uow, student_id)
        school, _ = await authorize_student(
            uow, actor, rule("GET", "/students/{student_id}"), student
        )
        keepers = bool(actor.roles_at(school) & {"school_leader", "school_admin"})
        # DESIGN: reads of children's profiles are logged — who read whose, never the content.
        logger.info(
            "student profile read",
            extra={
                "student_id": str(student.id),
                "reader_id": str(actor.user_id) if actor.user_id else None,
                "client_id": actor.client_id,
                "national_id_shown": keepers,
            },
        )
        response.headers["ETag"] = etag(student.version)
        return _student_read(
            student, handlers.reveal_national_id(box, student) if keepers else None
        )


@router.patch(
    "/students/{student_id}",
    response_model=StudentRead,
    summary="Update a student's profile (If-Match: the ETag read)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def patch_student(
    student_id: uuid.UUID,
    body: StudentProfileModel,
    uow: UowDep,
    actor: ActorDep,
    box: BoxDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> StudentRead:
    version = parse_if_match(if_match)
    row = await handlers.update_student(
        uow, actor, box, student_id=student_id, profile=body.to_profile(), if_match=version
    )
    response.headers["ETag"] = etag(row.version)
    return _student_read(row, body.national_id)


class EnrolmentRead(BaseModel):
    class_id: uuid.UUID
    school_id: uuid.UUID
    starts_on: date
    ends_on: date | None
    end_reason: str | None


class MovementWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: handlers.MovementKind
    effective_on: date
    to_class_id: uuid.UUID | None = None
    to_school_id: uuid.UUID | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class MovementRead(BaseModel):
    id: uuid.UUID
    kind: str
    effective_on: date
    from_school_id: uuid.UUID | None
    from_class_id: uuid.UUID | None
    to_school_id: uuid.UUID | None
    to_class_id: uuid.UUID | None
    note: str | None
    recorded_by: uuid.UUID


def _movement_read(m: MovementRow) -> MovementRead:
    return MovementRead(
        id=m.id,
        kind=m.kind,
        effective_on=m.effective_on,
        from_school_id=m.from_school_id,
        from_class_id=m.from_class_id,
        to_school_id=m.to_school_id,
        to_class_id=m.to_class_id,
        note=m.note,
        recorded_by=m.recorded_by,
    )


class StudentHistory(BaseModel):
    enrolments: list[EnrolmentRead]
    movements: list[MovementRead]


@router.get(
    "/students/{student_id}/history",
    response_model=StudentHistory,
    summary="Where the student has been: classes and movements (R14)",
    responses=problem_responses(401, 403, 404),
)
async def student_history(student_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> StudentHistory:
    async with uow:
        student = await student_of(uow, student_id)
        await authorize_student(uow, actor, rule("GET", "/students/{student_id}/history"), student)
        enrolments = await uow.records.enrolments_of(student.id)
        movements = await uow.records.movements_of(student.id)
        return StudentHistory(
            enrolments=[
                EnrolmentRead(
                    class_id=e.class_id,
                    school_id=e.school_id,
                    starts_on=e.starts_on,
                    ends_on=e.ends_on,
                    end_reason=e.end_reason,
                )
                for e in enrolments
            ],
            movements=[_movement_read(m) for m in movements],
        )


@router.post(
    "/students/{student_id}/movements",
    status_code=201,
    response_model=MovementRead,
    summary="Record a class change, transfer out or in, drop-out or return (R14)",
    responses=problem_responses(401, 403, 404, 422),
)
async def record_movement(
    student_id: uuid.UUID, body: MovementWrite, uow: UowDep, actor: ActorDep
) -> MovementRead:
    movement = await handlers.record_movement(
        uow,
        actor,
        handlers.RecordMovement(
            student_id=student_id,
            kind=body.kind,
            effective_on=body.effective_on,
            to_class_id=body.to_class_id,
            to_school_id=body.to_school_id,
            note=body.note,
        ),
    )
    return _movement_read(movement)


# --- teaching assignments


class AssignmentWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teacher_id: uuid.UUID


class AssignmentRead(BaseModel):
    class_id: uuid.UUID
    subject: str
    term: Term
    teacher_id: uuid.UUID


def _assignment_read(a: TeachingAssignmentRow) -> AssignmentRead:
    return AssignmentRead(
        class_id=a.class_id, subject=a.subject_code, term=Term(a.term), teacher_id=a.teacher_id
    )


@router.get(
    "/classes/{class_id}/assignments",
    response_model=list[AssignmentRead],
    summary="Who teaches what in the class (phân công)",
    responses=problem_responses(401, 403, 404),
)
async def list_assignments(
    class_id: uuid.UUID, uow: UowDep, actor: ActorDep
) -> list[AssignmentRead]:
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", "/classes/{class_id}/assignments"), row)
        return [_assignment_read(a) for a in await uow.records.assignments(row.id)]


@router.put(
    "/classes/{class_id}/assignments/{subject}/{term}",
    response_model=AssignmentRead,
    summary="Assign a teacher to a subject of the class for a term (R24)",
    responses=problem_responses(401, 403, 404, 422),
)
async def put_assignment(
    class_id: uuid.UUID,
    subject: SubjectCode,
    term: Term,
    body: AssignmentWrite,
    uow: UowDep,
    actor: ActorDep,
) -> AssignmentRead:
    row = await handlers.assign_teacher(
        uow, actor, class_id=class_id, subject=subject, term=term, teacher_id=body.teacher_id
    )
    return _assignment_read(row)


@router.delete(
    "/classes/{class_id}/assignments/{subject}/{term}",
    status_code=204,
    response_class=Response,
    summary="Remove an assignment",
    responses=problem_responses(401, 403, 404),
)
async def delete_assignment(
    class_id: uuid.UUID, subject: SubjectCode, term: Term, uow: UowDep, actor: ActorDep
) -> Response:
    await handlers.unassign_teacher(uow, actor, class_id, subject, term)
    return Response(status_code=204)


class MyAssignment(BaseModel):
    class_id: uuid.UUID
    class_name: str
    grade: int
    school_id: uuid.UUID
    school_year_id: uuid.UUID
    subject: str
    term: Term | None = Field(description="Null for the homeroom role.")
    homeroom: bool


@router.get(
    "/assignments/mine",
    response_model=list[MyAssignment],
    summary="What the caller teaches and which classes they lead",
    responses=problem_responses(401),
)
async def my_assignments(uow: UowDep, actor: ActorDep) -> list[MyAssignment]:
    if actor.user_id is None:
        return []
    async with uow:
        taught = await uow.records.assignments_of_teacher(actor.user_id)
        led = await uow.records.homeroom_classes_of(actor.user_id)
        out = [
            MyAssignment(
                class_id=c.id,
                class_name=c.name,
                grade=c.grade,
                school_id=c.school_id,
                school_year_id=c.school_year_id,
                subject=a.subject_code,
                term=Term(a.term),
                homeroom=False,
            )
            for a, c in taught
        ]
        out += [
            MyAssignment(
                class_id=c.id,
                class_name=c.name,
                grade=c.grade,
                school_id=c.school_id,
                school_year_id=c.school_year_id,
                subject="_qualities" if c.grade <= 5 else "_conduct",
                term=None,
                homeroom=True,
            )
            for c in led
        ]
        return out
