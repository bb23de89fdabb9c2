"""Grade sheets (sổ điểm): read a whole sheet, save many cells at once under ``If-Match``.

Every write path comes here: the sheet API, the Excel import and bulk loaders, so each cell is
validated the same way (R18, R19, R24). A save is all or nothing: every problem of every cell is
reported, and nothing is written while any remains.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from common.errors import Problem
from common.events.records import AssessmentChanged, SheetCell, SheetPeriod, WritePath
from records import progress
from records.access import Actor, Forbidden, rule
from records.domain.cells import CellInvalid, parse_cell
from records.domain.curriculum import Level, Period, level_of_grade, periods_for, term_of
from records.domain.errors import DomainError
from records.domain.sheets import (
    CONDUCT_SHEET,
    HOMEROOM_SHEETS,
    QUALITIES_SHEET,
    Column,
    homeroom_columns,
    subject_columns,
)
from records.handlers.base import (
    audit,
    authorize_class,
    class_of,
    school_today,
    school_unit,
    utcnow,
)
from records.handlers.calendar import entry_window, spec_of, window_of
from records.handlers.locks import ensure_writable
from records.models import ClassRow, EnrolmentRow, OrgUnitRow, SchoolYearRow, StudentRow
from records.uow import RecordsUnitOfWork

MAX_CELLS_PER_SAVE: Final = 5000
_PERIOD_LABELS_VI: Final = {
    Period.TERM_1: "Học kỳ I",
    Period.TERM_2: "Học kỳ II",
    Period.SUMMER: "Kiểm tra, rèn luyện trong hè",
    Period.MID_TERM_1: "Giữa học kỳ I",
    Period.END_TERM_1: "Cuối học kỳ I",
    Period.MID_TERM_2: "Giữa học kỳ II",
    Period.END_YEAR: "Cuối năm học",
}


def period_label_vi(period: Period) -> str:
    return _PERIOD_LABELS_VI[period]


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(header: str | None) -> int:
    """The sheet version an ``If-Match`` names; 428 without one, 412 for anything unreadable."""
    if header is None or not header.strip():
        raise Problem(
            428,
            "precondition-required",
            "Thiếu điều kiện kiểm tra phiên bản",
            "Send If-Match with the ETag you read, so two saves never overwrite each other",
        )
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise Problem(
            412, "precondition-failed", "Dữ liệu đã bị thay đổi", f"If-Match {header!r} is no ETag"
        )
    return int(text)


def stale(current: int) -> Problem:
    return Problem(
        412,
        "precondition-failed",
        "Dữ liệu đã bị người khác thay đổi; hãy tải lại và nhập lại",
        f"The version you started from is not the current one ({current})",
        extensions={"current_version": current},
        headers={"ETag": etag(current)},
    )


def result_periods_of(period: Period) -> tuple[str, ...]:
    """Which results (and so which confirmations) a change in ``period`` touches."""
    if period is Period.SUMMER:
        return ("year",)
    return (term_of(period).value, "year")


@dataclass(slots=True)
class SheetView:
    class_: ClassRow
    school: OrgUnitRow
    year: SchoolYearRow
    sheet: str
    period: Period
    title_vi: str
    columns: tuple[Column, ...]
    sheet_id: uuid.UUID | None
    version: int
    roster: Sequence[tuple[StudentRow, EnrolmentRow]]
    cells: dict[tuple[uuid.UUID, str], str]
    writer_id: uuid.UUID | None  # who may write it (the assigned or homeroom teacher)
    updated_at: datetime | None = None


async def _layout(
    uow: RecordsUnitOfWork, row: ClassRow, sheet: str, period: Period
) -> tuple[str, tuple[Column, ...], uuid.UUID | None]:
    """Title, columns and the one person who writes the sheet."""
    level = level_of_grade(row.grade)
    if period not in periods_for(level):
        raise DomainError(
            "period-invalid",
            "Kỳ đánh giá không phù hợp với cấp học",
            f"{level} has no {period} sheets",
        )
    if sheet in HOMEROOM_SHEETS:
        columns = homeroom_columns(sheet, level, period)
        title = "Rèn luyện" if sheet == CONDUCT_SHEET else "Phẩm chất, năng lực"
        return title, columns, row.homeroom_teacher_id
    subject = await uow.records.curriculum_subject(row.school_year_id, row.grade, sheet)
    if subject is None:
        raise Problem(
            404,
            "subject-not-in-grade",
            "Khối lớp không có môn học này",
            f"grade {row.grade} has no subject {sheet} this school year",
        )
    assignment = await uow.records.assignment(row.id, sheet, term_of(period).value)
    writer = assignment.teacher_id if assignment is not None else None
    return subject.name_vi, subject_columns(spec_of(subject), period), writer


async def _view(
    uow: RecordsUnitOfWork, row: ClassRow, school: OrgUnitRow, sheet: str, period: Period
) -> SheetView:
    title, columns, writer = await _layout(uow, row, sheet, period)
    year = await uow.records.school_year(row.school_year_id)
    assert year is not None
    windows = await uow.records.period_windows(year.id)
    start, end = window_of(windows, period) or (year.starts_on, year.ends_on)
    roster = await uow.records.class_roster(row.id, start, end)
    existing = await uow.records.sheet(row.id, sheet, period.value)
    cells: dict[tuple[uuid.UUID, str], str] = {}
    if existing is not None:
        cells = {
            key: entry.value for key, entry in (await uow.records.entries(existing.id)).items()
        }
    return SheetView(
        class_=row,
        school=school,
        year=year,
        sheet=sheet,
        period=period,
        title_vi=title,
        columns=columns,
        sheet_id=existing.id if existing else None,
        version=existing.version if existing else 0,
        roster=roster,
        cells=cells,
        writer_id=writer,
        updated_at=existing.updated_at if existing else None,
    )


async def read_sheet(
    uow: RecordsUnitOfWork, actor: Actor, class_id: uuid.UUID, sheet: str, period: Period
) -> SheetView:
    async with uow:
        row = await class_of(uow, class_id)
        school = await authorize_class(
            uow, actor, rule("GET", "/classes/{class_id}/sheets/{sheet}/{period}"), row
        )
        return await _view(uow, row, school, sheet, period)


@dataclass(frozen=True, slots=True)
class CellInput:
    student_id: uuid.UUID
    column: str
    value: object  # as typed: text, a number from Excel, or None to clear


@dataclass(frozen=True, slots=True)
class SaveSheet:
    class_id: uuid.UUID
    sheet: str
    period: Period
    if_match: int
    cells: tuple[CellInput, ...]
    via: WritePath = WritePath.API
    assessed_on: date | None = None  # default: today in Việt Nam
    # Set only by an applied correction (R27): the one write a lock lets through.
    correction_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class CellError:
    student_id: uuid.UUID
    column: str
    code: str
    message_vi: str

    def as_dict(self) -> dict[str, str]:
        return {
            "student_id": str(self.student_id),
            "column": self.column,
            "code": self.code,
            "message": self.message_vi,
        }


class CellsInvalid(DomainError):  # noqa: N818 - named as the domain says it
    """Some cells of a save do not fit; ``errors`` lists every one. Nothing was written."""

    def __init__(self, errors: list[CellError]) -> None:
        super().__init__(
            "cells-invalid",
            "Có ô dữ liệu không hợp lệ; chưa lưu ô nào",
            f"{len(errors)} cell(s) refused; see errors",
        )
        self.errors = errors


@dataclass(slots=True)
class SaveOutcome:
    view: SheetView
    changed: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def _enrolled_on(enrolments: list[EnrolmentRow], on: date) -> bool:
    return any(e.starts_on <= on and (e.ends_on is None or on <= e.ends_on) for e in enrolments)


def check_writer(actor: Actor, view: SheetView) -> uuid.UUID:
    """Only the assigned teacher writes a subject's sheet, the homeroom teacher the homeroom
    sheets (R24); a leader or admin does not write in a teacher's place."""
    person = actor.person()
    if view.writer_id is None or person != view.writer_id:
        homeroom = view.sheet in HOMEROOM_SHEETS
        raise Forbidden(
            f"Only the {'homeroom' if homeroom else 'assigned'} teacher writes this sheet",
            code="not-assigned",
            title=(
                "Chỉ giáo viên chủ nhiệm của lớp được nhập sổ này"
                if homeroom
                else "Chỉ giáo viên được phân công dạy môn này ở lớp này được nhập điểm"
            ),
        )
    return person


