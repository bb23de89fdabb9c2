"""Tables of the records service.

The org tree here is a read-only copy kept from identity's ``orgunit.created`` events: records
needs to know which district and province a school lies in to honour a grant made there, and
never reads identity's tables.

Entries are stored one cell per row, keyed by sheet, student and column, as the canonical strings
of ``domain.cells``; every change also appends a row to ``entry_changes``, which is never
updated, so the history of any cell (who, when, through which path) is a query, not a guess.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _now() -> Any:
    return text("now()")


class OrgUnitRow(Base):
    """Copy of identity's org tree: department, district offices, schools."""

    __tablename__ = "org_units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID] = mapped_column(index=True)
    district_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    levels: Mapped[list[str]] = mapped_column(ARRAY(String(40)))


class SchoolYearRow(Base):
    """A province's school year (năm học); its schools inherit it."""

    __tablename__ = "school_years"
    __table_args__ = (UniqueConstraint("province_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    province_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(9))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    created_by: Mapped[uuid.UUID | None]


class PeriodWindowRow(Base):
    """Dates of a period of a school year: the two terms with their mid-term windows, summer,
    and the four primary checkpoints. Entries of a period are dated inside its window."""

    __tablename__ = "period_windows"

    school_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("school_years.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    mid_term_from: Mapped[date | None] = mapped_column(Date)
    mid_term_to: Mapped[date | None] = mapped_column(Date)


class CurriculumSubjectRow(Base):
    """A subject of a grade in a school year (môn học), seeded from the rules' catalogue."""

    __tablename__ = "curriculum_subjects"
    __table_args__ = (UniqueConstraint("school_year_id", "grade", "code"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    school_year_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("school_years.id", ondelete="CASCADE")
    )
    grade: Mapped[int] = mapped_column(SmallInteger)
    ordinal: Mapped[int] = mapped_column(SmallInteger)
    code: Mapped[str] = mapped_column(String(40))
    name_vi: Mapped[str] = mapped_column(String(120))
    form: Mapped[str] = mapped_column(String(16))
    periods_per_year: Mapped[int | None] = mapped_column(SmallInteger)
    regular_count: Mapped[int] = mapped_column(SmallInteger)
    tested_at: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    elective: Mapped[bool] = mapped_column(Boolean)


class ClassRow(Base):
    """A class (lớp) of a school in a school year."""

    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("school_id", "school_year_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    school_year_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school_years.id"))
    grade: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(40))
    homeroom_teacher_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # Bumped by every change of an input to the class's results; confirmations name the
    # version they confirmed.
    data_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    created_by: Mapped[uuid.UUID | None]


class StudentRow(Base):
    """A student's profile (sơ yếu lý lịch, R13); ``school_id`` is where they are now."""

    __tablename__ = "students"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    full_name: Mapped[str] = mapped_column(String(100))
    # common.vietnamese.name_sort_key: compared bytewise, hence COLLATE "C".
    sort_key: Mapped[str] = mapped_column(String(400, collation="C"))
    date_of_birth: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    ethnicity: Mapped[str] = mapped_column(String(60))
    place_of_birth: Mapped[str] = mapped_column(String(200))
    national_id_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    national_id_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    student_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    address: Mapped[str | None] = mapped_column(String(300))
    guardians: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class EnrolmentRow(Base):
    """A student's time in a class, with effective dates (R14)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        Index(
            "uq_enrolments_open",
            "student_id",
            unique=True,
            postgresql_where=text("ends_on IS NULL"),
        ),
        Index("ix_enrolments_class", "class_id", "starts_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    school_id: Mapped[uuid.UUID]
    starts_on: Mapped[date] = mapped_column(Date)
    # The last day in the class; null while the student is in it.
    ends_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(20))


class MovementRow(Base):
    """A movement of a student: class change, transfer out or in, drop-out, return (R14)."""

    __tablename__ = "movements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date] = mapped_column(Date)
    from_school_id: Mapped[uuid.UUID | None]
    from_class_id: Mapped[uuid.UUID | None]
    to_school_id: Mapped[uuid.UUID | None]
    to_class_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by: Mapped[uuid.UUID]
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class TeachingAssignmentRow(Base):
    """Phân công: who teaches a subject in a class for a term (R24)."""

    __tablename__ = "teaching_assignments"
    __table_args__ = (UniqueConstraint("class_id", "subject_code", "term"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    subject_code: Mapped[str] = mapped_column(String(40))
    term: Mapped[str] = mapped_column(String(8))
    teacher_id: Mapped[uuid.UUID] = mapped_column(index=True)
    assigned_by: Mapped[uuid.UUID]
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class SheetRow(Base):
    """One sheet: class × subject (or conduct / qualities) × period, with its version (ETag)."""

    __tablename__ = "sheets"
    __table_args__ = (UniqueConstraint("class_id", "sheet", "period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    sheet: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[uuid.UUID | None]


class EntryRow(Base):
    """The current value of one cell."""

    __tablename__ = "entries"

    sheet_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sheets.id", ondelete="CASCADE"), primary_key=True
    )
    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    column: Mapped[str] = mapped_column(String(24), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    assessed_on: Mapped[date | None] = mapped_column(Date)
    entered_by: Mapped[uuid.UUID]
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_entries_student", "student_id"),)


class EntryChangeRow(Base):
    """Append-only history of every cell: the old and the new value, who, when and how."""

    __tablename__ = "entry_changes"
    __table_args__ = (
        Index("ix_entry_changes_cell", "sheet_id", "student_id", "column"),
        Index("ix_entry_changes_student", "student_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    sheet_id: Mapped[uuid.UUID]
    student_id: Mapped[uuid.UUID]
    column: Mapped[str] = mapped_column(String(24))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    sheet_version: Mapped[int] = mapped_column(Integer)
    changed_by: Mapped[uuid.UUID]
    client_id: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    correction_id: Mapped[uuid.UUID | None]


class AbsenceTotalRow(Base):
    """Days absent in a school year (excused, unexcused) that the 45-day rule reads.

    ``source`` says who keeps it: ``manual`` (the homeroom teacher's ``PUT``) until attendance
    closes a month for the student, ``attendance`` from then on (the sum of ``month_absences``).
    """

    __tablename__ = "absence_totals"
    __table_args__ = (
        CheckConstraint("source IN ('manual', 'attendance')", name="ck_absence_totals_source"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_year_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    excused_days: Mapped[int] = mapped_column(SmallInteger)
    unexcused_days: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class MonthAbsenceRow(Base):
    """A student's absence days in a month closed by attendance, for one class (R14).

    Attendance's fact, kept as sent: the revision with the highest ``sequence`` of the class's
    month wins, whatever order the events arrive in.
    """

    __tablename__ = "month_absences"
    __table_args__ = (
        Index("ix_month_absences_year_student", "school_year_id", "student_id"),
        Index("ix_month_absences_class_month", "class_id", "month"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    school_year_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school_years.id"))
    excused_days: Mapped[int] = mapped_column(SmallInteger)
    unexcused_days: Mapped[int] = mapped_column(SmallInteger)
    revision: Mapped[int] = mapped_column(Integer)
    # The MonthClosed envelope's ``sequence`` (attendance's outbox id).
    sequence: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ResultReviewRow(Base):
    """A confirmation of a class's results by its homeroom teacher (R17) and its approval by the
    school leader (R12). Voided, never deleted, when an input changes afterwards."""

    __tablename__ = "result_reviews"
    __table_args__ = (
        Index(
            "uq_result_reviews_live",
            "class_id",
            "period",
            unique=True,
            postgresql_where=text("voided_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"), index=True)
    period: Mapped[str] = mapped_column(String(8))
    data_version: Mapped[int] = mapped_column(BigInteger)
    confirmed_by: Mapped[uuid.UUID]
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[uuid.UUID | None]
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(40))


class LockRow(Base):
    """A term lock (khóa sổ, R10 R34 R37) or an inspection window (R31).

    A term lock is a school's, for a period (a term or the year) and all or some classes; it
    holds until reopened. An inspection window is set by a province or district admin over every
    school under ``scope_unit_id`` and makes their data read-only between its two times.
    """

    __tablename__ = "locks"
    __table_args__ = (
        Index("ix_locks_school_live", "school_id", postgresql_where=text("reopened_at IS NULL")),
        Index("ix_locks_scope_live", "scope_unit_id", postgresql_where=text("reopened_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "term" | "inspection"
    scope_unit_id: Mapped[uuid.UUID]  # the school (term) or the district / department (inspection)
    school_id: Mapped[uuid.UUID | None]  # term locks only
    school_year_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school_years.id"))
    period: Mapped[str | None] = mapped_column(String(8))  # term_1 / term_2 / year; None: all
    class_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid()))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    snapshot: Mapped[int | None] = mapped_column(Integer)
    audit_head: Mapped[str | None] = mapped_column(String(64))
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopened_by: Mapped[uuid.UUID | None]
    reopen_reason: Mapped[str | None] = mapped_column(String(500))


class SnapshotRow(Base):
    """An immutable read of a class's results for a period, as locked or as corrected."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("class_id", "period", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    school_year_id: Mapped[uuid.UUID]
    period: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    lock_id: Mapped[uuid.UUID | None]
    correction_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    data_sha256: Mapped[str] = mapped_column(String(64))


class SnapshotCounterRow(Base):
    """The snapshot version of a school's period: a lock takes the next, so does a correction."""

    __tablename__ = "snapshot_counters"

    school_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_year_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class CorrectionRow(Base):
    """A correction request on locked entries (R27): one student's cells of one sheet."""

    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_school_status", "school_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_id: Mapped[uuid.UUID]
    class_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("classes.id"))
    sheet: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"))
    cells: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # [{column, old, new}]
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID]
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    evidence_name: Mapped[str | None] = mapped_column(String(200))
    evidence_type: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(1000))
    board_witness_id: Mapped[uuid.UUID | None]
    board_witnessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    homeroom_witness_id: Mapped[uuid.UUID | None]
    homeroom_witnessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_snapshot: Mapped[int | None] = mapped_column(Integer)
    closed_by: Mapped[uuid.UUID | None]
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRecordRow(Base):
    """One record of a school's hash chain (R5): its content's hash joined to the previous."""

    __tablename__ = "audit_chain"

    school_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None]
    client_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    target: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The last record of each school's chain; locked while a record is appended."""

    __tablename__ = "audit_heads"

    school_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class SheetProgressRow(Base):
    """Entry progress of one sheet (R11, R26): cells required and entered, entered late.

    Kept as entries change (not counted on each request), so province-wide figures are sums
    over an index, whatever the number of entries.
    """

    __tablename__ = "sheet_progress"
    __table_args__ = (
        Index("ix_sheet_progress_school", "school_id", "school_year_id"),
        Index("ix_sheet_progress_district", "district_id", "school_year_id"),
        Index("ix_sheet_progress_province", "province_id", "school_year_id"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sheet: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    school_id: Mapped[uuid.UUID]
    district_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID]
    school_year_id: Mapped[uuid.UUID]
    teacher_id: Mapped[uuid.UUID | None]
    required: Mapped[int] = mapped_column(Integer, server_default="0")
    entered: Mapped[int] = mapped_column(Integer, server_default="0")
    late: Mapped[int] = mapped_column(Integer, server_default="0")


class MonthlyProgressRow(Base):
    """Required cells entered per sheet and calendar month (R26: figures by month)."""

    __tablename__ = "progress_monthly"
    __table_args__ = (
        Index("ix_progress_monthly_school", "school_id", "month"),
        Index("ix_progress_monthly_district", "district_id", "month"),
        Index("ix_progress_monthly_province", "province_id", "month"),
    )

    class_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sheet: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    school_id: Mapped[uuid.UUID]
    district_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID]
    entered: Mapped[int] = mapped_column(Integer, server_default="0")
    late: Mapped[int] = mapped_column(Integer, server_default="0")
