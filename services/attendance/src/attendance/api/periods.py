"""Per-period attendance by the teacher of the period (LC Đ11.1)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from attendance.api.deps import ActorDep, SettingsDep, UowDep
from attendance.api.rollcalls import parse_if_match
from attendance.domain.counting import Mark
from attendance.handlers import periods as handlers
from attendance.handlers.rollcalls import etag
from common.errors import problem_responses

router = APIRouter(tags=["periods"])
PeriodNo = Annotated[int, Path(ge=1, le=12, description="Period of the day; 1 = the first.")]


class PeriodWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    not_present: dict[uuid.UUID, Mark] = Field(
        max_length=200, description="Student id → late or absent; everyone else was there."
    )


class PeriodRead(BaseModel):
    class_id: uuid.UUID
    day: date
    period: int
    subject_code: str
    teacher_id: uuid.UUID
    version: int
    submitted_at: datetime
    not_present: dict[uuid.UUID, Mark]


def _read(row: handlers.PeriodAttendanceRow) -> PeriodRead:
    return PeriodRead(
        class_id=row.class_id,
        day=row.day,
        period=row.period,
        subject_code=row.subject_code,
        teacher_id=row.teacher_id,
        version=row.version,
        submitted_at=row.submitted_at,
        not_present={uuid.UUID(s): Mark(m) for s, m in row.marks.items()},
    )


@router.get(
    handlers.ROUTE,
    response_model=PeriodRead,
    summary="A period's attendance",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_period(
    class_id: uuid.UUID,
    day: date,
    period: PeriodNo,
    uow: UowDep,
    actor: ActorDep,
    response: Response,
) -> PeriodRead:
    _, row = await handlers.read_period(uow, actor, class_id, day, period)
    response.headers["ETag"] = etag(row.version)
    return _read(row)


@router.put(
    handlers.ROUTE,
    response_model=PeriodRead,
    summary="Take a period's attendance (the teacher the timetable gives the period to)",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def submit_period(
    class_id: uuid.UUID,
    day: date,
    period: PeriodNo,
    body: PeriodWrite,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> PeriodRead:
    row, created = await handlers.submit_period(
        uow,
        actor,
        settings,
        handlers.SubmitPeriod(class_id, day, period, body.not_present, parse_if_match(if_match)),
    )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag(row.version)
    return _read(row)