def _check_date(windows: tuple[date, date] | None, period: Period, on: date, today: date) -> None:
    if windows is None or not windows[0] <= on <= windows[1] or on > today:
        raise DomainError(
            "entry-outside-window",
            "Ngày đánh giá nằm ngoài thời gian của kỳ",
            f"{on} is outside {period} ({windows[0]}..{windows[1]})"
            if windows
            else f"the school year has no dates for {period}",
        )


def _parse_cells(
    view: SheetView,
    cells: Sequence[CellInput],
    enrolments: dict[uuid.UUID, list[EnrolmentRow]],
    on: date,
    current: dict[tuple[uuid.UUID, str], str],
) -> dict[tuple[uuid.UUID, str], str | None]:
    """The cells that change, parsed, or ``CellsInvalid`` naming every one that does not fit.

    A cell sent with its current value is no change and needs no enrolment that day: an Excel
    sheet sends every row back, including students who have since left the class.
    """
    columns = {c.code: c for c in view.columns}
    students = {s.id for s, _ in view.roster}
    errors: list[CellError] = []
    wanted: dict[tuple[uuid.UUID, str], str | None] = {}
    for cell in cells:
        column = columns.get(cell.column)
        problem: tuple[str, str] | None = None
        key = (cell.student_id, cell.column)
        if column is None:
            problem = ("column-unknown", "Sổ không có cột này")
        elif cell.student_id not in students:
            problem = ("student-not-in-class", "Học sinh không thuộc lớp")
        else:
            try:
                value = parse_cell(column.kind, cell.value)
            except CellInvalid as exc:
                problem = (exc.code, exc.title_vi)
            else:
                if value == current.get(key):
                    continue
                if not _enrolled_on(enrolments.get(cell.student_id, []), on):
                    problem = (
                        "student-not-enrolled",
                        f"Học sinh không học ở lớp vào ngày {on:%d/%m/%Y}",
                    )
                else:
                    wanted[key] = value
        if problem is not None:
            errors.append(CellError(cell.student_id, cell.column, *problem))
    if errors:
        raise CellsInvalid(errors)
    return wanted


