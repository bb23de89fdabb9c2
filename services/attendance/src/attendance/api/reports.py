"""Compliance of the roll call and absence rates (R6, R7, R26); students near the 45-day limit.

Each report also comes as Excel, with Vietnamese headings, for the offices that work in it.
"""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, Field

from attendance.api.deps import ActorDep, SettingsDep, UowDep
from attendance.domain.counting import LimitStatus
from attendance.handlers import reports as handlers
from common.errors import problem_responses

router = APIRouter(tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
From = Annotated[date, Query(alias="from")]


class ComplianceRowRead(BaseModel):
    unit_id: uuid.UUID = Field(description="A class, a school or a district, one level down.")
    label: str
    due: int = Field(description="Class-sessions whose deadline has passed.")
    on_time: int
    late: int
    missing: int
    on_time_rate: float
    student_sessions: int
    absences: int
    absence_rate: float


class ComplianceRead(BaseModel):
    unit_id: uuid.UUID
    unit_code: str
    school_year: str
    from_: date = Field(alias="from")
    to: date
    total: ComplianceRowRead
    rows: list[ComplianceRowRead]


def _row(row: handlers.ComplianceRow) -> ComplianceRowRead:
    return ComplianceRowRead(
        unit_id=row.unit_id,
        label=row.label,
        due=row.due,
        on_time=row.on_time,
        late=row.late,
        missing=row.missing,
        on_time_rate=round(row.on_time / row.due, 4) if row.due else 0.0,
        student_sessions=row.student_sessions,
        absences=row.absences,
        absence_rate=row.absence_rate,
    )


def _read(report: handlers.ComplianceReport) -> ComplianceRead:
    assert report.total is not None
    return ComplianceRead.model_validate(
        {
            "unit_id": report.unit.id,
            "unit_code": report.unit.code,
            "school_year": report.school_year,
            "from": report.first,
            "to": report.last,
            "total": _row(report.total),
            "rows": [_row(r) for r in report.rows],
        }
    )


@router.get(
    "/reports/compliance",
    response_model=ComplianceRead,
    response_model_by_alias=True,
    summary="Roll calls on time, late and missing, and absence rates, for a unit over days",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def compliance(
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    unit_id: uuid.UUID,
    from_: From,
    to: date,
) -> ComplianceRead:
    """A school's rows are its classes, a district's its schools, the province's its
    districts. A day, a month or a term is a range of days."""
    return _read(await handlers.compliance(uow, actor, settings, unit_id, from_, to))


def _xlsx(title: str, headers: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for index, column in enumerate(sheet.columns, start=1):
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(10, width + 2), 50)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


COMPLIANCE_HEADERS = [
    "Đơn vị",
    "Số buổi phải điểm danh",
    "Đúng hạn",
    "Muộn",
    "Chưa điểm danh",
    "Tỉ lệ đúng hạn",
    "Lượt học sinh",
    "Lượt vắng",
    "Tỉ lệ vắng",
]


@router.get(
    "/reports/compliance.xlsx",
    response_class=Response,
    summary="The compliance report as Excel",
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 403, 404, 409, 422)},
)
async def compliance_xlsx(
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    unit_id: uuid.UUID,
    from_: From,
    to: date,
) -> Response:
    report = _read(
        await handlers.compliance(
            uow, actor, settings, unit_id, from_, to, path="/reports/compliance.xlsx"
        )
    )
    rows = [
        [
            r.label,
            r.due,
            r.on_time,
            r.late,
            r.missing,
            r.on_time_rate,
            r.student_sessions,
            r.absences,
            r.absence_rate,
        ]
        for r in [*report.rows, report.total.model_copy(update={"label": "Tổng"})]
    ]
    body = _xlsx("Điểm danh", COMPLIANCE_HEADERS, rows)
    name = f"diem-danh-{report.unit_code}-{from_}-{to}.xlsx"
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


class AtRiskRead(BaseModel):
    student_id: uuid.UUID
    full_name: str
    class_id: uuid.UUID
    class_label: str
    excused_days: int
    unexcused_days: int
    total_days: int
    status: LimitStatus = Field(description="near: from the warning line; over: past the limit.")


class AbsenceLimitRead(BaseModel):
    school_id: uuid.UUID
    school_year: str
    limit_days: int
    students: list[AtRiskRead]


@router.get(
    "/schools/{school_id}/absence-limit",
    response_model=AbsenceLimitRead,
    summary="Secondary students near or past the 45-day absence limit, this year to date",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def absence_limit(
    school_id: uuid.UUID, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> AbsenceLimitRead:
    school, year, limit, found = await handlers.absence_limit(uow, actor, settings, school_id)
    return AbsenceLimitRead(
        school_id=school.id,
        school_year=year,
        limit_days=limit,
        students=[
            AtRiskRead(
                student_id=r.student_id,
                full_name=r.full_name,
                class_id=r.class_id,
                class_label=r.class_label,
                excused_days=r.excused_days,
                unexcused_days=r.unexcused_days,
                total_days=r.total,
                status=r.status,
            )
            for r in found
        ],
    )


@router.get(
    "/schools/{school_id}/absence-limit.xlsx",
    response_class=Response,
    summary="The students near the absence limit as Excel",
    responses={200: {"content": {XLSX: {}}}, **problem_responses(401, 403, 404, 409, 422)},
)
async def absence_limit_xlsx(
    school_id: uuid.UUID, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> Response:
    school, year, limit, found = await handlers.absence_limit(
        uow, actor, settings, school_id, path="/schools/{school_id}/absence-limit.xlsx"
    )
    status_vi = {LimitStatus.NEAR: "Gần giới hạn", LimitStatus.OVER: f"Quá {limit} ngày"}
    body = _xlsx(
        "Nghỉ học",
        ["Họ và tên", "Lớp", "Có phép", "Không phép", "Tổng", "Tình trạng"],
        [
            [
                r.full_name,
                r.class_label,
                r.excused_days,
                r.unexcused_days,
                r.total,
                status_vi.get(r.status, ""),
            ]
            for r in found
        ],
    )
    name = f"nghi-hoc-{school.code}-{year}.xlsx"
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
