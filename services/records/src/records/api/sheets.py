"""Grade sheets: read a whole sheet, save many cells under If-Match, Excel out and back in."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, File, Header, Path, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from common.errors import Problem, problem_responses
from common.events.records import WritePath
from records.api.deps import ActorDep, SettingsDep, UowDep
from records.domain.cells import CellKind
from records.domain.curriculum import Period
from records.excel.grade_sheet import (
    XLSX_MEDIA_TYPE,
    GradeSheetView,
    SheetStudent,
    export_grade_sheet,
    parse_grade_sheet,
)
from records.handlers import sheets as handlers

router = APIRouter(tags=["sheets"])

SheetCode = Annotated[
    str,
    Path(
        pattern=r"^(?:_conduct|_qualities|[a-z][a-z0-9_]{0,39})$",
        description="Subject code, or _conduct / _qualities for the homeroom teacher's sheets.",
    ),
]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SHEET_PATH = "/classes/{class_id}/sheets/{sheet}/{period}"


class ColumnRead(BaseModel):
    code: str
    label_vi: str
    kind: CellKind


class SheetRowRead(BaseModel):
    ordinal: int
    student_id: uuid.UUID
    full_name: str
    date_of_birth: date
    student_code: str | None
    in_class_until: date | None = Field(description="Last day in the class; null while in it.")
    cells: dict[str, str] = Field(description="Column code → canonical value; empty cells absent.")


class SheetRead(BaseModel):
    class_id: uuid.UUID
    class_name: str
    grade: int
    school_year: str
    sheet: str
    period: Period
    title_vi: str
    version: int = Field(description="The sheet's version; also its ETag. Send it as If-Match.")
    updated_at: datetime | None
    writer_id: uuid.UUID | None = Field(description="The one teacher who writes this sheet.")
    columns: list[ColumnRead]
    rows: list[SheetRowRead]


def _sheet_read(view: handlers.SheetView) -> SheetRead:
    return SheetRead(
        class_id=view.class_.id,
        class_name=view.class_.name,
        grade=view.class_.grade,
        school_year=view.year.code,
        sheet=view.sheet,
        period=view.period,
        title_vi=view.title_vi,
        version=view.version,
        updated_at=view.updated_at,
        writer_id=view.writer_id,
        columns=[ColumnRead(code=c.code, label_vi=c.label_vi, kind=c.kind) for c in view.columns],
        rows=[
            SheetRowRead(
                ordinal=i,
                student_id=s.id,
                full_name=s.full_name,
                date_of_birth=s.date_of_birth,
                student_code=s.student_code,
                in_class_until=e.ends_on,
                cells={
                    c.code: view.cells[(s.id, c.code)]
                    for c in view.columns
                    if (s.id, c.code) in view.cells
                },
            )
            for i, (s, e) in enumerate(view.roster, start=1)
        ],
    )


@router.get(
    SHEET_PATH,
    response_model=SheetRead,
    summary="Read a whole sheet (ETag = its version)",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_sheet(
    class_id: uuid.UUID,
    sheet: SheetCode,
    period: Period,
    uow: UowDep,
    actor: ActorDep,
    response: Response,
) -> SheetRead:
    view = await handlers.read_sheet(uow, actor, class_id, sheet, period)
    response.headers["ETag"] = handlers.etag(view.version)
    return _sheet_read(view)


class CellWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: uuid.UUID
    column: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    value: str | float | None = Field(
        description='As the teacher writes it: 7.5, "7,5", "Đ", "CĐ", "T"…; null clears.'
    )


class SheetWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cells: list[CellWrite] = Field(min_length=1, max_length=handlers.MAX_CELLS_PER_SAVE)
    assessed_on: date | None = Field(
        default=None, description="Day of the assessment; today (Việt Nam) when absent."
    )


@router.patch(
    SHEET_PATH,
    response_model=SheetRead,
    summary="Save many cells of a sheet at once (If-Match required)",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def save_sheet(
    class_id: uuid.UUID,
    sheet: SheetCode,
    period: Period,
    body: SheetWrite,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> SheetRead:
    """All or nothing: a refused cell (a score of 7.25, a student not in the class that day, a
    column the sheet does not have) is listed in ``errors`` and nothing is written. A stale
    ``If-Match`` answers 412 with the current version; only the assigned teacher writes (R24)."""
    version = handlers.parse_if_match(if_match)
    outcome = await handlers.save_sheet(
        uow,
        actor,
        handlers.SaveSheet(
            class_id=class_id,
            sheet=sheet,
            period=period,
            if_match=version,
            cells=tuple(handlers.CellInput(c.student_id, c.column, c.value) for c in body.cells),
            via=WritePath.API,
            assessed_on=body.assessed_on,
        ),
        grace_days=settings.entry_grace_days,
    )
    response.headers["ETag"] = handlers.etag(outcome.view.version)
    return _sheet_read(outcome.view)


def _excel_view(view: handlers.SheetView) -> GradeSheetView:
    return GradeSheetView(
        school_name=view.school.code,
        class_name=view.class_.name,
        school_year=view.year.code,
        sheet_title_vi=view.title_vi,
        period_label_vi=handlers.period_label_vi(view.period),
        sheet_key=f"{view.class_.id}/{view.sheet}/{view.period.value}",
        version=view.version,
        columns=view.columns,
        students=tuple(
            SheetStudent(s.id, i, s.full_name, s.date_of_birth, s.student_code)
            for i, (s, _) in enumerate(view.roster, start=1)
        ),
        cells=view.cells,
    )


@router.get(
    f"{SHEET_PATH}/xlsx",
    summary="The sheet as Excel, in the layout teachers use",
    response_class=Response,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}, **problem_responses(401, 403, 404, 422)},
)
async def export_sheet(
    class_id: uuid.UUID, sheet: SheetCode, period: Period, uow: UowDep, actor: ActorDep
) -> Response:
    view = await handlers.read_sheet(uow, actor, class_id, sheet, period)
    name = f"so-diem-{view.class_.name}-{sheet.strip('_')}-{period.value}.xlsx"
    ascii_name = name.encode("ascii", "ignore").decode()
    return Response(
        export_grade_sheet(_excel_view(view)),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"',
            "ETag": handlers.etag(view.version),
        },
    )


@router.post(
    f"{SHEET_PATH}/import",
    response_model=SheetRead,
    summary="Import a filled-in Excel sheet: every cell or none",
    responses=problem_responses(401, 403, 404, 412, 413, 422),
)
async def import_sheet(
    class_id: uuid.UUID,
    sheet: SheetCode,
    period: Period,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    response: Response,
    file: Annotated[UploadFile, File(description="The sheet exported from here, filled in.")],
) -> SheetRead:
    """The workbook carries the version it was exported at: if the sheet changed since, 412,
    as for a stale If-Match. Problems are reported by row and column letter, in Vietnamese."""
    actor.person()  # a write: school software says whom it acts for before anything is read
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Problem(413, "payload-too-large", "Tệp quá lớn", "at most 5 MB")
    view = await handlers.read_sheet(uow, actor, class_id, sheet, period)
    imported = parse_grade_sheet(data, _excel_view(view))
    outcome = await handlers.save_sheet(
        uow,
        actor,
        handlers.SaveSheet(
            class_id=class_id,
            sheet=sheet,
            period=period,
            if_match=imported.version,
            cells=tuple(
                handlers.CellInput(student, column, value)
                for (student, column), value in imported.cells.items()
            ),
            via=WritePath.EXCEL,
        ),
        grace_days=settings.entry_grace_days,
        route=("POST", f"{SHEET_PATH}/import"),
    )
    response.headers["ETag"] = handlers.etag(outcome.view.version)
    return _sheet_read(outcome.view)
