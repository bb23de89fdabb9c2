"""A grade sheet (sổ điểm) as the workbook a teacher fills in offline, and read back.

Pure: bytes in, bytes or typed values out. The export has the layout teachers know — a title
block, a header row "STT | Mã học sinh | Họ và tên | Ngày sinh | <columns…>", one row per student
— and carries what the import needs to be safe:

- a hidden column at the right of each row with the student's id, so rows map to students even
  after a teacher re-sorts them (the id travels with its row; a list kept elsewhere would not);
- a very hidden sheet ``_hsdt`` with the sheet's key, the version it was exported at (the
  import's If-Match), the column codes in order and the exported students' ids.

Reading checks the workbook is the export of this very sheet, then parses every cell with
``parse_cell`` and reports every problem at once, by row number and column letter.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from records.domain.cells import (
    COMMENT_MAX_LENGTH,
    LEVEL_LABELS_VI,
    CellInvalid,
    CellKind,
    display_vi,
    expected_vi,
    parse_cell,
)
from records.domain.sheets import Column
from records.excel.common import (
    MAX_ROWS,
    SCAN_LIMIT,
    XLSX_MEDIA_TYPE,
    CellProblem,
    CellValue,
    WorkbookInvalid,
    cell_text,
    invalid_file,
    normalise_text,
    opened,
    put,
    row_is_blank,
    save,
)

__all__ = [
    "XLSX_MEDIA_TYPE",
    "CellProblem",
    "GradeSheetView",
    "ImportedSheet",
    "SheetStudent",
    "WorkbookInvalid",
    "export_grade_sheet",
    "parse_grade_sheet",
]

SHEET: Final = "Bảng điểm"
META_SHEET: Final = "_hsdt"
META_FORMAT: Final = "hsdt-grade-sheet/1"
HEADER_ROW: Final = 5
FIRST_ROW: Final = HEADER_ROW + 1
FIXED_HEADERS: Final = ("STT", "Mã học sinh", "Họ và tên", "Ngày sinh")
ID_HEADER: Final = "Mã hệ thống"
_NAME_INDEX: Final = FIXED_HEADERS.index("Họ và tên")
_FIXED_WIDTHS: Final = (6, 15, 28, 12)
_DATE_FORMAT: Final = "DD/MM/YYYY"
_NUMBER_FORMATS: Final = {CellKind.SCORE_1DP: "0.0", CellKind.SCORE_INT: "0"}
_HEADER_FILL: Final = PatternFill("solid", fgColor="DDEBF7")
_THIN: Final = Side(style="thin", color="999999")
_BORDER: Final = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True, slots=True)
class SheetStudent:
    student_id: uuid.UUID
    ordinal: int  # STT as the class list numbers the student
    full_name: str
    date_of_birth: date | None
    student_code: str | None


@dataclass(frozen=True, slots=True)
class GradeSheetView:
    """One sheet as exported: its title block, columns, students in display order, cells."""

    school_name: str
    class_name: str
    school_year: str
    sheet_title_vi: str  # "Toán", "Rèn luyện"
    period_label_vi: str  # "Học kỳ I"
    sheet_key: str  # opaque id of the sheet, e.g. "<class_id>/toan/term_1"
    version: int  # the sheet's version (its ETag) when exported
    columns: tuple[Column, ...]
    students: tuple[SheetStudent, ...]
    cells: Mapping[tuple[uuid.UUID, str], str]  # (student_id, column code) → canonical value


@dataclass(frozen=True, slots=True)
class ImportedSheet:
    """Every (student, column) of the sheet as the workbook has it; None where it is empty."""

    sheet_key: str
    version: int  # the version the teacher started from: the caller's If-Match
    cells: dict[tuple[uuid.UUID, str], str | None]


def _letter(index: int) -> str:
    """Letter of a 0-based position in the header row."""
    return get_column_letter(index + 1)


def _headers(columns: Sequence[Column]) -> tuple[str, ...]:
    return (*FIXED_HEADERS, *(c.label_vi for c in columns), ID_HEADER)


def _title(view: GradeSheetView) -> str:
    return f"{view.sheet_title_vi} — {view.period_label_vi} — Lớp {view.class_name}"


# --- export


def _excel_value(kind: CellKind, canonical: str | None) -> CellValue:
    if canonical is None:
        return None
    if kind is CellKind.SCORE_1DP:
        return float(Decimal(canonical))
    if kind is CellKind.SCORE_INT:
        return int(canonical)
    return display_vi(kind, canonical)


def _validation(column: Column) -> DataValidation:
    if column.kind is CellKind.SCORE_1DP:
        rule = DataValidation(type="decimal", operator="between", formula1="0", formula2="10")
    elif column.kind is CellKind.SCORE_INT:
        rule = DataValidation(type="whole", operator="between", formula1="1", formula2="10")
    elif column.kind is CellKind.COMMENT:
        rule = DataValidation(
            type="textLength", operator="lessThanOrEqual", formula1=str(COMMENT_MAX_LENGTH)
        )
    else:
        labels = LEVEL_LABELS_VI[column.kind].values()
        rule = DataValidation(type="list", formula1='"' + ",".join(labels) + '"')
    rule.allow_blank = True
    rule.showErrorMessage = True
    rule.errorTitle = f"{column.label_vi}: giá trị không hợp lệ"
    rule.error = f"Cần {expected_vi(column.kind)}."
    return rule


def _write_title(sheet: Worksheet, view: GradeSheetView) -> None:
    sheet["A1"] = view.school_name
    sheet["A1"].font = Font(bold=True)
    sheet["A2"] = f"BẢNG ĐIỂM: {view.sheet_title_vi} — {view.period_label_vi}"
    sheet["A2"].font = Font(bold=True, size=14)
    sheet["A3"] = f"Lớp: {view.class_name}    Năm học: {view.school_year}"
    sheet["A4"] = (
        "Nhập điểm vào các cột sau “Ngày sinh”; có thể sắp xếp lại các dòng,"
        " nhưng không thêm, xoá dòng học sinh và không sửa dòng tiêu đề."
    )
    sheet["A4"].font = Font(italic=True, color="666666")


def _write_header(sheet: Worksheet, view: GradeSheetView) -> None:
    for i, header in enumerate(_headers(view.columns)):
        cell = sheet.cell(row=HEADER_ROW, column=i + 1, value=header)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, width in enumerate(_FIXED_WIDTHS):
        sheet.column_dimensions[_letter(i)].width = width
    for j, column in enumerate(view.columns):
        width = 40 if column.kind is CellKind.COMMENT else max(9, len(column.label_vi) + 3)
        sheet.column_dimensions[_letter(len(FIXED_HEADERS) + j)].width = width
    id_letter = _letter(len(FIXED_HEADERS) + len(view.columns))
    sheet.column_dimensions[id_letter].width = 38
    sheet.column_dimensions[id_letter].hidden = True


def _write_students(sheet: Worksheet, view: GradeSheetView) -> None:
    for n, student in enumerate(view.students):
        row = FIRST_ROW + n
        fixed: list[CellValue] = [
            student.ordinal,
            student.student_code,
            student.full_name,
            student.date_of_birth,
        ]
        grades = [
            _excel_value(c.kind, view.cells.get((student.student_id, c.code))) for c in view.columns
        ]
        for i, value in enumerate([*fixed, *grades, str(student.student_id)]):
            put(sheet, row, i + 1, value).border = _BORDER
        sheet.cell(row=row, column=2).number_format = "@"
        sheet.cell(row=row, column=4).number_format = _DATE_FORMAT
        for j, column in enumerate(view.columns):
            grade = sheet.cell(row=row, column=len(FIXED_HEADERS) + j + 1)
            if column.kind in _NUMBER_FORMATS:
                grade.number_format = _NUMBER_FORMATS[column.kind]
                grade.alignment = Alignment(horizontal="center")
            elif column.kind is CellKind.COMMENT:
                grade.number_format = "@"
                grade.alignment = Alignment(wrap_text=True, vertical="top")
            else:
                grade.alignment = Alignment(horizontal="center")
    last = FIRST_ROW + max(len(view.students), 1) - 1
    for j, column in enumerate(view.columns):
        rule = _validation(column)
        sheet.add_data_validation(rule)
        letter = _letter(len(FIXED_HEADERS) + j)
        rule.add(f"{letter}{FIRST_ROW}:{letter}{last}")


def _write_meta(book: Workbook, view: GradeSheetView) -> None:
    meta = book.create_sheet(META_SHEET)
    meta.sheet_state = "veryHidden"
    meta.append(["format", META_FORMAT])
    meta.append(["sheet_key", view.sheet_key])
    meta.append(["version", view.version])
    meta.append(["title", _title(view)])
    meta.append(["columns", *(c.code for c in view.columns)])
    meta.append(["students", *(str(s.student_id) for s in view.students)])


def export_grade_sheet(view: GradeSheetView) -> bytes:
    """The sheet as an .xlsx workbook for a teacher to fill in and upload again."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    _write_title(sheet, view)
    _write_header(sheet, view)
    _write_students(sheet, view)
    sheet.freeze_panes = f"{_letter(len(FIXED_HEADERS))}{FIRST_ROW}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    _write_meta(book, view)
    return save(book)