@dataclass(slots=True)
class _Diff:
    upserts: list[dict[str, object]] = field(default_factory=list)
    deletions: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    changes: list[dict[str, object]] = field(default_factory=list)
    changed: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def _diff(  # noqa: PLR0917 - one row per cell needs every attribution field
    sheet_id: uuid.UUID,
    wanted: dict[tuple[uuid.UUID, str], str | None],
    current: dict[tuple[uuid.UUID, str], str],
    version: int,
    actor: Actor,
    person: uuid.UUID,
    via: WritePath,
    on: date,
    now: datetime,
) -> _Diff:
    diff = _Diff()
    for (student_id, column), value in wanted.items():
        old_value = current.get((student_id, column))
        if old_value == value:
            continue
        if value is None:
            diff.deletions.append((student_id, column))
        else:
            diff.upserts.append(
                {
                    "sheet_id": sheet_id,
                    "student_id": student_id,
                    "column": column,
                    "value": value,
                    "assessed_on": on,
                    "entered_by": person,
                    "entered_at": now,
                }
            )
        diff.changed.append((student_id, column))
        diff.changes.append(
            {
                "sheet_id": sheet_id,
                "student_id": student_id,
                "column": column,
                "old_value": old_value,
                "new_value": value,
                "sheet_version": version,
                "changed_by": person,
                "client_id": actor.client_id,
                "via": via.value,
                "changed_at": now,
            }
        )
    return diff


