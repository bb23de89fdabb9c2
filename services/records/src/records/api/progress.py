"""Progress of entry (R11, R26) for a school, a district (R7) or the province (R6), grouped
by school, district, class, teacher, subject or month; JSON or Excel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from common.errors import problem_responses
from records.access import Actor, rule
from records.api.deps import ActorDep, UowDep
from records.domain.curriculum import Period
from records.excel.common import XLSX_MEDIA_TYPE
from records.excel.progress import export_progress
from records.handlers.base import not_found, year_of
from records.progress import GroupBy, ProgressLine, progress_lines, review_period
from records.uow import RecordsUnitOfWork

router = APIRouter(tags=["progress"])


class ProgressRow(BaseModel):
    key: str = Field(
        description="The group's id (school, district, class, teacher), subject "
        "code or month (YYYY-MM); empty for no district / no teacher."
    )
    label: str
    required: int = Field(description="Cells required: students × required columns.")
    entered: int
    percent: float
    late: int = Field(description="Entered cells first entered after the period's last day.")
    classes_confirmed: int | None = Field(description="None when grouped by month.")
    classes_approved: int | None


class ProgressRead(BaseModel):
    unit_id: uuid.UUID
    unit_code: str
    school_year_id: uuid.UUID
    period: Period | None
    review_period: str = Field(description="The confirmation counted: term_1, term_2 or year.")
    by: GroupBy
    rows: list[ProgressRow]
    total: ProgressRow


async def _lines(
    uow: RecordsUnitOfWork,
    actor: Actor,
    route: str,
    unit_id: uuid.UUID,
    school_year_id: uuid.UUID,
    period: Period | None,
    by: GroupBy,
) -> tuple[str, list[ProgressLine]]:
    async with uow:
        unit = await uow.records.org_unit(unit_id)
        if unit is None:
            raise not_found("Unit", unit_id)
        actor.check(rule("GET", route), unit)
        year = await year_of(uow, school_year_id)
        if year.province_id != unit.province_id:
            raise not_found("School year", school_year_id)
        return unit.code, await progress_lines(uow, unit, year.id, period, by)


def _row(line: ProgressLine) -> ProgressRow:
    return ProgressRow(
        key=line.key,
        label=line.label,
        required=line.required,
        entered=line.entered,
        percent=line.percent,
        late=line.late,
        classes_confirmed=line.classes_confirmed,
        classes_approved=line.classes_approved,
    )


def _total(lines: list[ProgressLine], by: GroupBy) -> ProgressLine:
    monthly = by is GroupBy.MONTH
    return ProgressLine(
        "",
        "Tổng cộng",
        lines[0].required if monthly and lines else sum(x.required for x in lines),
        sum(x.entered for x in lines),
        sum(x.late for x in lines),
        None
        if monthly or by in (GroupBy.TEACHER, GroupBy.SUBJECT)
        else sum(x.classes_confirmed or 0 for x in lines),
        None
        if monthly or by in (GroupBy.TEACHER, GroupBy.SUBJECT)
        else sum(x.classes_approved or 0 for x in lines),
    )


UnitQuery = Annotated[
    uuid.UUID, Query(description="A school, a district office or the department.")
]
YearQuery = Annotated[uuid.UUID, Query()]
PeriodQuery = Annotated[Period | None, Query(description="One period; all but summer if absent.")]
ByQuery = Annotated[GroupBy, Query()]


@router.get(
    "/progress",
    response_model=ProgressRead,
    summary="Progress of entry under a unit, grouped (R11, R26, R6, R7)",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_progress(
    uow: UowDep,
    actor: ActorDep,
    unit_id: UnitQuery,
    school_year_id: YearQuery,
    period: PeriodQuery = None,
    by: ByQuery = GroupBy.SCHOOL,
) -> ProgressRead:
    code, lines = await _lines(uow, actor, "/progress", unit_id, school_year_id, period, by)
    return ProgressRead(
        unit_id=unit_id,
        unit_code=code,
        school_year_id=school_year_id,
        period=period,
        review_period=review_period(period),
        by=by,
        rows=[_row(x) for x in lines],
        total=_row(_total(lines, by)),
    )


@router.get(
    "/progress.xlsx",
    summary="The progress figures as Excel",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **problem_responses(401, 403, 404, 422)},
)
async def export_progress_xlsx(
    uow: UowDep,
    actor: ActorDep,
    unit_id: UnitQuery,
    school_year_id: YearQuery,
    period: PeriodQuery = None,
    by: ByQuery = GroupBy.SCHOOL,
) -> Response:
    code, lines = await _lines(uow, actor, "/progress.xlsx", unit_id, school_year_id, period, by)
    title = code if period is None else f"{code}, {period.value}"
    return Response(
        export_progress(title, by.value, [*lines, _total(lines, by)]),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="tien-do-{code}-{by.value}.xlsx"'},
    )
