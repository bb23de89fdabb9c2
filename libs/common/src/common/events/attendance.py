"""Events published by ``services/attendance``: daily roll calls and the monthly close.

Counts only for a class: which student was absent on which day stays in attendance, behind its
API, because absences are a child's personal data. The one exception is ``MonthClosed``, which
carries each student's *numbers* of absence days for the month: records needs them for the
45-day promotion rule (DOMAIN §1.9) and holds the same numbers already.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from common.events.base import IntegrationEvent
from common.events.identity import DistrictId, ProvinceId, SchoolId
from common.events.records import SchoolYear

YEAR_MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

ClassId = Annotated[uuid.UUID, Field(description="Class the roll call or totals are for.")]
Headcount = Annotated[int, Field(ge=0, le=10_000)]
YearMonth = Annotated[
    str,
    StringConstraints(pattern=YEAR_MONTH_PATTERN),
    Field(description="Calendar month, YYYY-MM.", examples=["2025-10"]),
]


class Session(StrEnum):
    """Half-day of school: buổi sáng or buổi chiều (two-session schools take both)."""

    MORNING = "morning"
    AFTERNOON = "afternoon"


class RollCallSubmitted(IntegrationEvent):
    """A class's roll call (điểm danh) for one session was submitted or amended (R14).

    Published for the first submission and for every amendment that takes effect (``revision``
    counts them from 1). A first submission after the deadline also publishes ``RollCallLate``.
    """

    event_type: ClassVar[str] = "vn.hsdt.attendance.rollcall.submitted.v1"
    subject_field: ClassVar[str] = "class_id"

    roll_call_id: uuid.UUID = Field(description="Id of the roll call in attendance.")
    class_id: ClassId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    day: date = Field(description="School day of the roll call.")
    session: Session = Field(description="Session the roll call is for.")
    enrolled: Headcount = Field(description="Students on the class list that day.")
    present: Headcount = Field(description="Students present, on time or late.")
    absent_excused: Headcount = Field(description="Students absent with permission (có phép).")
    absent_unexcused: Headcount = Field(
        description="Students absent without permission (không phép)."
    )
    deadline: AwareDatetime = Field(description="When the roll call was due (R14).")
    submitted_at: AwareDatetime = Field(description="When the server received it.")
    submitted_by: uuid.UUID = Field(description="User id of the teacher who submitted it.")
    late_arrivals: Headcount = Field(
        default=0, description="Students present but late (đi muộn); counted in ``present``."
    )
    revision: int = Field(default=1, ge=1, description="1 for the first submission, then +1.")
    on_time: bool = Field(
        default=True, description="Whether the first submission was in by the deadline."
    )
    taken_at: AwareDatetime | None = Field(
        default=None, description="When the device says the roll was taken; null if not sent."
    )


class RollCallLate(IntegrationEvent):
    """A class's roll call (điểm danh) arrived after its deadline (R14, LC: 30 minutes).

    Published once per class and session, with the first submission that came in late; the
    compliance figures count it as late, not missing (R26).
    """

    event_type: ClassVar[str] = "vn.hsdt.attendance.rollcall.late.v1"
    subject_field: ClassVar[str] = "class_id"

    roll_call_id: uuid.UUID = Field(description="Id of the roll call in attendance.")
    class_id: ClassId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    day: date = Field(description="School day of the roll call.")
    session: Session = Field(description="Session of the roll call.")
    deadline: AwareDatetime = Field(description="When the roll call was due.")
    submitted_at: AwareDatetime = Field(description="When it arrived.")
    seconds_late: int = Field(ge=1, description="How long after the deadline it arrived.")
    submitted_by: uuid.UUID = Field(description="User id of the teacher who submitted it.")
    was_reported_missing: bool = Field(
        description="Whether the deadline sweep had reported it missing before it arrived."
    )


class RollCallMissing(IntegrationEvent):
    """A class's roll call (điểm danh) was not in by its deadline (R14, LC: 30 minutes).

    Published once per class and session by the deadline sweep, however many replicas run it;
    the dashboard counts it towards the timeliness figures of the teacher and class (R26).
    """

    event_type: ClassVar[str] = "vn.hsdt.attendance.rollcall.missing.v1"
    subject_field: ClassVar[str] = "class_id"

    class_id: ClassId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    day: date = Field(description="School day of the missing roll call.")
    session: Session = Field(description="Session of the missing roll call.")
    deadline: AwareDatetime = Field(description="When the roll call was due.")
    detected_at: AwareDatetime = Field(description="When the sweep found it missing.")
    responsible_user_id: uuid.UUID | None = Field(
        description="User id of the homeroom teacher expected to submit; null if none assigned."
    )


class StudentMonthAbsences(BaseModel):
    """One student's absence days in a closed month; numbers only."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    student_id: uuid.UUID = Field(description="Student, as records knows them.")
    excused_days: int = Field(ge=0, le=31, description="Days absent with permission (có phép).")
    unexcused_days: int = Field(
        ge=0, le=31, description="Days absent without permission (không phép)."
    )


class MonthClosed(IntegrationEvent):
    """A class's attendance for a month was closed (chốt chuyên cần tháng; BP: monthly, R14).

    Published when the homeroom teacher closes the month, when the platform closes it at the
    province's closing day, and again (``revision`` + 1) when an approved amendment changes a
    closed month. Days count a one-session plan (one day = one buổi even in two-session
    schools), the unit of the 45-day promotion rule (DOMAIN §1.9, §7.3). A consumer keeps the
    revision with the highest ``sequence`` per class and month.
    """

    event_type: ClassVar[str] = "vn.hsdt.attendance.month.closed.v1"
    subject_field: ClassVar[str] = "class_id"

    class_id: ClassId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    month: YearMonth
    school_days: int = Field(ge=0, le=31, description="School days in the month.")
    enrolled: Headcount = Field(description="Students on the class list at the month's end.")
    excused_absence_days: int = Field(
        ge=0, description="Student-days absent with permission (có phép), summed over the class."
    )
    unexcused_absence_days: int = Field(
        ge=0, description="Student-days absent without permission (không phép), summed."
    )
    late_roll_calls: int = Field(ge=0, description="Roll calls of the month submitted late.")
    closed_at: AwareDatetime = Field(description="When the month was closed.")
    closed_by: uuid.UUID | None = Field(
        description="User id of the teacher who closed it; null when the platform did."
    )
    revision: int = Field(default=1, ge=1, description="1 when first closed, +1 per re-close.")
    students: tuple[StudentMonthAbsences, ...] = Field(
        default=(),
        max_length=10_000,
        description="Each student in the class during the month, with their absence days.",
    )
