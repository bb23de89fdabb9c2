"""Events published by ``services/records``: term locks, corrections and student movements.

Records owns school years and terms, so their field types live here for other producers to use.
None of these events carries a score, a rating or anything about a child beyond ids: consumers
that need the values read the locked snapshot from records, where the read is logged.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from common.events.base import IntegrationEvent
from common.events.identity import DistrictId, ProvinceId, SchoolId

# ASCII digits on purpose: pydantic's regex engine treats \d as any Unicode digit.
SCHOOL_YEAR_PATTERN = r"^[0-9]{4}-[0-9]{4}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


def _consecutive_years(value: str) -> str:
    start, end = value.split("-")
    if int(end) != int(start) + 1:
        raise ValueError("a school year spans two consecutive years, e.g. 2025-2026")
    return value


SchoolYear = Annotated[
    str,
    StringConstraints(pattern=SCHOOL_YEAR_PATTERN),
    AfterValidator(_consecutive_years),
    Field(description="School year (năm học), e.g. 2025-2026.", examples=["2025-2026"]),
]
Sha256Hex = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]


class Term(StrEnum):
    """Assessment period that is locked and archived: học kỳ I, học kỳ II, or cả năm."""

    TERM_1 = "term_1"
    TERM_2 = "term_2"
    YEAR = "year"


class ReopenReason(StrEnum):
    """Who wanted the term open: the school itself (R10) or a window set above it (R31)."""

    SCHOOL_DECISION = "school_decision"
    SUPERVISORY_WINDOW = "supervisory_window"


class CorrectedEntry(StrEnum):
    """Kind of entry a correction changed; the values themselves stay in records."""

    ASSESSMENT = "assessment"
    CONDUCT = "conduct"
    QUALITY_COMPETENCY = "quality_competency"
    OUTCOME = "outcome"


class TransferKind(StrEnum):
    """Movement of a student: to another class (chuyển lớp) or another school (chuyển trường)."""

    CLASS_CHANGE = "class_change"
    SCHOOL_CHANGE = "school_change"


TermId = Annotated[uuid.UUID, Field(description="Id of the school's term in records.")]


class TermLocked(IntegrationEvent):
    """A school's term or year was locked (khóa sổ); its data is final from ``snapshot`` on.

    Published by records in the same transaction as the lock (R37). Archive renders and has
    signed the transcripts, tracking books and class summaries of exactly this snapshot.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.term.locked.v1"
    # Lock, corrections and reopening of one term share the subject so their order is kept.
    subject_field: ClassVar[str] = "term_id"

    term_id: TermId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    term: Term = Field(description="Which period was locked.")
    snapshot: int = Field(
        ge=1, description="Version of the term's data at the lock; read exactly this from records."
    )
    class_ids: tuple[uuid.UUID, ...] = Field(description="Classes whose records the lock covers.")
    locked_at: AwareDatetime = Field(description="When the term was locked.")
    locked_by: uuid.UUID = Field(description="User id of the school leader who locked it.")
    lock_id: uuid.UUID | None = Field(
        default=None, description="Id of the lock in records (added in catalogue 1.3)."
    )
    audit_head: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description=(
            "Hex SHA-256 head of the school's audit chain when the lock was recorded, so an "
            "archived package pins the whole history before it (added in catalogue 1.3)."
        ),
    )


class TermReopened(IntegrationEvent):
    """A locked term was reopened (mở khóa sổ) for changes or inspection.

    Published by records when a school leader, or a window set by the district or province,
    reopens a locked term. Documents archived from ``previous_snapshot`` stay valid versions.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.term.reopened.v1"
    subject_field: ClassVar[str] = "term_id"

    term_id: TermId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    term: Term = Field(description="Which period was reopened.")
    reason: ReopenReason = Field(description="Why the term was reopened.")
    previous_snapshot: int = Field(ge=1, description="Snapshot the term had been locked at.")
    reopened_at: AwareDatetime = Field(description="When the term was reopened.")
    reopened_until: AwareDatetime | None = Field(
        description="End of the reopening window; null when it stays open until locked again."
    )
    reopened_by: uuid.UUID = Field(description="User id of the person who reopened it.")


class CorrectionApplied(IntegrationEvent):
    """A correction of an entry error (điều chỉnh sai sót) was applied to a locked term (R27).

    Published by records once the teacher's request has the school leader's approval and the
    edit has been made before its witnesses. Archive re-renders the affected documents from
    ``snapshot`` as new versions; the old versions stay.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.correction.applied.v1"
    subject_field: ClassVar[str] = "term_id"

    correction_id: uuid.UUID = Field(description="Id of the correction in records.")
    term_id: TermId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    term: Term = Field(description="Period the corrected entry belongs to.")
    class_id: uuid.UUID = Field(description="Class of the student whose entry was corrected.")
    student_id: uuid.UUID = Field(description="Student whose entry was corrected.")
    subject_id: uuid.UUID | None = Field(
        description="School subject (môn học) of the entry; null for conduct and outcomes."
    )
    entry: CorrectedEntry = Field(description="Kind of entry that was corrected.")
    snapshot: int = Field(ge=1, description="Version of the term's data after the correction.")
    requested_by: uuid.UUID = Field(description="User id of the teacher who asked for it.")
    approved_by: uuid.UUID = Field(description="User id of the school leader who approved it.")
    applied_by: uuid.UUID = Field(description="User id of the person who made the edit.")
    witnessed_by: tuple[uuid.UUID, ...] = Field(
        min_length=1,
        description="User ids of the witnesses: admin board members and the homeroom teacher.",
    )
    applied_at: AwareDatetime = Field(description="When the correction was applied.")
    audit_hash: Sha256Hex = Field(
        description="Hex SHA-256 of the audit-chain entry recording the correction."
    )
    # Added after v1 was first published; optional, so older events still read.
    sheet: str | None = Field(
        default=None,
        description="Sheet of the entry: a subject code, or _conduct / _qualities.",
    )
    period: str | None = Field(
        default=None,
        description="Sheet period of the entry (term_1, term_2, summer or a primary checkpoint).",
    )
    columns: tuple[str, ...] = Field(
        default=(), description="Column codes of the corrected cells (e.g. ck, gk, tx1, rating)."
    )
    lock_id: uuid.UUID | None = Field(
        default=None, description="The term lock the corrected entry was locked under."
    )


