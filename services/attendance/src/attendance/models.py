"""Tables of the attendance service.

Three copies of other services' state, each kept from their events and never written here
otherwise: the org tree (identity), school years and class lists (records). A roll call must not
wait on records at the morning peak, so the class list it is checked against is local.

A roll call is one row per class, day and session plus one row per student mark; every
revision (the first submission and each amendment) is kept whole in ``roll_call_revisions``,
which is never updated, so who changed which mark when is a query.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _now() -> Any:
    return text("now()")


# --- copies of other services' state


class OrgUnitRow(Base):
    """Copy of identity's org tree: department, district offices, schools."""

    __tablename__ = "org_units"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[uuid.UUID | None]
    province_id: Mapped[uuid.UUID] = mapped_column(index=True)
    district_id: Mapped[uuid.UUID | None] = mapped_column(index=True)


class SchoolYearRow(Base):
    """Copy of a province's school year and its terms (records' ``schoolyear.scheduled``)."""

    __tablename__ = "school_years"
    __table_args__ = (UniqueConstraint("province_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    province_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(9))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    # [[first, last], ...] as ISO dates, one pair per term.
    terms: Mapped[list[list[str]]] = mapped_column(JSONB)
    # CloudEvents sequence of the event this copy came from; an older one is ignored.
    sequence: Mapped[str] = mapped_column(String(20))


class ClassRow(Base):
    """Copy of a class and its homeroom teacher (records' ``class.roster_changed``)."""

    __tablename__ = "classes"
    __table_args__ = (Index("ix_classes_school_year", "school_id", "school_year"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    school_id: Mapped[uuid.UUID]
    # Null for a school under the department directly (THPT, GDTX).
    district_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    province_id: Mapped[uuid.UUID] = mapped_column(index=True)
    school_year: Mapped[str] = mapped_column(String(9))
    grade: Mapped[int] = mapped_column(SmallInteger)
    label: Mapped[str] = mapped_column(String(40))
    homeroom_teacher_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    sequence: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class EnrolmentRow(Base):
    """A student's time on a class list, from records; the roll is checked against it."""

    __tablename__ = "enrolments"

    class_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[date | None] = mapped_column(Date)
    full_name: Mapped[str] = mapped_column(String(100))
    # common.vietnamese.name_sort_key: compared bytewise, hence COLLATE "C".
    sort_key: Mapped[str] = mapped_column(String(400, collation="C"))


# --- what attendance owns: schedules, calendar exceptions, settings


class BellScheduleRow(Base):
    """A school's bell schedule (thời gian biểu): sessions, first periods, working weekdays."""

    __tablename__ = "bell_schedules"

    school_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # [{"session", "first_period_start": "07:00", "period_minutes", ...}, ...]
    sessions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    weekdays: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[uuid.UUID]


class CalendarDayRow(Base):
    """A holiday (nghỉ lễ) or a make-up school day (học bù) of a province or a school."""

    __tablename__ = "calendar_days"

    unit_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | make_up
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID]


class ProvinceSettingsRow(Base):
    """A department's attendance rules: the deadline, how days are counted, the month close."""

    __tablename__ = "province_settings"

    province_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deadline_minutes: Mapped[int] = mapped_column(SmallInteger)
    day_rule: Mapped[str] = mapped_column(String(16))
    month_close_day: Mapped[int] = mapped_column(SmallInteger)
    absence_limit_days: Mapped[int] = mapped_column(SmallInteger)
    warn_from_days: Mapped[int] = mapped_column(SmallInteger)
    amend_days: Mapped[int] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[uuid.UUID]


class TimetableSlotRow(Base):
    """Thời khóa biểu: which teacher teaches which subject in a period of a weekday."""

    __tablename__ = "timetable_slots"

    class_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    weekday: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    period: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    subject_code: Mapped[str] = mapped_column(String(40))
    teacher_id: Mapped[uuid.UUID] = mapped_column(index=True)


# --- roll calls


class RollCallRow(Base):
    """A class's roll (điểm danh) for a day and session (R14)."""

    __tablename__ = "roll_calls"
    __table_args__ = (
        UniqueConstraint("class_id", "day", "session"),
        Index("ix_roll_calls_school_day", "school_id", "day"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID]
    day: Mapped[date] = mapped_column(Date)
    session: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The first submission decides lateness; amendments never make a roll late or on time.
    first_submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on_time: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[uuid.UUID]
    client_id: Mapped[str | None] = mapped_column(String(64))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    present: Mapped[int] = mapped_column(SmallInteger)
    late_arrivals: Mapped[int] = mapped_column(SmallInteger)
    absent_excused: Mapped[int] = mapped_column(SmallInteger)
    absent_unexcused: Mapped[int] = mapped_column(SmallInteger)


class MarkRow(Base):
    """One student's mark in the current revision of a roll call."""

    __tablename__ = "roll_call_marks"

    roll_call_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    mark: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(200))


class RevisionRow(Base):
    """A whole revision of a roll call as submitted; never updated (the history)."""

    __tablename__ = "roll_call_revisions"

    roll_call_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    # {"<student id>": ["<mark>", "<reason or null>"], ...}
    marks: Mapped[dict[str, Any]] = mapped_column(JSONB)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[uuid.UUID]
    client_id: Mapped[str | None] = mapped_column(String(64))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[uuid.UUID | None]
    amendment_id: Mapped[uuid.UUID | None]


class AmendmentRow(Base):
    """A change to a roll after its day, waiting for the school leader's approval."""

    __tablename__ = "roll_call_amendments"
    __table_args__ = (Index("ix_amendments_school_status", "school_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    roll_call_id: Mapped[uuid.UUID] = mapped_column(index=True)
    class_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID]
    base_revision: Mapped[int] = mapped_column(Integer)
    marks: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    requested_by: Mapped[uuid.UUID]
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(String(500))


class PeriodAttendanceRow(Base):
    """Attendance of one period (tiết) by the teacher of that period (LC Đ11.1)."""

    __tablename__ = "period_attendance"
    __table_args__ = (UniqueConstraint("class_id", "day", "period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    class_id: Mapped[uuid.UUID]
    school_id: Mapped[uuid.UUID]
    day: Mapped[date] = mapped_column(Date)
    period: Mapped[int] = mapped_column(SmallInteger)
    subject_code: Mapped[str] = mapped_column(String(40))
    teacher_id: Mapped[uuid.UUID]
    # Only who was not present: {"<student id>": "<mark>"}; everyone else on the list was.
    marks: Mapped[dict[str, str]] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[uuid.UUID]


class MissingRollCallRow(Base):
    """A roll the deadline sweep found missing; the primary key makes the report once-only."""

    __tablename__ = "missing_roll_calls"

    class_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    session: Mapped[str] = mapped_column(String(16), primary_key=True)
    school_id: Mapped[uuid.UUID]
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SweptSessionRow(Base):
    """A school's session whose deadline the sweep has handled."""

    __tablename__ = "swept_sessions"

    school_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    session: Mapped[str] = mapped_column(String(16), primary_key=True)
    swept_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    missing: Mapped[int] = mapped_column(Integer)


class MonthCloseRow(Base):
    """A class's closed month: the per-student totals sent to records, by revision."""

    __tablename__ = "month_closes"

    class_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(Integer)
    # {"<student id>": [excused, unexcused], ...}
    totals: Mapped[dict[str, list[int]]] = mapped_column(JSONB)
    school_days: Mapped[int] = mapped_column(SmallInteger)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[uuid.UUID | None]


class IdempotencyKeyRow(Base):
    """A write done under an ``Idempotency-Key``: a retry gets the same answer back."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(SmallInteger)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), index=True
    )
