"""What the grade sheet and the class list workbooks share: problems, limits, opening a file.

Where a problem is, as a person sees it in Excel: ``row`` is the sheet's row number and
``column`` the column letter; both are 0 / "" for a problem with the file as a whole.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Final

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.utils import column_index_from_string
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from records.domain.errors import DomainError

XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 200
# A 5 MB zip may inflate a thousandfold; a real grade sheet or class list is well under this.
MAX_UNZIPPED_BYTES: Final = 50 * 1024 * 1024
# Rows read below the header before giving up (blank rows are skipped, not counted).
SCAN_LIMIT: Final = MAX_ROWS + 800


@dataclass(frozen=True, slots=True)
class CellProblem:
    """One thing wrong with an uploaded workbook, where a teacher will find it."""

    row: int  # Excel row number; 0 for the file as a whole
    column: str  # Excel column letter; "" for a whole row or the file
    column_label_vi: str  # the column's Vietnamese header, so a message reads on its own
    code: str
    message_vi: str

    def as_dict(self) -> dict[str, str | int]:
        return {
            "row": self.row,
            "column": self.column,
            "column_label_vi": self.column_label_vi,
            "code": self.code,
            "message_vi": self.message_vi,
        }


def _position(problem: CellProblem) -> tuple[int, int]:
    return problem.row, column_index_from_string(problem.column) if problem.column else 0


class WorkbookInvalid(DomainError):  # noqa: N818 - named as the API says it
    """The workbook cannot be taken as it is; ``problems`` lists everything found, in sheet
    order (row, then column)."""

    def __init__(self, problems: Iterable[CellProblem]) -> None:
        self.problems = tuple(sorted(problems, key=_position))
        super().__init__(
            "workbook-invalid",
            "Tệp Excel có lỗi, chưa nhập được",
            f"{len(self.problems)} problem(s): "
            + "; ".join(f"{p.row}{p.column}:{p.code}" for p in self.problems[:10]),
        )


def file_problem(code: str, message_vi: str) -> CellProblem:
    return CellProblem(0, "", "", code, message_vi)


def invalid_file(code: str, message_vi: str) -> WorkbookInvalid:
    return WorkbookInvalid([file_problem(code, message_vi)])


def open_workbook(data: bytes) -> Workbook:
    """The workbook in ``data``, read-only with cached formula values; ``WorkbookInvalid`` when
    it is too large or not an .xlsx file. The caller closes it."""
    if len(data) > MAX_BYTES:
        raise invalid_file("file-too-large", f"Tệp quá lớn: tối đa {MAX_BYTES // (1024 * 1024)} MB")
    not_xlsx = invalid_file("not-xlsx", "Tệp không phải định dạng Excel (.xlsx)")
    if not data.startswith(b"PK"):
        raise not_xlsx
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        if unzipped > MAX_UNZIPPED_BYTES:
            raise invalid_file("file-too-large", "Tệp quá lớn sau khi giải nén")
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise not_xlsx from None


CellValue = str | int | float | date | None  # what these workbooks write into a cell


def put(sheet: Worksheet, row: int, column: int, value: CellValue) -> Cell:
    """Write ``value`` as itself: text stays text even when it looks like a formula ("=…") or an
    error code ("#N/A"), and characters XML cannot hold are dropped rather than failing."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


@contextmanager
def opened(data: bytes) -> Iterator[Workbook]:
    """``open_workbook`` for the length of a ``with``, closed afterwards. openpyxl's warnings
    about what it cannot read (extensions, a number out of a date's range) are silenced: a cell
    it cannot read comes back as an error value and is reported as that cell's problem."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        book = open_workbook(data)
        try:
            yield book
        finally:
            book.close()


def save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def normalise_text(raw: str) -> str:
    """NFC, trimmed, whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFC", raw).split())


def cell_text(value: object) -> str:
    """A cell as the text a person sees: whole floats without ".0", NFC, spaces collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return normalise_text(str(value))


def row_is_blank(values: Iterable[object]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)