# --- import


@dataclass(frozen=True, slots=True)
class _Meta:
    sheet_key: str
    version: int
    title: str
    columns: tuple[str, ...]
    students: frozenset[str]  # ids of the students exported, as text


def _not_ours() -> WorkbookInvalid:
    return invalid_file(
        "not-a-grade-sheet",
        "Tệp không phải bảng điểm tải từ hệ thống (thiếu hoặc hỏng thông tin ẩn);"
        " hãy tải bảng điểm từ hệ thống, nhập điểm rồi tải lên lại",
    )


def _read_meta(book: Workbook) -> _Meta:
    if META_SHEET not in book.sheetnames:
        raise _not_ours()
    entries: dict[str, tuple[object, ...]] = {}
    for values in book[META_SHEET].iter_rows(max_row=20, values_only=True):
        if values and isinstance(values[0], str):
            trimmed = list(values[1:])
            while trimmed and trimmed[-1] is None:
                trimmed.pop()
            entries[values[0]] = tuple(trimmed)
    version = entries.get("version", ())
    if (
        entries.get("format") != (META_FORMAT,)
        or len(entries.get("sheet_key", ())) != 1
        or len(version) != 1
        or not isinstance(version[0], int)
        or isinstance(version[0], bool)
    ):
        raise _not_ours()
    return _Meta(
        sheet_key=str(entries["sheet_key"][0]),
        version=version[0],
        title=str((entries.get("title") or ("",))[0]),
        columns=tuple(str(c) for c in entries.get("columns", ())),
        students=frozenset(str(s) for s in entries.get("students", ())),
    )


