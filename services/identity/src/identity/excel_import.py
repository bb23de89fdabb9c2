"""The staff import template (.xlsx): build it, read it back, check every row.

Pure: bytes in, a typed list of rows and problems out; nothing here touches the database. What
needs the database (units, the caller's grants, usernames already taken) is passed in to
``check_rows`` as plain values, so the rules are testable without PostgreSQL.

Where a problem is, as a person sees it in Excel: ``row`` is the sheet's row number (row 1 is
the header, so the first data row is 2) and ``column`` is the column letter (A…F); ``header``
repeats the column's Vietnamese header so a message reads on its own.
"""

from __future__ import annotations

import io
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Final

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from common.events.identity import Role
from identity.domain import DomainError, OrgTree, normalise_name
from identity.domain.org import normalise_code
from identity.handlers.admin import _normalise_username

SHEET: Final = "Nhân sự"
GUIDE_SHEET: Final = "Hướng dẫn"
MAX_ROWS: Final = 2000
MAX_BYTES: Final = 2 * 1024 * 1024
# Rows read past the last allowed one before giving up (blank rows are skipped, not counted).
_SCAN_LIMIT: Final = MAX_ROWS + 1000
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    required: bool


COLUMNS: Final = (
    Column("username", "Tên đăng nhập", required=True),
    Column("full_name", "Họ và tên", required=True),
    Column("email", "Email", required=False),
    Column("unit_code", "Mã đơn vị", required=True),
    Column("role", "Vai trò", required=True),
    Column("group", "Nhóm", required=False),
)
HEADERS: Final = tuple(c.header for c in COLUMNS)
_LETTER: Final = {c.key: get_column_letter(i) for i, c in enumerate(COLUMNS, start=1)}
_HEADER: Final = {c.key: c.header for c in COLUMNS}

ROLE_LABELS: Final[dict[Role, str]] = {
    Role.PROVINCE_ADMIN: "Quản trị cấp Sở",
    Role.PROVINCE_INSPECTOR: "Thanh tra cấp Sở",
    Role.DISTRICT_ADMIN: "Quản trị cấp Phòng",
    Role.DISTRICT_INSPECTOR: "Thanh tra cấp Phòng",
    Role.SCHOOL_LEADER: "Lãnh đạo nhà trường",
    Role.SCHOOL_ADMIN: "Quản trị nhà trường",
    Role.TEACHER: "Giáo viên",
    Role.STAFF: "Nhân viên",
}
_ROLE_BY_TEXT: Final[dict[str, Role]] = {
    **{label.casefold(): role for role, label in ROLE_LABELS.items()},
    **{role.value: role for role in Role},
}


