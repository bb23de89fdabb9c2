"""The staff import template read back and checked, without a database.

Positions are as a person sees them in Excel: ``row`` is the sheet row (1 is the header, 2 the
first data row), ``column`` the column letter, ``header`` its Vietnamese header.
"""

from __future__ import annotations

import io
import unicodedata
import uuid

import pytest
from openpyxl import Workbook, load_workbook

from common.events.identity import OrgLevel, Role
from identity import excel_import as xl
from identity.domain import OrgTree, OrgUnit, SchoolLevel

PROVINCE = OrgUnit(uuid.uuid4(), OrgLevel.PROVINCE, "BL", "Sở GDĐT Bình Lộc", None)
DISTRICT = OrgUnit(uuid.uuid4(), OrgLevel.DISTRICT, "BL-DX", "Phòng GDĐT Đồng Xoài", PROVINCE.id)
SCHOOL = OrgUnit(
    uuid.uuid4(),
    OrgLevel.SCHOOL,
    "BL-DX-TH01",
    "Trường Tiểu học Tân Phú",
    DISTRICT.id,
    frozenset({SchoolLevel.PRIMARY}),
)
OTHER = OrgUnit(
    uuid.uuid4(),
    OrgLevel.SCHOOL,
    "BL-DX-TH02",
    "Trường Tiểu học Tân Bình",
    DISTRICT.id,
    frozenset({SchoolLevel.PRIMARY}),
)
TREE = OrgTree.build([PROVINCE, DISTRICT, SCHOOL, OTHER])
SCOPE = frozenset({SCHOOL.id})


def _filled(*rows: tuple[object, ...], headers: tuple[str, ...] = xl.HEADERS) -> bytes:
    """The served template with ``rows`` typed in from row 2 (or a bare sheet with ``headers``)."""
    if headers == xl.HEADERS:
        book = load_workbook(io.BytesIO(xl.build_template()))
    else:
        book = Workbook()
        assert book.active is not None
        book.active.title = xl.SHEET
        book[xl.SHEET].append(list(headers))
    sheet = book[xl.SHEET]
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _teacher_only(role: Role, unit_id: uuid.UUID) -> str | None:
    return None if role in {Role.TEACHER, Role.STAFF} else "Vai trò vượt quá quyền"


GOOD = (
    ("gv.an", "Nguyễn Văn An", "an@example.vn", "BL-DX-TH01", "Giáo viên", "Tổ Toán"),
    ("gv.binh", "Trần Thị Bình", None, "bl-dx-th01", "teacher", None),
    ("nv.chi", "Lê Chí", "", "BL-DX-TH01", "Nhân viên", "Tổ Văn phòng"),
)


def test_the_template_has_vietnamese_headers_a_guide_and_a_role_list() -> None:
    book = load_workbook(io.BytesIO(xl.build_template([("BL-DX-TH01", "Trường TH")])))

    assert book.sheetnames == [xl.SHEET, xl.GUIDE_SHEET]
    sheet = book[xl.SHEET]
    assert tuple(c.value for c in sheet[1]) == xl.HEADERS
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list"
    assert "Giáo viên" in (validation.formula1 or "")
    assert str(validation.sqref).startswith("E2:")
    guide = " ".join(str(r[0]) for r in book[xl.GUIDE_SHEET].iter_rows(values_only=True) if r[0])
    assert "BL-DX-TH01" in guide
    assert "mật khẩu" in guide


def test_a_good_file_parses_to_typed_rows_with_excel_row_numbers() -> None:
    rows = xl.parse_workbook(_filled(*GOOD))

    assert [r.row for r in rows] == [2, 3, 4]
    assert rows[0].username == "gv.an"
    assert rows[0].role is Role.TEACHER
    assert rows[1].role is Role.TEACHER  # the code is accepted as well as the label
    assert rows[1].email is None
    assert rows[2].email is None  # an empty cell is no email
    assert rows[2].group == "Tổ Văn phòng"
    assert xl.check_rows(rows, TREE, SCOPE, _teacher_only, []) == []


def test_names_are_nfc_normalised_and_blank_rows_skipped() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn  Thị   Ánh")
    rows = xl.parse_workbook(
        _filled(
            GOOD[0],
            (None, None, None, None, None, None),
            ("gv.anh", decomposed, None, "BL-DX-TH01", "Giáo viên", None),
        )
    )

    assert [r.row for r in rows] == [2, 4]
    assert rows[1].full_name == "Nguyễn Thị Ánh"
    assert unicodedata.is_normalized("NFC", rows[1].full_name)


