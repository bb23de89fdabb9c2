"""Events published by ``services/attendance``: daily roll calls and the monthly close.

Counts only: which student was absent on which day stays in attendance, behind its API, because
absences are a child's personal data and no consumer needs them pushed.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints

from common.events.base import IntegrationEvent
from common.events.identity import DistrictId, ProvinceId, SchoolId
from common.events.records import SchoolYear

YEAR_MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

ClassId = Annotated[uuid.UUID, Field(description="Class the roll call or totals are for.")]
Headcount = Annotated[int, Field(ge=0, le=10_000)]


class Session(StrEnum):
    """Half-day of school: buổi sáng or buổi chiều (two-session schools take both)."""

    MORNING = "morning"
    AFTERNOON = "afternoon"


class RollCallSubmitted(IntegrationEvent):
    """A class's roll call (điểm danh) for one session was submitted.

    Published when the homeroom teacher, or whoever takes the roll, submits it; also after the
    deadline, when a ``RollCallLate`` went out before. Lateness is ``submitted_at > deadline``.
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
    present: Headcount = Field(description="Students present.")
    absent_excused: Headcount = Field(description="Students absent with permission (có phép).")
    absent_unexcused: Headcount = Field(
        description="Students absent without permission (không phép)."
    )
    deadline: AwareDatetime = Field(description="When the roll call was due (R14).")
    submitted_at: AwareDatetime = Field(description="When it was submitted.")
    submitted_by: uuid.UUID = Field(description="User id of the teacher who submitted it.")


class RollCallLate(IntegrationEvent):
    """A class's roll call (điểm danh) was not in by its deadline (R14, LC: 30 minutes).

    Published once per class and session by the deadline sweep; the dashboard counts it towards
    the timeliness figures of the teacher and class (R26).
    """

    event_type: ClassVar[str] = "vn.hsdt.attendance.rollcall.late.v1"
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


class MonthClosed(IntegrationEvent):
    """A class's attendance for a month was closed (chốt chuyên cần tháng; BP: monthly, R14).

    Published when the homeroom teacher confirms the month's absence list, or when the platform
    closes it at the month's deadline. Totals count days (buổi) of a one-session plan, the unit
    of the 45-day promotion rule.
    """

    event_type: ClassVar[str] = "vn.hsdt.attendance.month.closed.v1"
    subject_field: ClassVar[str] = "class_id"

    class_id: ClassId
    school_id: SchoolId
    district_id: DistrictId
    province_id: ProvinceId
    school_year: SchoolYear
    month: Annotated[str, StringConstraints(pattern=YEAR_MONTH_PATTERN)] = Field(
        description="Calendar month closed, YYYY-MM.", examples=["2025-10"]
    )
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