class SheetError(Exception):
    """The file as a whole cannot be read as the template (HTTP 422, or 413 when too large)."""

    def __init__(self, code: str, title_vi: str, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.code = code
        self.title_vi = title_vi
        self.detail = detail
        self.status = status


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int  # Excel row number: 2 is the first data row
    column: str  # Excel column letter
    header: str  # the column's Vietnamese header
    code: str
    message: str  # Vietnamese

    def as_dict(self) -> dict[str, str | int]:
        return {
            "row": self.row,
            "column": self.column,
            "header": self.header,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class StaffRow:
    """One data row as typed in (NFC, trimmed); ``role`` is None when it is not a role."""

    row: int
    username: str
    full_name: str
    email: str | None
    unit_code: str
    role_text: str
    group: str | None

    @property
    def role(self) -> Role | None:
        return _ROLE_BY_TEXT.get(self.role_text.casefold())


def letter_of(key: str) -> str:
    return _LETTER[key]


def header_of(key: str) -> str:
    return _HEADER[key]


def usernames(rows: Iterable[StaffRow]) -> list[str]:
    """The valid usernames of ``rows``, normalised, sorted, once each."""
    found: set[str] = set()
    for row in rows:
        try:
            found.add(_normalise_username(row.username))
        except DomainError:
            continue
    return sorted(found)


def _problem(row: int, key: str, code: str, message: str) -> RowProblem:
    return RowProblem(row, _LETTER[key], _HEADER[key], code, message)


# --- the template


def build_template(unit_codes: Iterable[tuple[str, str]] = ()) -> bytes:
    """The empty template; ``unit_codes`` (code, name) are listed in the guide sheet."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append(list(HEADERS))
    for i in range(1, len(COLUMNS) + 1):
        cell = sheet.cell(row=1, column=i)
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(i)].width = 28
    sheet.freeze_panes = "A2"
    roles = DataValidation(
        type="list",
        formula1='"' + ",".join(ROLE_LABELS.values()) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Vai trò không hợp lệ",
        error="Chọn một vai trò trong danh sách.",
    )
    sheet.add_data_validation(roles)
    roles.add(f"{_LETTER['role']}2:{_LETTER['role']}{MAX_ROWS + 1}")

    guide = book.create_sheet(GUIDE_SHEET)
    lines = [
        "Hướng dẫn nhập danh sách nhân sự",
        "",
        f"Điền mỗi người một dòng ở trang “{SHEET}”, bắt đầu từ dòng 2; không sửa dòng tiêu đề.",
        f"Tối đa {MAX_ROWS} dòng, tệp không quá {MAX_BYTES // (1024 * 1024)} MB, định dạng .xlsx.",
        "Tên đăng nhập: chữ, số, dấu chấm, gạch dưới, gạch ngang; không trùng trong tệp"
        " và trong hệ thống.",
        "Họ và tên: bắt buộc. Email: không bắt buộc.",
        "Mã đơn vị: mã trường/phòng/sở nơi người đó làm việc, trong phạm vi quản lý của bạn.",
        "Vai trò: chọn trong danh sách; vai trò phải phù hợp với cấp của đơn vị và không cao hơn"
        " quyền của bạn.",
        "Nhóm: không bắt buộc; nếu nhóm chưa có trong đơn vị, hệ thống sẽ tạo nhóm mới.",
        "",
        "Tài khoản được tạo chưa có mật khẩu: quản trị viên đặt mật khẩu tạm thời cho từng người"
        " (hoặc mời họ) trước khi họ đăng nhập.",
        "Hãy “Kiểm tra thử” trước: mọi lỗi được liệt kê theo dòng và cột. Khi nhập thật, hoặc tất"
        " cả các dòng được nhập, hoặc không dòng nào.",
        "",
        "Vai trò:",
        *(f"  {label} ({role.value})" for role, label in ROLE_LABELS.items()),
    ]
    codes = list(unit_codes)
    if codes:
        lines += ["", "Mã đơn vị trong phạm vi của bạn:", *(f"  {c} — {n}" for c, n in codes)]
    for line in lines:
        guide.append([line])
    guide.column_dimensions["A"].width = 110
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- reading it back


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return normalise_text(str(value))


def normalise_text(raw: str) -> str:
    return " ".join(unicodedata.normalize("NFC", raw).split())


def parse_workbook(data: bytes) -> list[StaffRow]:
    """The template's data rows, blank rows skipped; ``SheetError`` if it is not the template."""
    if len(data) > MAX_BYTES:
        raise SheetError(
            "import-file-too-large",
            "Tệp quá lớn",
            f"{len(data)} bytes; at most {MAX_BYTES}",
            status=413,
        )
    if not data.startswith(b"PK"):
        raise SheetError("import-not-xlsx", "Tệp không phải định dạng Excel (.xlsx)", "not a zip")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise SheetError(
            "import-not-xlsx", "Tệp không phải định dạng Excel (.xlsx)", type(exc).__name__
        ) from None
    try:
        if SHEET not in book.sheetnames:
            raise SheetError(
                "import-sheet-missing",
                f"Không tìm thấy trang “{SHEET}”",
                f"sheets: {book.sheetnames}",
            )
        rows = book[SHEET].iter_rows(values_only=True)
        header = tuple(_text(v) for v in next(rows, ()))
        while header and not header[-1]:
            header = header[:-1]
        if header != HEADERS:
            raise SheetError(
                "import-headers-wrong",
                "Dòng tiêu đề không đúng mẫu",
                f"expected {list(HEADERS)}, got {list(header)}",
            )
        found: list[StaffRow] = []
        for number, values in enumerate(rows, start=2):
            if number > _SCAN_LIMIT:
                raise _too_many()
            cells = [_text(v) for v in values[: len(COLUMNS)]]
            cells += [""] * (len(COLUMNS) - len(cells))
            if not any(cells):
                continue
            if len(found) == MAX_ROWS:
                raise _too_many()
            username, full_name, email, unit_code, role, group = cells
            found.append(
                StaffRow(number, username, full_name, email or None, unit_code, role, group or None)
            )
    finally:
        book.close()
    if not found:
        raise SheetError("import-empty", "Tệp không có dòng dữ liệu nào", "no data rows")
    return found


def _too_many() -> SheetError:
    return SheetError(
        "import-too-many-rows", "Tệp có quá nhiều dòng", f"at most {MAX_ROWS} data rows"
    )


# --- checking the rows


def _is_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in text))


