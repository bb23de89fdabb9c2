"""The class list (danh sách học sinh): the homeroom teacher's student profiles as a workbook (R13).

Pure: a template, an export and a parser. The parser takes a filled-in template or an export
back and answers every row typed, or ``WorkbookInvalid`` listing every problem of every row by
row number and column letter. Positions are as a person sees them in Excel.

Blank rows, rows with only an STT, and the template's example row (STT "Ví dụ") are skipped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, Protocol, TypeVar
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.read_only import EMPTY_CELL
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from records.excel.common import (
    MAX_ROWS,
    SCAN_LIMIT,
    CellProblem,
    CellValue,
    WorkbookInvalid,
    cell_text,
    invalid_file,
    opened,
    put,
    save,
)

SHEET: Final = "Danh sách học sinh"
GUIDE_SHEET: Final = "Hướng dẫn"
HEADER_ROW: Final = 3
FIRST_ROW: Final = HEADER_ROW + 1
EXAMPLE_MARK: Final = "Ví dụ"
NAME_MAX_LENGTH: Final = 100
MIN_AGE: Final = 3
MAX_AGE: Final = 25
_VIETNAM: Final = ZoneInfo("Asia/Ho_Chi_Minh")
_DATE_FORMAT: Final = "DD/MM/YYYY"
_HEADER_SEARCH: Final = 10  # rows searched for the header, for lists with a longer title
_HEADER_FILL: Final = PatternFill("solid", fgColor="DDEBF7")
_THIN: Final = Side(style="thin", color="999999")
_BORDER: Final = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)

V = TypeVar("V")


class _ReadCell(Protocol):
    """A cell as read back, in either openpyxl mode."""

    @property
    def value(self) -> object: ...
    @property
    def number_format(self) -> str | None: ...


GENDER_LABELS_VI: Final = {"male": "Nam", "female": "Nữ"}
_GENDER_BY_FOLDED: Final = {"nam": "male", "nu": "female", "male": "male", "female": "female"}


@dataclass(frozen=True, slots=True)
class StudentProfileRow:
    """One student of the list; ``row`` is the Excel row it was read from (ignored on export)."""

    row: int
    full_name: str
    date_of_birth: date
    gender: str  # "male" | "female"
    ethnicity: str  # dân tộc
    place_of_birth: str
    national_id: str | None  # số định danh cá nhân, 12 digits
    student_code: str | None  # mã định danh ngành, 1–20 digits/letters
    address: str | None
    guardian_name: str | None
    guardian_relation: str | None
    guardian_phone: str | None


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    header: str
    width: int
    text_format: bool = False  # stored as text so Excel keeps leading zeros


FIELDS: Final = (
    _Field("stt", "STT", 6),
    _Field("full_name", "Họ và tên", 28),
    _Field("date_of_birth", "Ngày sinh", 12),
    _Field("gender", "Giới tính", 9),
    _Field("ethnicity", "Dân tộc", 10),
    _Field("place_of_birth", "Nơi sinh", 24),
    _Field("national_id", "Số định danh cá nhân", 16, text_format=True),
    _Field("student_code", "Mã học sinh", 14, text_format=True),
    _Field("address", "Địa chỉ", 32),
    _Field("guardian_name", "Họ tên cha/mẹ/người giám hộ", 26),
    _Field("guardian_relation", "Quan hệ", 9),
    _Field("guardian_phone", "Số điện thoại", 14, text_format=True),
)
HEADERS: Final = tuple(f.header for f in FIELDS)
_INDEX: Final = {f.key: i for i, f in enumerate(FIELDS)}


def letter_of(key: str) -> str:
    return get_column_letter(_INDEX[key] + 1)


def header_of(key: str) -> str:
    return FIELDS[_INDEX[key]].header


_EXAMPLE: Final = StudentProfileRow(
    row=FIRST_ROW,
    full_name="Nguyễn Thị Minh Anh",
    date_of_birth=date(2013, 9, 5),
    gender="female",
    ethnicity="Kinh",
    place_of_birth="Xã Tân Phú, tỉnh Đồng Nai",
    national_id="075313001234",
    student_code="7501234567",
    address="Ấp 3, xã Tân Phú, tỉnh Đồng Nai",
    guardian_name="Nguyễn Văn Bình",
    guardian_relation="Cha",
    guardian_phone="0912345678",
)
_EXAMPLE_NOTE: Final = (
    "Dòng ví dụ: hệ thống bỏ qua dòng có STT là “Ví dụ”. Ghi đè hoặc xoá dòng này.\n"
    "Ngày sinh dạng dd/mm/yyyy; Giới tính chọn Nam hoặc Nữ; Số định danh cá nhân đủ 12 chữ số;"
    " các cột từ Số định danh cá nhân trở đi có thể để trống."
)


# --- writing


def _style_sheet(sheet: Worksheet, title: str, last_row: int) -> None:
    sheet["A1"] = title
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = (
        "Mỗi học sinh một dòng, từ dòng 4; không sửa dòng tiêu đề."
        f" Tối đa {MAX_ROWS} học sinh. Các cột từ “Số định danh cá nhân” trở đi không bắt buộc."
    )
    sheet["A2"].font = Font(italic=True, color="666666")
    for i, field in enumerate(FIELDS, start=1):
        cell = sheet.cell(row=HEADER_ROW, column=i, value=field.header)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[get_column_letter(i)].width = field.width
    sheet.freeze_panes = f"{letter_of('date_of_birth')}{FIRST_ROW}"
    genders = DataValidation(
        type="list",
        formula1='"' + ",".join(GENDER_LABELS_VI.values()) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Giới tính không hợp lệ",
        error="Chọn Nam hoặc Nữ.",
    )
    sheet.add_data_validation(genders)
    gender = letter_of("gender")
    genders.add(f"{gender}{FIRST_ROW}:{gender}{last_row}")
    for row in range(FIRST_ROW, last_row + 1):
        for i, field in enumerate(FIELDS, start=1):
            if field.text_format:
                sheet.cell(row=row, column=i).number_format = "@"
        sheet.cell(row=row, column=_INDEX["date_of_birth"] + 1).number_format = _DATE_FORMAT


def _write_row(sheet: Worksheet, row: int, stt: CellValue, student: StudentProfileRow) -> None:
    values: list[CellValue] = [
        stt,
        student.full_name,
        student.date_of_birth,
        GENDER_LABELS_VI.get(student.gender, student.gender),
        student.ethnicity,
        student.place_of_birth,
        student.national_id,
        student.student_code,
        student.address,
        student.guardian_name,
        student.guardian_relation,
        student.guardian_phone,
    ]
    for i, value in enumerate(values, start=1):
        put(sheet, row, i, value).border = _BORDER


def class_list_template() -> bytes:
    """An empty class list: headers, one example row explained in a note, and a guide."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    _style_sheet(sheet, "DANH SÁCH HỌC SINH", FIRST_ROW + MAX_ROWS - 1)
    _write_row(sheet, FIRST_ROW, EXAMPLE_MARK, _EXAMPLE)
    note = Comment(_EXAMPLE_NOTE, "HSĐT")
    note.width, note.height = 320, 160
    sheet.cell(row=FIRST_ROW, column=1).comment = note
    for i in range(1, len(FIELDS) + 1):
        sheet.cell(row=FIRST_ROW, column=i).font = Font(italic=True, color="808080")

    guide = book.create_sheet(GUIDE_SHEET)
    lines = [
        "Hướng dẫn nhập danh sách học sinh",
        "",
        f"Điền mỗi học sinh một dòng ở trang “{SHEET}”, từ dòng {FIRST_ROW};"
        " không sửa dòng tiêu đề. Dòng có STT “Ví dụ” được bỏ qua.",
        f"Tối đa {MAX_ROWS} học sinh, tệp .xlsx.",
        f"Họ và tên: bắt buộc, tối đa {NAME_MAX_LENGTH} ký tự.",
        f"Ngày sinh: bắt buộc, dạng dd/mm/yyyy; tuổi tính đến ngày 1/1 năm nay từ {MIN_AGE}"
        f" đến {MAX_AGE}.",
        "Giới tính: Nam hoặc Nữ. Dân tộc, Nơi sinh: bắt buộc.",
        "Số định danh cá nhân: không bắt buộc; đủ 12 chữ số (nhập dạng văn bản để giữ số 0"
        " ở đầu); không trùng trong tệp.",
        "Mã học sinh (mã định danh ngành): không bắt buộc; 1–20 chữ hoặc số; không trùng"
        " trong tệp.",
        "Số điện thoại: không bắt buộc; 9–11 chữ số, có thể bắt đầu bằng +84.",
        "",
        "Mọi lỗi được liệt kê cùng lúc theo dòng và cột; tệp chỉ được nhập khi không còn lỗi.",
    ]
    for line in lines:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    return save(book)