class StudentTransferred(IntegrationEvent):
    """A student moved to another class or school (chuyển lớp, chuyển trường; R14).

    Published by records when the movement is recorded. The scope fields name the school the
    student leaves; the ``to_*`` fields the destination, null where it is outside the platform.
    The transcript (học bạ) goes with the student, so archive issues its copy on a school change.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.student.transferred.v1"
    subject_field: ClassVar[str] = "student_id"

    movement_id: uuid.UUID = Field(description="Id of the movement in records.")
    student_id: uuid.UUID = Field(description="Student who moved.")
    kind: TransferKind = Field(description="Class change within the school or school change.")
    school_year: SchoolYear
    effective_on: date = Field(description="First school day in the new class or school.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    class_id: uuid.UUID = Field(description="Class the student leaves.")
    to_school_id: uuid.UUID | None = Field(
        description="Destination school; null when it is outside the platform."
    )
    to_district_id: uuid.UUID | None = Field(
        description="District of the destination school; null without one or when unknown."
    )
    to_province_id: uuid.UUID | None = Field(
        description="Province of the destination school; null when outside the platform."
    )
    to_class_id: uuid.UUID | None = Field(
        description="Destination class; null until the destination school places the student."
    )
    recorded_at: AwareDatetime = Field(description="When the movement was recorded.")
    recorded_by: uuid.UUID = Field(description="User id of the person who recorded it.")


class ResultPeriod(StrEnum):
    """Period of a class's computed results: a term (primary: its end) or the whole year."""

    TERM_1 = "term_1"
    TERM_2 = "term_2"
    YEAR = "year"


class ClassCreated(IntegrationEvent):
    """A class (lớp) was opened in a school for a school year.

    Published when records commits a new class; attendance keeps its own list of classes and
    their homeroom teachers from it.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.class.created.v1"
    subject_field: ClassVar[str] = "class_id"

    class_id: uuid.UUID = Field(description="Id of the class in records.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    grade: int = Field(ge=1, le=12, description="Grade (khối lớp), 1 to 12.")
    label: str = Field(min_length=1, max_length=40, description="The class label, e.g. 6A1.")
    homeroom_teacher_id: uuid.UUID | None = Field(
        description="User id of the homeroom teacher (giáo viên chủ nhiệm); null until named."
    )
    created_at: AwareDatetime = Field(description="When the class was created.")
    created_by: uuid.UUID | None = Field(
        description="User id of the school admin who created it; null when the platform did."
    )


class SheetPeriod(StrEnum):
    """Period of a sheet: terms and summer (secondary), the four checkpoints (primary)."""

    TERM_1 = "term_1"
    TERM_2 = "term_2"
    SUMMER = "summer"
    MID_TERM_1 = "mid_term_1"
    END_TERM_1 = "end_term_1"
    MID_TERM_2 = "mid_term_2"
    END_YEAR = "end_year"


class WritePath(StrEnum):
    """How cells reached records."""

    API = "api"
    EXCEL = "excel"
    BULK = "bulk"
    CORRECTION = "correction"  # an applied correction of a locked entry (R27)


class SheetCell(BaseModel):
    """Coordinates of one changed cell of a sheet; the value stays in records."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    student_id: uuid.UUID = Field(description="Student of the row.")
    column: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,24}$")] = Field(
        description="Column code, e.g. tx1, gk, ck, level, rating."
    )