def _username_problems(row: StaffRow, first_seen: dict[str, int]) -> list[RowProblem]:
    if not row.username:
        return [_problem(row.row, "username", "username-missing", "Thiếu tên đăng nhập")]
    try:
        username = _normalise_username(row.username)
    except DomainError:
        message = "Tên đăng nhập không hợp lệ: chỉ dùng chữ, số, '.', '_', '-' (tối đa 64 ký tự)"
        return [_problem(row.row, "username", "username-invalid", message)]
    if username in first_seen:
        message = f"Tên đăng nhập “{username}” trùng với dòng {first_seen[username]}"
        return [_problem(row.row, "username", "username-duplicate-in-file", message)]
    first_seen[username] = row.row
    return []


def _name_problems(row: StaffRow) -> list[RowProblem]:
    n = row.row
    problems: list[RowProblem] = []
    if not row.full_name:
        problems.append(_problem(n, "full_name", "full-name-missing", "Thiếu họ và tên"))
    else:
        try:
            normalise_name(row.full_name)
        except DomainError:
            problems.append(_problem(n, "full_name", "full-name-invalid", "Họ và tên không hợp lệ"))
    if row.email is not None and not _is_email(row.email):
        problems.append(_problem(n, "email", "email-invalid", "Email không hợp lệ"))
    if row.group is not None:
        try:
            normalise_name(row.group)
        except DomainError:
            problems.append(_problem(n, "group", "group-name-invalid", "Tên nhóm không hợp lệ"))
    return problems


def _unit_and_role_problems(row: StaffRow) -> list[RowProblem]:
    n = row.row
    problems: list[RowProblem] = []
    if not row.unit_code:
        problems.append(_problem(n, "unit_code", "unit-code-missing", "Thiếu mã đơn vị"))
    else:
        try:
            normalise_code(row.unit_code)
        except DomainError:
            problems.append(_problem(n, "unit_code", "unit-code-invalid", "Mã đơn vị không hợp lệ"))
    if not row.role_text:
        problems.append(_problem(n, "role", "role-missing", "Thiếu vai trò"))
    elif row.role is None:
        message = f"Vai trò “{row.role_text}” không có trong danh sách"
        problems.append(_problem(n, "role", "role-unknown", message))
    return problems


def check_row_shapes(rows: Iterable[StaffRow]) -> list[RowProblem]:
    """What can be said of the rows alone: required cells, formats, roles, duplicates."""
    problems: list[RowProblem] = []
    first_seen: dict[str, int] = {}
    for row in rows:
        problems += _username_problems(row, first_seen)
        problems += _name_problems(row)
        problems += _unit_and_role_problems(row)
    return problems


# Codes of problems about the caller's authority rather than the data (a real import with one
# of them is refused as 403, like POST /users and POST /grants).
AUTHORITY_CODES: Final = frozenset({"unit-outside-scope", "role-not-grantable"})

# (role, unit id) → None when the caller may grant it, else the Vietnamese reason.
GrantCheck = Callable[[Role, uuid.UUID], str | None]


def check_rows(
    rows: Collection[StaffRow],
    tree: OrgTree,
    scope: frozenset[uuid.UUID],
    may_grant: GrantCheck,
    taken_usernames: Collection[str],
) -> list[RowProblem]:
    """Every problem of every row: ``check_row_shapes`` and, against the province as it is,
    unknown units, units outside the caller's ``scope``, roles the caller may not grant there
    (``may_grant``: the same check as POST /grants), usernames already in use."""
    problems = check_row_shapes(rows)
    bad = {(p.row, p.column) for p in problems}
    taken = set(taken_usernames)
    for row in rows:
        n = row.row
        if (n, _LETTER["username"]) not in bad:
            username = _normalise_username(row.username)
            if username in taken:
                problems.append(
                    _problem(
                        n,
                        "username",
                        "username-taken",
                        f"Tên đăng nhập “{username}” đã có trong hệ thống",
                    )
                )
        if (n, _LETTER["unit_code"]) in bad:
            continue
        try:
            unit = tree.by_code(row.unit_code)
        except DomainError:
            problems.append(
                _problem(
                    n,
                    "unit_code",
                    "unit-unknown",
                    f"Không tìm thấy đơn vị có mã “{normalise_code(row.unit_code)}”",
                )
            )
            continue
        if unit.id not in scope:
            problems.append(
                _problem(
                    n,
                    "unit_code",
                    "unit-outside-scope",
                    f"Đơn vị “{unit.code}” nằm ngoài phạm vi quản lý của bạn",
                )
            )
            continue
        if row.role is not None:
            reason = may_grant(row.role, unit.id)
            if reason is not None:
                problems.append(_problem(n, "role", "role-not-grantable", reason))
    return sorted(problems, key=lambda p: (p.row, p.column))