def export_class_list(
    class_name: str, school_year: str, rows: Sequence[StudentProfileRow]
) -> bytes:
    """The class's list in the template's layout; ``parse_class_list`` reads it back."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    title = f"DANH SÁCH HỌC SINH LỚP {class_name} — NĂM HỌC {school_year}"
    _style_sheet(sheet, title, FIRST_ROW + max(len(rows), 1) - 1)
    for n, student in enumerate(rows):
        _write_row(sheet, FIRST_ROW + n, n + 1, student)
    return save(book)


# --- reading


def _fold(text: str) -> str:
    text = text.casefold().replace("đ", "d")
    return "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
    ).strip()


_DMY: Final = re.compile(r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})$")
_YMD: Final = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_NATIONAL_ID: Final = re.compile(r"^[0-9]{12}$")
_STUDENT_CODE: Final = re.compile(r"^[0-9A-Za-z]{1,20}$")
_PHONE: Final = re.compile(r"^(\+84)?([0-9]+)$")
_PHONE_SEPARATORS: Final = re.compile(r"[\s.\-()]")


class _Invalid(Exception):  # noqa: N818 - a signal inside this module, caught per cell
    """A cell's value is refused; the message is Vietnamese."""

    def __init__(self, code: str, message_vi: str) -> None:
        super().__init__(message_vi)
        self.code = code
        self.message_vi = message_vi