def _check_meta(meta: _Meta, view: GradeSheetView) -> None:
    if meta.sheet_key != view.sheet_key:
        raise invalid_file(
            "sheet-mismatch",
            f"Tệp này là bảng điểm “{meta.title}”, không phải “{_title(view)}”",
        )
    if meta.columns != tuple(c.code for c in view.columns):
        raise invalid_file(
            "columns-changed",
            "Các cột của sổ đã thay đổi từ khi tải tệp này; hãy tải lại bảng điểm và nhập lại",
        )


def _header_problems(found: Sequence[object], expected: Sequence[str]) -> list[CellProblem]:
    problems: list[CellProblem] = []
    for i, header in enumerate(expected):
        seen = cell_text(found[i]) if i < len(found) else ""
        if seen != normalise_text(header):
            message = f"Tiêu đề cột đã bị sửa: cần “{header}”" + (
                f", thấy “{seen}”" if seen else ""
            )
            problems.append(CellProblem(HEADER_ROW, _letter(i), header, "header-changed", message))
    return problems


def _shown(raw: object) -> str:
    text = cell_text(raw)
    return text if len(text) <= 40 else text[:40] + "…"


class _Reader:
    """Walks the data rows once, keeping the cells and every problem found."""

    def __init__(self, view: GradeSheetView, exported: frozenset[str]) -> None:
        self.view = view
        self.exported = exported
        self.students = {s.student_id: s for s in view.students}
        self.first_row: dict[uuid.UUID, int] = {}
        self.cells: dict[tuple[uuid.UUID, str], str | None] = {}
        self.problems: list[CellProblem] = []
        self.id_index = len(FIXED_HEADERS) + len(view.columns)

    def _row_problem(self, row: int, code: str, message: str) -> None:
        self.problems.append(CellProblem(row, "", "", code, message))

    def _student(self, row: int, values: Sequence[object]) -> SheetStudent | None:
        """The student a row belongs to, or None (with a problem, unless it is a note row)."""
        raw_id = cell_text(values[self.id_index])
        name = cell_text(values[_NAME_INDEX])
        grades = values[len(FIXED_HEADERS) : self.id_index]
        if not raw_id:
            if not row_is_blank(grades):
                self._row_problem(
                    row,
                    "row-unknown",
                    f"Dòng {row} không có trong bảng điểm đã tải về"
                    " (không thêm dòng học sinh mới, không chép dòng từ tệp khác)",
                )
            return None
        try:
            student = self.students.get(uuid.UUID(raw_id))
        except ValueError:
            student = None
        if student is None:
            who = f"Dòng {row} ({name or 'không có tên'})"
            message = (
                f"{who}: học sinh không còn trong lớp; xoá dòng này hoặc tải lại bảng điểm"
                if raw_id in self.exported
                else f"{who} không phải học sinh của bảng điểm này"
            )
            self._row_problem(row, "student-unknown", message)
            return None
        if student.student_id in self.first_row:
            first = self.first_row[student.student_id]
            self._row_problem(
                row,
                "student-duplicate",
                f"Học sinh {student.full_name} có hai dòng: dòng {first} và dòng {row}",
            )
            return None
        self.first_row[student.student_id] = row
        if name != normalise_text(student.full_name):
            self.problems.append(
                CellProblem(
                    row,
                    _letter(_NAME_INDEX),
                    FIXED_HEADERS[_NAME_INDEX],
                    "student-mismatch",
                    f"Họ và tên không khớp với học sinh của dòng này (cần “{student.full_name}”);"
                    " không sửa tên, khi sắp xếp hãy chọn cả bảng",
                ),
            )
            return None
        return student

    def read_row(self, row: int, values: Sequence[object]) -> None:
        student = self._student(row, values)
        if student is None:
            return
        for j, column in enumerate(self.view.columns):
            raw = values[len(FIXED_HEADERS) + j]
            try:
                self.cells[(student.student_id, column.code)] = parse_cell(column.kind, raw)
            except CellInvalid:
                self.problems.append(
                    CellProblem(
                        row,
                        _letter(len(FIXED_HEADERS) + j),
                        column.label_vi,
                        "cell-invalid",
                        f"“{_shown(raw)}” không hợp lệ: cần {expected_vi(column.kind)}",
                    )
                )

    def missing(self) -> None:
        for student in self.view.students:
            if student.student_id in self.first_row:
                continue
            who = f"{student.full_name} (STT {student.ordinal})"
            message = (
                f"Thiếu dòng của học sinh {who}; không xoá dòng học sinh khỏi bảng điểm"
                if str(student.student_id) in self.exported
                else f"Học sinh {who} vào lớp sau khi tải tệp này; hãy tải lại bảng điểm"
            )
            self._row_problem(0, "student-missing", message)