async def save_sheet(
    uow: RecordsUnitOfWork,
    actor: Actor,
    cmd: SaveSheet,
    *,
    grace_days: int,
    route: tuple[str, str] = ("PATCH", "/classes/{class_id}/sheets/{sheet}/{period}"),
) -> SaveOutcome:
    if len(cmd.cells) > MAX_CELLS_PER_SAVE:
        raise DomainError(
            "too-many-cells", "Quá nhiều ô trong một lần lưu", f"at most {MAX_CELLS_PER_SAVE}"
        )
    async with uow:
        # The class row first, then the sheet's: every writer locks in this order.
        row = await class_of(uow, cmd.class_id, for_update=True)
        school = await authorize_class(uow, actor, rule(*route), row)
        view = await _view(uow, row, school, cmd.sheet, cmd.period)
        if cmd.correction_id is None:
            person = check_writer(actor, view)
            await ensure_writable(
                uow, school, year_id=row.school_year_id, class_id=row.id, periods=[cmd.period]
            )
        else:
            person = actor.person()  # the correction's steps were each checked on their own
        sheet = await uow.records.sheet_for_update(row.id, cmd.sheet, cmd.period.value)
        if sheet.version != cmd.if_match:
            raise stale(sheet.version)
        today = school_today()
        on = cmd.assessed_on or today
        windows = await uow.records.period_windows(row.school_year_id)
        _check_date(entry_window(windows, cmd.period, grace_days), cmd.period, on, today)
        enrolments = await uow.records.enrolments_in_class(row.id, [s.id for s, _ in view.roster])
        current = {k: e.value for k, e in (await uow.records.entries(sheet.id)).items()}
        wanted = _parse_cells(view, cmd.cells, enrolments, on, current)
        now = utcnow()
        version = sheet.version + 1
        diff = _diff(sheet.id, wanted, current, version, actor, person, cmd.via, on, now)
        for change in diff.changes:
            change["correction_id"] = cmd.correction_id
        outcome = SaveOutcome(view, diff.changed)
        if not diff.changes:
            return outcome
        await uow.records.write_cells(sheet.id, diff.upserts, diff.deletions, diff.changes)
        await progress.sheet_saved(
            uow, view, diff.changes, windows=windows, at=now
        )  # progress figures (R11, R26)
        await uow.records.set_sheet_version(sheet.id, version, now, person)
        await uow.records.bump_class_version(row.id)
        await uow.records.void_reviews(row.id, result_periods_of(cmd.period), now, "input_changed")
        await audit(
            uow,
            actor,
            school.id,
            "sheet.saved",
            sheet.id,
            {
                "class_id": row.id,
                "sheet": cmd.sheet,
                "period": cmd.period.value,
                "version": version,
                "via": cmd.via.value,
                "correction_id": cmd.correction_id,
                "cells": [
                    [c["student_id"], c["column"], c["old_value"], c["new_value"]]
                    for c in diff.changes
                ],
            },
            at=now,
        )
        uow.emit(
            AssessmentChanged(
                sheet_id=sheet.id,
                class_id=row.id,
                school_id=school.id,
                district_id=school.district_id,
                province_id=school.province_id,
                school_year=view.year.code,
                sheet=cmd.sheet,
                period=SheetPeriod(cmd.period.value),
                version=version,
                cells=tuple(SheetCell(student_id=s, column=c) for s, c in diff.changed),
                via=cmd.via,
                changed_at=now,
                changed_by=person,
            )
        )
        await uow.commit()
        for key, value in wanted.items():
            if value is None:
                view.cells.pop(key, None)
            else:
                view.cells[key] = value
        view.version = version
        view.sheet_id = sheet.id
        view.updated_at = now
        return outcome


def level_sheets(level: Level) -> tuple[str, ...]:
    return (QUALITIES_SHEET,) if level is Level.PRIMARY else (CONDUCT_SHEET,)


async def school_of_class(uow: RecordsUnitOfWork, row: ClassRow) -> OrgUnitRow:
    return await school_unit(uow, row.school_id)
