"""Month totals of a class and their close (BP: monthly; the 45-day rule, DOMAIN §1.9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from attendance.api.deps import ActorDep, SettingsDep, UowDep
from attendance.handlers import months as handlers
from common.errors import problem_responses
from common.events.attendance import YEAR_MONTH_PATTERN

router = APIRouter(tags=["months"])
Month = Annotated[str, Path(pattern=YEAR_MONTH_PATTERN, description="YYYY-MM")]


class StudentMonthRead(BaseModel):
    student_id: uuid.UUID
    full_name: str
    excused_days: int
    unexcused_days: int


class MonthRead(BaseModel):
    class_id: uuid.UUID
    class_label: str
    month: str
    school_days: int
    late_roll_calls: int
    closed: bool
    revision: int = Field(description="0 until closed; +1 for each re-close.")
    closed_at: datetime | None
    closed_by: uuid.UUID | None
    students: list[StudentMonthRead] = Field(description="In Vietnamese name order.")


def _read(
    class_: handlers.ClassRow, totals: handlers.MonthTotals, close: handlers.MonthCloseRow | None
) -> MonthRead:
    seen: set[uuid.UUID] = set()
    students = []
    for e in totals.roster:
        if e.student_id in seen:
            continue
        seen.add(e.student_id)
        days = totals.students.get(e.student_id)
        students.append(
            StudentMonthRead(
                student_id=e.student_id,
                full_name=e.full_name,
                excused_days=days.excused if days else 0,
                unexcused_days=days.unexcused if days else 0,
            )
        )
    return MonthRead(
        class_id=class_.id,
        class_label=class_.label,
        month=totals.month,
        school_days=totals.school_days,
        late_roll_calls=totals.late_roll_calls,
        closed=close is not None,
        revision=close.revision if close else 0,
        closed_at=close.closed_at if close else None,
        closed_by=close.closed_by if close else None,
        students=students,
    )


@router.get(
    "/classes/{class_id}/months/{month}",
    response_model=MonthRead,
    summary="A class's absence days of a month, per student, as they stand",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def read_month(
    class_id: uuid.UUID, month: Month, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> MonthRead:
    return _read(*await handlers.read_month(uow, actor, settings, class_id, month))


@router.post(
    "/classes/{class_id}/months/{month}/close",
    response_model=MonthRead,
    status_code=201,
    summary="Close a month (homeroom teacher): records receives each student's days",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def close_month(
    class_id: uuid.UUID, month: Month, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> MonthRead:
    await handlers.close_month(uow, actor, settings, class_id, month)
    return _read(*await handlers.read_month(uow, actor, settings, class_id, month))