class AssessmentChanged(IntegrationEvent):
    """A teacher saved cells of a sheet (sổ điểm): one event per saved sheet (R18, R19).

    A sheet is one class × one subject (or the homeroom teacher's ``_conduct`` / ``_qualities``
    sheet) × one period. Published by records in the save's transaction, whether the cells came
    from the sheet API, an Excel import or a bulk load. Carries which cells changed, not their
    values: consumers that need the values read the sheet from records, where reads are checked.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.assessment.changed.v1"
    subject_field: ClassVar[str] = "sheet_id"

    sheet_id: uuid.UUID = Field(description="Id of the sheet in records.")
    class_id: uuid.UUID = Field(description="Class of the sheet.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    sheet: str = Field(
        pattern=r"^_?[a-z0-9_]{1,40}$",
        description="Subject code (môn học), or _conduct / _qualities for the homeroom sheets.",
    )
    period: SheetPeriod = Field(
        description=(
            "term_1, term_2 or summer (secondary); mid_term_1, end_term_1, mid_term_2 or "
            "end_year (primary checkpoints)."
        )
    )
    version: int = Field(ge=1, description="The sheet's version (its ETag) after the save.")
    cells: tuple[SheetCell, ...] = Field(min_length=1, description="The cells that changed.")
    via: WritePath = Field(description="Write path: the sheet API, an Excel import, a bulk load.")
    changed_at: AwareDatetime = Field(description="When the save was committed.")
    changed_by: uuid.UUID = Field(description="User id of the teacher who saved it.")


class ResultsApproved(IntegrationEvent):
    """The school leader approved a class's results for a period (xét duyệt, R12).

    Published when the approval is committed, after the homeroom teacher's confirmation (R17)
    of exactly the same data version.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.results.approved.v1"
    subject_field: ClassVar[str] = "class_id"

    review_id: uuid.UUID = Field(description="Id of the confirmation and approval in records.")
    class_id: uuid.UUID = Field(description="Class whose results were approved.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    period: ResultPeriod = Field(description="Which results: a term or the year.")
    data_version: int = Field(ge=0, description="Version of the class's data approved.")
    confirmed_by: uuid.UUID = Field(description="User id of the homeroom teacher who confirmed.")
    approved_by: uuid.UUID = Field(description="User id of the school leader who approved.")
    approved_at: AwareDatetime = Field(description="When the results were approved.")


class RosterStudent(BaseModel):
    """A student's time in a class: the name to call and the dates they are on the list."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    student_id: uuid.UUID = Field(description="Student, as records knows them.")
    full_name: str = Field(min_length=1, max_length=100, description="Full name, as enrolled.")
    starts_on: date = Field(description="First day in the class.")
    ends_on: date | None = Field(description="Last day in the class; null while still in it.")


class ClassRosterChanged(IntegrationEvent):
    """The list of a class (danh sách lớp) or its homeroom teacher changed (R13, R14).

    Published by records when a class opens, students join or leave it, a name is corrected,
    or the homeroom teacher changes. A whole-state event: it carries every enrolment of the
    class this school year, so a consumer replaces its copy and keeps the one with the highest
    ``sequence``. Attendance takes the roll from it. It carries names and dates only: no birth
    date, no national ID, nothing a roll call does not need.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.class.roster_changed.v1"
    subject_field: ClassVar[str] = "class_id"

    class_id: uuid.UUID = Field(description="Id of the class in records.")
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    grade: int = Field(ge=1, le=12, description="Grade (khối lớp), 1 to 12.")
    label: str = Field(min_length=1, max_length=40, description="The class label, e.g. 6A1.")
    homeroom_teacher_id: uuid.UUID | None = Field(
        description="User id of the homeroom teacher (giáo viên chủ nhiệm); null until named."
    )
    students: tuple[RosterStudent, ...] = Field(
        max_length=2_000, description="Every enrolment of the class in the school year."
    )
    changed_at: AwareDatetime = Field(description="When the list changed.")


class TermDates(BaseModel):
    """First and last day of a term of a school year."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    term: Term = Field(description="term_1 or term_2.")
    starts_on: date
    ends_on: date


class SchoolYearScheduled(IntegrationEvent):
    """A province's school year (năm học) was opened, or its term dates changed.

    Published by records with the year's dates and its two terms. Whole-state, like
    ``ClassRosterChanged``: keep the one with the highest ``sequence``. Attendance derives its
    school days from the terms, less its own holidays.
    """

    event_type: ClassVar[str] = "vn.hsdt.records.schoolyear.scheduled.v1"
    subject_field: ClassVar[str] = "school_year_id"

    school_year_id: uuid.UUID = Field(description="Id of the school year in records.")
    province_id: ProvinceId
    school_year: SchoolYear
    starts_on: date = Field(description="First day of the school year.")
    ends_on: date = Field(description="Last day of the school year.")
    terms: tuple[TermDates, ...] = Field(description="The terms' dates (học kỳ I, học kỳ II).")
    scheduled_at: AwareDatetime = Field(description="When the dates were set.")