@pytest.mark.parametrize(
    "headers",
    [
        ("username", "full_name", "email", "unit", "role", "group"),
        xl.HEADERS[:-1],
        (*xl.HEADERS[:2], xl.HEADERS[3], xl.HEADERS[2], *xl.HEADERS[4:]),
    ],
    ids=["english", "missing-column", "swapped"],
)
def test_wrong_headers_are_refused(headers: tuple[str, ...]) -> None:
    with pytest.raises(xl.SheetError) as caught:
        xl.parse_workbook(_filled(GOOD[0], headers=headers))

    assert caught.value.code == "import-headers-wrong"
    assert caught.value.status == 422


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(xl.SheetError) as caught:
        xl.parse_workbook(_filled())

    assert caught.value.code == "import-empty"


@pytest.mark.parametrize(
    "data", [b"username,full_name\n", b"PK\x03\x04 not really a zip", b""], ids=str
)
def test_a_file_that_is_not_xlsx_is_refused(data: bytes) -> None:
    with pytest.raises(xl.SheetError) as caught:
        xl.parse_workbook(data)

    assert caught.value.code == "import-not-xlsx"


def test_too_many_rows_and_too_large_files_are_refused() -> None:
    many = [(f"gv.{i}", "Giáo Viên", None, "BL-DX-TH01", "Giáo viên", None) for i in range(2001)]

    with pytest.raises(xl.SheetError) as rows:
        xl.parse_workbook(_filled(*many))
    with pytest.raises(xl.SheetError) as size:
        xl.parse_workbook(b"PK" + b"\0" * xl.MAX_BYTES)

    assert rows.value.code == "import-too-many-rows"
    assert (size.value.code, size.value.status) == ("import-file-too-large", 413)


def _problems(*rows: tuple[object, ...], taken: tuple[str, ...] = ()) -> list[tuple[int, str, str]]:
    parsed = xl.parse_workbook(_filled(*rows))
    found = xl.check_rows(parsed, TREE, SCOPE, _teacher_only, taken)
    assert all(p.message for p in found)
    return [(p.row, p.column, p.code) for p in found]


def test_a_bad_role_is_a_problem_in_column_e() -> None:
    problems = _problems(GOOD[0], ("gv.x", "Phạm X", None, "BL-DX-TH01", "Hiệu trưởng", None))

    assert problems == [(3, "E", "role-unknown")]


def test_a_role_the_caller_may_not_grant_is_a_problem() -> None:
    problems = _problems(("gv.x", "Phạm X", None, "BL-DX-TH01", "Lãnh đạo nhà trường", None))

    assert problems == [(2, "E", "role-not-grantable")]
    assert "role-not-grantable" in xl.AUTHORITY_CODES


def test_unknown_and_out_of_scope_unit_codes_are_problems_in_column_d() -> None:
    problems = _problems(
        GOOD[0],
        ("gv.x", "Phạm X", None, "BL-ZZ-TH99", "Giáo viên", None),
        ("gv.y", "Phạm Y", None, "BL-DX-TH02", "Giáo viên", None),
        ("gv.z", "Phạm Z", None, "", "Giáo viên", None),
    )

    assert problems == [
        (3, "D", "unit-unknown"),
        (4, "D", "unit-outside-scope"),
        (5, "D", "unit-code-missing"),
    ]


def test_duplicate_usernames_in_the_file_and_in_the_database_are_problems() -> None:
    problems = _problems(
        GOOD[0],
        ("GV.AN", "Nguyễn Văn An", None, "BL-DX-TH01", "Giáo viên", None),
        GOOD[1],
        taken=("gv.binh",),
    )

    assert problems == [(3, "A", "username-duplicate-in-file"), (4, "A", "username-taken")]


def test_every_problem_of_every_row_is_listed_with_its_header() -> None:
    parsed = xl.parse_workbook(
        _filled(("tên có dấu cách", "", "not-an-email", "BL-DX-TH01", "", None))
    )

    found = xl.check_rows(parsed, TREE, SCOPE, _teacher_only, [])

    assert [(p.column, p.header, p.code) for p in found] == [
        ("A", "Tên đăng nhập", "username-invalid"),
        ("B", "Họ và tên", "full-name-missing"),
        ("C", "Email", "email-invalid"),
        ("E", "Vai trò", "role-missing"),
    ]
    assert found[1].message == "Thiếu họ và tên"
