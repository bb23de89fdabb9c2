"""Edit forensics: every change of an entry with who, when, how, and the results it moved."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Query, Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from pydantic import BaseModel, Field

from common.errors import problem_responses
from records.api.deps import ActorDep, RuleOptionsDep, SettingsDep, UowDep
from records.domain.curriculum import Period
from records.excel.common import XLSX_MEDIA_TYPE, CellValue, put, save
from records.handlers import forensics as handlers
from records.handlers.base import SCHOOL_TIME_ZONE

router = APIRouter(tags=["forensics"])

SheetQuery = Annotated[str | None, Query(pattern=r"^(?:_conduct|_qualities|[a-z][a-z0-9_]{0,39})$")]
ColumnQuery = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,23}$")]
MAX_CHANGE_ID: Final = 2**63 - 1  # entry_changes.id is a bigint
VIA_VI: Final = {
    "api": "Nhập trên hệ thống",
    "excel": "Nhập từ tệp Excel",
    "bulk": "Nạp dữ liệu hàng loạt",
    "correction": "Điều chỉnh sai sót",
}


class ResultChangeRead(BaseModel):
    key: str = Field(description="The finding, e.g. subject_average.term_1.toan, learning.year.")
    before: str | None
    after: str | None
    label_before_vi: str | None
    label_after_vi: str | None


class ChangeRead(BaseModel):
    id: int = Field(description="The change's number in the history (increasing).")
    student_id: uuid.UUID
    class_id: uuid.UUID
    sheet: str
    period: str
    column: str
    old: str | None
    new: str | None
    sheet_version: int
    changed_by: uuid.UUID
    client_id: str | None
    via: str = Field(description="api, excel, bulk or correction")
    changed_at: datetime
    correction_id: uuid.UUID | None
    alters_results: bool
    results: list[ResultChangeRead] = Field(
        description="Computed results whose value this change moved: before and after."
    )


def _change(impact: handlers.ChangeImpact) -> ChangeRead:
    c = impact.change
    return ChangeRead(
        id=c.id,
        student_id=c.student_id,
        class_id=c.class_id,
        sheet=c.sheet,
        period=c.period,
        column=c.column,
        old=c.old,
        new=c.new,
        sheet_version=c.sheet_version,
        changed_by=c.changed_by,
        client_id=c.client_id,
        via=c.via,
        changed_at=c.changed_at,
        correction_id=c.correction_id,
        alters_results=impact.alters_results,
        results=[
            ResultChangeRead(
                key=r.key,
                before=r.before,
                after=r.after,
                label_before_vi=r.label_before_vi,
                label_after_vi=r.label_after_vi,
            )
            for r in impact.results
        ],
    )


class StudentForensicsRead(BaseModel):
    student_id: uuid.UUID
    full_name: str
    class_id: uuid.UUID = Field(description="The class the year's results are computed in.")
    school_year: str
    rule_set: str
    changes: list[ChangeRead]


@router.get(
    "/students/{student_id}/forensics",
    response_model=StudentForensicsRead,
    summary="A student's entry history of a year, each change with the results it moved",
    responses=problem_responses(401, 403, 404, 422),
)
async def student_forensics(
    student_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    options: RuleOptionsDep,
    school_year_id: Annotated[uuid.UUID, Query()],
    sheet: SheetQuery = None,
    period: Annotated[Period | None, Query()] = None,
    column: ColumnQuery = None,
) -> StudentForensicsRead:
    """Narrow to one entry with sheet, period and column. Every change of the year is replayed
    to know the results before and after each one; only the asked-for ones are returned."""
    found = await handlers.student_forensics(
        uow,
        actor,
        student_id,
        school_year_id,
        handlers.Narrow(sheet, period.value if period else None, column),
        options,
    )
    return StudentForensicsRead(
        student_id=found.student.id,
        full_name=found.student.full_name,
        class_id=found.class_.id,
        school_year=found.school_year,
        rule_set=found.rule_set,
        changes=[_change(i) for i in found.impacts],
    )


class ClassForensicsRead(BaseModel):
    class_id: uuid.UUID
    class_name: str
    school_year: str
    changes: list[ChangeRead]
    next_after: int | None = Field(
        description="Pass as ``after`` for the next page; null on the last page."
    )


@router.get(
    "/classes/{class_id}/forensics",
    response_model=ClassForensicsRead,
    summary="Every change of a class's entries, oldest first, with the results each moved",
    responses=problem_responses(401, 403, 404, 422),
)
async def class_forensics(
    class_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    options: RuleOptionsDep,
    settings: SettingsDep,
    period: Annotated[Period | None, Query()] = None,
    sheet: SheetQuery = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_CHANGE_ID, description="Last change id already read.")
    ] = 0,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> ClassForensicsRead:
    found = await handlers.class_forensics(
        uow,
        actor,
        class_id,
        handlers.Narrow(sheet, period.value if period else None),
        options,
        after=after,
        limit=min(limit or settings.max_page_size, settings.max_page_size),
    )
    return ClassForensicsRead(
        class_id=found.class_.id,
        class_name=found.class_.name,
        school_year=found.school_year,
        changes=[_change(i) for i in found.impacts],
        next_after=found.next_after,
    )


HEADERS_VI: Final = (
    "STT",
    "Học sinh",
    "Sổ (môn)",
    "Kỳ",
    "Cột",
    "Giá trị cũ",
    "Giá trị mới",
    "Người sửa",
    "Phần mềm",
    "Thời điểm",
    "Cách nhập",
    "Mã yêu cầu điều chỉnh",
    "Kết quả trước khi sửa",
    "Kết quả sau khi sửa",
)


def forensics_workbook(found: handlers.ClassForensics) -> bytes:
    """One row per change, the results it moved before and after side by side (for inspectors)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Lịch sử sửa điểm"
    put(
        sheet,
        1,
        1,
        f"Lịch sử nhập, sửa dữ liệu lớp {found.class_.name} năm học {found.school_year}",
    )
    sheet.cell(row=1, column=1).font = Font(bold=True)
    for column, header in enumerate(HEADERS_VI, start=1):
        put(sheet, 3, column, header).font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for n, impact in enumerate(found.impacts, start=1):
        c = impact.change
        student = found.students.get(c.student_id)
        values: tuple[CellValue, ...] = (
            n,
            student.full_name if student else str(c.student_id),
            c.sheet,
            c.period,
            c.column,
            c.old or "",
            c.new or "",
            str(c.changed_by),
            c.client_id or "",
            c.changed_at.astimezone(SCHOOL_TIME_ZONE).strftime("%d/%m/%Y %H:%M:%S"),
            VIA_VI.get(c.via, c.via),
            str(c.correction_id) if c.correction_id else "",
            "\n".join(f"{r.key}: {r.before or '—'}" for r in impact.results) or "Không đổi",
            "\n".join(f"{r.key}: {r.after or '—'}" for r in impact.results) or "Không đổi",
        )
        for column, value in enumerate(values, start=1):
            put(sheet, 3 + n, column, value).alignment = wrap
    for letter, width in zip(
        "ABCDEFGHIJKLMN", (6, 28, 14, 12, 8, 10, 10, 38, 16, 20, 20, 38, 40, 40), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    return save(book)


@router.get(
    "/classes/{class_id}/forensics.xlsx",
    summary="A class's entry history as Excel, one row per change (for inspectors)",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **problem_responses(401, 403, 404, 422)},
)
async def class_forensics_xlsx(
    class_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    options: RuleOptionsDep,
    period: Annotated[Period | None, Query()] = None,
    sheet: SheetQuery = None,
    after: Annotated[int, Query(ge=0, le=MAX_CHANGE_ID)] = 0,
) -> Response:
    """At most ``MAX_CLASS_CHANGES`` changes per file; the header ``X-Next-After`` names where
    the next file starts when there are more."""
    found = await handlers.class_forensics(
        uow,
        actor,
        class_id,
        handlers.Narrow(sheet, period.value if period else None),
        options,
        after=after,
        limit=handlers.MAX_CLASS_CHANGES,
        route=("GET", "/classes/{class_id}/forensics.xlsx"),
    )
    headers = {"Content-Disposition": f'attachment; filename="lich-su-sua-{class_id}.xlsx"'}
    if found.next_after is not None:
        headers["X-Next-After"] = str(found.next_after)
    return Response(forensics_workbook(found), media_type=XLSX_MEDIA_TYPE, headers=headers)