def _main_sheet_name(book: Workbook) -> str:
    if SHEET in book.sheetnames:
        return SHEET
    others = [n for n in book.sheetnames if n != META_SHEET]
    if len(others) != 1:
        raise invalid_file("sheet-missing", f"Không tìm thấy trang “{SHEET}”")
    return others[0]  # renamed by the teacher; the header check below still applies


def parse_grade_sheet(data: bytes, view: GradeSheetView) -> ImportedSheet:
    """The cells of ``view``'s sheet as the uploaded workbook has them.

    Raises ``WorkbookInvalid`` listing every problem: a file that is not this sheet's export,
    changed headers, rows that are not the sheet's students, missing students, bad cells.
    """
    with opened(data) as book:
        meta = _read_meta(book)
        _check_meta(meta, view)
        expected = _headers(view.columns)
        rows = book[_main_sheet_name(book)].iter_rows(
            min_row=HEADER_ROW,
            max_row=HEADER_ROW + SCAN_LIMIT,
            max_col=len(expected),
            values_only=True,
        )
        header_problems = _header_problems(next(rows, ()), expected)
        if header_problems:
            raise WorkbookInvalid(header_problems)
        reader = _Reader(view, meta.students)
        count = 0
        for row, values in enumerate(rows, start=FIRST_ROW):
            padded = (*values, *([None] * (len(expected) - len(values))))
            if row_is_blank(padded):
                continue
            count += 1
            if count > MAX_ROWS:
                raise invalid_file("too-many-rows", f"Bảng điểm có quá {MAX_ROWS} dòng")
            reader.read_row(row, padded)
    reader.missing()
    if reader.problems:
        raise WorkbookInvalid(reader.problems)
    cells = {
        (s.student_id, c.code): reader.cells.get((s.student_id, c.code))
        for s in view.students
        for c in view.columns
    }
    return ImportedSheet(sheet_key=meta.sheet_key, version=meta.version, cells=cells)