def _required(text: str, what: str, max_length: int) -> str:
    if not text:
        raise _Invalid("missing", f"Thiếu {what}")
    if len(text) > max_length:
        raise _Invalid("too-long", f"{what.capitalize()} quá dài (tối đa {max_length} ký tự)")
    return text


def _optional(text: str, what: str, max_length: int) -> str | None:
    return _required(text, what, max_length) if text else None


def _age_on(day: date, born: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _date_of_birth(value: object, today: date) -> date:
    if isinstance(value, datetime):
        born = value.date()
    elif isinstance(value, date):
        born = value
    else:
        text = cell_text(value)
        if not text:
            raise _Invalid("missing", "Thiếu ngày sinh")
        dmy, ymd = _DMY.match(text), _YMD.match(text)
        if dmy and not isinstance(value, int | float):
            day, month, year = dmy[1], dmy[2], dmy[3]
        elif ymd and not isinstance(value, int | float):
            year, month, day = ymd[1], ymd[2], ymd[3]
        else:
            raise _Invalid("date-invalid", f"Ngày sinh “{text}” cần có dạng dd/mm/yyyy")
        try:
            born = date(int(year), int(month), int(day))
        except ValueError:
            raise _Invalid("date-invalid", f"Ngày sinh “{text}” không phải ngày có thật") from None
    new_year = date(today.year, 1, 1)
    age = _age_on(new_year, born)
    if not MIN_AGE <= age <= MAX_AGE:
        raise _Invalid(
            "age-out-of-range",
            f"Ngày sinh {born:%d/%m/%Y}: tuổi tại 01/01/{today.year} là {age},"
            f" cần từ {MIN_AGE} đến {MAX_AGE}",
        )
    return born


def _gender(text: str) -> str:
    if not text:
        raise _Invalid("missing", "Thiếu giới tính")
    gender = _GENDER_BY_FOLDED.get(_fold(text))
    if gender is None:
        raise _Invalid("gender-invalid", f"Giới tính “{text}” không hợp lệ: cần Nam hoặc Nữ")
    return gender


def _digits_of_number(cell: _ReadCell) -> str | None:
    """The digits of a number cell, with the leading zeros its number format shows."""
    value = cell.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    digits = str(int(value))
    shape = str(cell.number_format or "")
    if shape and set(shape) == {"0"}:
        digits = digits.zfill(len(shape))
    return digits


def _national_id(cell: _ReadCell) -> str | None:
    number = _digits_of_number(cell)
    text = number if number is not None else "".join(cell_text(cell.value).split())
    if not text:
        return None
    if not _NATIONAL_ID.match(text):
        hint = " (nhập dạng văn bản để giữ số 0 ở đầu)" if number is not None else ""
        raise _Invalid(
            "national-id-invalid",
            f"Số định danh cá nhân “{text}” phải có đúng 12 chữ số{hint}",
        )
    return text


def _student_code(cell: _ReadCell) -> str | None:
    number = _digits_of_number(cell)
    text = number if number is not None else cell_text(cell.value)
    if not text:
        return None
    if not _STUDENT_CODE.match(text):
        raise _Invalid(
            "student-code-invalid",
            f"Mã học sinh “{text}” không hợp lệ: cần 1–20 chữ cái hoặc chữ số",
        )
    return text


def _phone(cell: _ReadCell) -> str | None:
    number = _digits_of_number(cell)
    text = number if number is not None else _PHONE_SEPARATORS.sub("", cell_text(cell.value))
    if not text:
        return None
    match = _PHONE.match(text)
    if not match or not 9 <= len(match[2]) <= 11:
        raise _Invalid(
            "phone-invalid",
            f"Số điện thoại “{text}” không hợp lệ: cần 9–11 chữ số, có thể bắt đầu bằng +84",
        )
    return text


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _RowReader:
    """Reads one data row cell by cell, keeping a problem for each refused cell."""

    def __init__(self, row: int, cells: Sequence[_ReadCell]) -> None:
        self.row = row
        self.cells = cells
        self.problems: list[CellProblem] = []

    def take(self, key: str, read: Callable[[_ReadCell], V]) -> V | None:
        try:
            return read(self.cells[_INDEX[key]])
        except _Invalid as exc:
            self.problems.append(
                CellProblem(self.row, letter_of(key), header_of(key), exc.code, exc.message_vi)
            )
            return None

    def required(self, key: str, what: str, max_length: int) -> str:
        return self.take(key, lambda c: _required(cell_text(c.value), what, max_length)) or ""

    def optional(self, key: str, what: str, max_length: int) -> str | None:
        return self.take(key, lambda c: _optional(cell_text(c.value), what, max_length))


def _read_row(r: _RowReader, today: date) -> StudentProfileRow:
    """The row as a student; where ``r.problems`` has a cell's problem, its value is a stand-in
    (kept so duplicates are still found in the other cells)."""
    full_name = r.required("full_name", "họ và tên", NAME_MAX_LENGTH)
    born = r.take("date_of_birth", lambda c: _date_of_birth(c.value, today))
    gender = r.take("gender", lambda c: _gender(cell_text(c.value)))
    return StudentProfileRow(
        row=r.row,
        full_name=full_name,
        date_of_birth=born or today,
        gender=gender or "",
        ethnicity=r.required("ethnicity", "dân tộc", 50),
        place_of_birth=r.required("place_of_birth", "nơi sinh", 200),
        national_id=r.take("national_id", _national_id),
        student_code=r.take("student_code", _student_code),
        address=r.optional("address", "địa chỉ", 300),
        guardian_name=r.optional("guardian_name", "họ tên người giám hộ", NAME_MAX_LENGTH),
        guardian_relation=r.optional("guardian_relation", "quan hệ", 50),
        guardian_phone=r.take("guardian_phone", _phone),
    )


def _duplicate_problems(students: Sequence[StudentProfileRow]) -> list[CellProblem]:
    problems: list[CellProblem] = []
    for key, what in (("national_id", "Số định danh cá nhân"), ("student_code", "Mã học sinh")):
        first: dict[str, int] = {}
        for student in students:
            value = getattr(student, key)
            if value is None:
                continue
            if value in first:
                problems.append(
                    CellProblem(
                        student.row,
                        letter_of(key),
                        header_of(key),
                        f"{key.replace('_', '-')}-duplicate",
                        f"{what} “{value}” trùng với dòng {first[value]}",
                    )
                )
            else:
                first[value] = student.row
    return problems


def _main_sheet(book: Workbook) -> Worksheet:
    if SHEET in book.sheetnames:
        return book[SHEET]
    others = [n for n in book.sheetnames if n != GUIDE_SHEET]
    if not others:
        raise invalid_file("sheet-missing", f"Không tìm thấy trang “{SHEET}”")
    return book[others[0]]


def _find_header(rows: Sequence[Sequence[_ReadCell]]) -> tuple[int, list[CellProblem]]:
    """The header's row number and its problems; the header is the first row starting "STT"."""
    for number, cells in enumerate(rows, start=1):
        if cells and cell_text(cells[0].value).casefold() == "stt":
            problems = []
            for i, header in enumerate(HEADERS):
                seen = cell_text(cells[i].value) if i < len(cells) else ""
                if seen.casefold() != header.casefold():
                    message = f"Tiêu đề cột đã bị sửa: cần “{header}”" + (
                        f", thấy “{seen}”" if seen else ""
                    )
                    problems.append(
                        CellProblem(
                            number, get_column_letter(i + 1), header, "header-changed", message
                        )
                    )
            return number, problems
    raise invalid_file(
        "header-missing",
        "Không tìm thấy dòng tiêu đề (STT, Họ và tên, Ngày sinh, …); hãy dùng đúng mẫu",
    )


def _today() -> date:
    return datetime.now(UTC).astimezone(_VIETNAM).date()


def parse_class_list(data: bytes, *, today: date | None = None) -> tuple[StudentProfileRow, ...]:
    """Every student typed into the list, in sheet order; ``WorkbookInvalid`` listing every
    problem otherwise. ``today`` fixes "this year" for the age check (default: today in Vietnam).
    """
    today = today or _today()
    with opened(data) as book:
        sheet = _main_sheet(book)
        top = [
            tuple(cells) for cells in sheet.iter_rows(max_row=_HEADER_SEARCH, max_col=len(FIELDS))
        ]
        header_row, problems = _find_header(top)
        if problems:
            raise WorkbookInvalid(problems)
        students: list[StudentProfileRow] = []
        count = 0
        for number, cells in enumerate(
            sheet.iter_rows(
                min_row=header_row + 1,
                max_row=header_row + SCAN_LIMIT,
                max_col=len(FIELDS),
            ),
            start=header_row + 1,
        ):
            row = (*cells, *([EMPTY_CELL] * (len(FIELDS) - len(cells))))
            if all(_blank(c.value) for c in row[1:]):
                continue  # blank, or numbered ahead with nothing typed
            if cell_text(row[0].value).casefold() == EXAMPLE_MARK.casefold():
                continue
            count += 1
            if count > MAX_ROWS:
                raise invalid_file("too-many-rows", f"Danh sách có quá {MAX_ROWS} học sinh")
            reader = _RowReader(number, row)
            students.append(_read_row(reader, today))
            problems += reader.problems
    problems += _duplicate_problems(students)
    if problems:
        raise WorkbookInvalid(problems)
    return tuple(students)
