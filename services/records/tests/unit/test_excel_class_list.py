"""The class list workbook: the template, an export, and every row read back and checked.

Positions are as a person sees them in Excel: the header is row 3, the first student row 4;
columns A–L are STT, Họ và tên, Ngày sinh, Giới tính, Dân tộc, Nơi sinh, Số định danh cá nhân,
Mã học sinh, Địa chỉ, Họ tên cha/mẹ/người giám hộ, Quan hệ, Số điện thoại.
"""

from __future__ import annotations

import dataclasses
import io
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from records.excel.class_list import (
    HEADERS,
    StudentProfileRow,
    class_list_template,
    export_class_list,
    parse_class_list,
)
from records.excel.common import WorkbookInvalid

TODAY = date(2026, 3, 1)  # ages count at 01/01/2026: born 02/01/2000 … 01/01/2023

AN = StudentProfileRow(
    row=4,
    full_name="Nguyễn Văn An",
    date_of_birth=date(2014, 2, 3),
    gender="male",
    ethnicity="Kinh",
    place_of_birth="Đồng Nai",
    national_id="075214000123",
    student_code="7500000001",
    address="Ấp 3, xã Tân Phú",
    guardian_name="Nguyễn Văn Bình",
    guardian_relation="Cha",
    guardian_phone="0912345678",
)
ANH = StudentProfileRow(
    row=5,
    full_name="Trần Thị Ánh",
    date_of_birth=date(2013, 12, 31),
    gender="female",
    ethnicity="Tày",
    place_of_birth="Cao Bằng",
    national_id=None,
    student_code=None,
    address=None,
    guardian_name=None,
    guardian_relation=None,
    guardian_phone="+84987654321",
)

Cell = str | float | date | datetime | None
GOOD: tuple[Cell, ...] = (
    1,
    "Lê Bình",
    "05/09/2013",
    "Nam",
    "Kinh",
    "Đồng Nai",
    "075213000555",
    "7500000009",
    None,
    None,
    None,
    None,
)


def _filled(*rows: Sequence[Cell], number_formats: dict[str, str] | None = None) -> bytes:
    """The template with ``rows`` typed from row 4 (over the example row)."""
    book = load_workbook(io.BytesIO(class_list_template()))
    sheet = book["Danh sách học sinh"]
    for r, values in enumerate(rows, start=4):
        for c, value in enumerate(values, start=1):
            sheet.cell(row=r, column=c).value = value
    for ref, shape in (number_formats or {}).items():
        sheet[ref].number_format = shape
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


KEYS = (
    "stt",
    "name",
    "born",
    "gender",
    "ethnicity",
    "place",
    "national_id",
    "code",
    "address",
    "guardian",
    "relation",
    "phone",
)


def _with(**changes: Cell) -> tuple[Cell, ...]:
    values = dict(zip(KEYS, GOOD, strict=True)) | changes
    return tuple(values[k] for k in KEYS)


def _problems(data: bytes) -> list[tuple[int, str, str]]:
    with pytest.raises(WorkbookInvalid) as caught:
        parse_class_list(data, today=TODAY)
    return [(p.row, p.column, p.code) for p in caught.value.problems]


# --- the template


def test_the_template_has_headers_an_explained_example_a_gender_list_and_a_guide() -> None:
    book = load_workbook(io.BytesIO(class_list_template()))
    assert book.sheetnames == ["Danh sách học sinh", "Hướng dẫn"]
    sheet = book["Danh sách học sinh"]
    assert tuple(c.value for c in sheet[3]) == HEADERS
    assert HEADERS == (
        "STT",
        "Họ và tên",
        "Ngày sinh",
        "Giới tính",
        "Dân tộc",
        "Nơi sinh",
        "Số định danh cá nhân",
        "Mã học sinh",
        "Địa chỉ",
        "Họ tên cha/mẹ/người giám hộ",
        "Quan hệ",
        "Số điện thoại",
    )
    assert sheet["A4"].value == "Ví dụ"
    assert sheet["A4"].comment is not None
    assert "bỏ qua" in sheet["A4"].comment.text
    (genders,) = sheet.data_validations.dataValidation
    assert genders.formula1 == '"Nam,Nữ"'
    assert str(genders.sqref).startswith("D4:")
    assert sheet["G10"].number_format == "@"  # typed ids keep their leading zeros


def test_the_untouched_template_has_no_students() -> None:
    assert parse_class_list(class_list_template(), today=TODAY) == ()


def test_a_filled_in_template_reads_back_every_row() -> None:
    data = _filled(
        GOOD,
        _with(
            stt=2,
            name="  Trần   Thị Ánh ",
            born=datetime(2013, 12, 31),  # noqa: DTZ001 - Excel dates have no time zone
            gender="nữ",
            national_id=None,
            code="HS 2".replace(" ", ""),
            phone="+84 987 654 321",
        ),
    )
    first, second = parse_class_list(data, today=TODAY)
    assert first == StudentProfileRow(
        4,
        "Lê Bình",
        date(2013, 9, 5),
        "male",
        "Kinh",
        "Đồng Nai",
        "075213000555",
        "7500000009",
        None,
        None,
        None,
        None,
    )
    assert (second.row, second.full_name, second.date_of_birth) == (
        5,
        "Trần Thị Ánh",
        date(2013, 12, 31),
    )
    assert (second.gender, second.national_id, second.student_code) == ("female", None, "HS2")
    assert second.guardian_phone == "+84987654321"


@pytest.mark.parametrize("typed", ["5/9/2013", "05-09-2013", "05.09.2013", "2013-09-05"])
def test_dates_are_read_in_the_usual_spellings(typed: str) -> None:
    (student,) = parse_class_list(_filled(_with(born=typed)), today=TODAY)
    assert student.date_of_birth == date(2013, 9, 5)


def test_names_are_nfc() -> None:
    (student,) = parse_class_list(
        _filled(_with(name=unicodedata.normalize("NFD", "Đỗ Thị Hồng Nhung"))), today=TODAY
    )
    assert student.full_name == "Đỗ Thị Hồng Nhung"
    assert unicodedata.is_normalized("NFC", student.full_name)


def test_blank_rows_and_rows_with_only_an_stt_are_skipped() -> None:
    data = _filled(GOOD, (None,) * 12, (3,), _with(stt=4, national_id=None, code=None))
    assert [s.row for s in parse_class_list(data, today=TODAY)] == [4, 7]


def test_a_number_cell_keeps_the_leading_zeros_its_format_shows() -> None:
    data = _filled(
        _with(national_id=75213000555, code=7500000009),
        number_formats={"G4": "000000000000"},
    )
    (student,) = parse_class_list(data, today=TODAY)
    assert (student.national_id, student.student_code) == ("075213000555", "7500000009")


# --- every problem, by row and column


def test_every_problem_of_every_row_is_reported_at_once() -> None:
    data = _filled(
        _with(name=None, born="31/02/2013", national_id=None, code=None),  # 4
        _with(name="A" * 101, born="hôm qua", gender="X", national_id=None, code=None),  # 5
        _with(born=20130905, ethnicity=None, place=" ", national_id=None, code=None),  # 6
        _with(born=date(2023, 1, 2), national_id="07521300055", code=None),  # 7: 2 years old
        _with(born=date(2000, 1, 1), national_id="07521300055a", code="75-0001"),  # 8: 26
        _with(national_id=75213000555, code="A" * 21, phone="12345"),  # 9
        _with(phone="+84abc", national_id=None, code=None),  # 10
        _with(born=None, gender=None, national_id=None, code=None),  # 11
        GOOD,  # 12
        _with(name="Lê Bình Minh"),  # 13: the same ids as row 12
    )
    assert _problems(data) == [
        (4, "B", "missing"),
        (4, "C", "date-invalid"),
        (5, "B", "too-long"),
        (5, "C", "date-invalid"),
        (5, "D", "gender-invalid"),
        (6, "C", "date-invalid"),
        (6, "E", "missing"),
        (6, "F", "missing"),
        (7, "C", "age-out-of-range"),
        (7, "G", "national-id-invalid"),
        (8, "C", "age-out-of-range"),
        (8, "G", "national-id-invalid"),
        (8, "H", "student-code-invalid"),
        (9, "G", "national-id-invalid"),
        (9, "H", "student-code-invalid"),
        (9, "L", "phone-invalid"),
        (10, "L", "phone-invalid"),
        (11, "C", "missing"),
        (11, "D", "missing"),
        (13, "G", "national-id-duplicate"),
        (13, "H", "student-code-duplicate"),
    ]


def test_problems_are_in_vietnamese_and_name_the_column() -> None:
    data = _filled(
        _with(born=date(2024, 5, 1), national_id=75213000555),
        _with(stt=2, gender="Khác"),
    )
    with pytest.raises(WorkbookInvalid) as caught:
        parse_class_list(data, today=TODAY)
    age, national_id, gender, code_twice = caught.value.problems
    assert (age.column_label_vi, age.column) == ("Ngày sinh", "C")
    assert "tuổi tại 01/01/2026 là 1" in age.message_vi
    assert national_id.column_label_vi == "Số định danh cá nhân"
    assert "12 chữ số" in national_id.message_vi
    assert "số 0 ở đầu" in national_id.message_vi  # a number cell lost its leading zero
    assert code_twice.message_vi == "Mã học sinh “7500000009” trùng với dòng 4"
    assert gender.message_vi == "Giới tính “Khác” không hợp lệ: cần Nam hoặc Nữ"


def test_a_duplicate_names_the_first_row() -> None:
    data = _filled(GOOD, _with(stt=2, name="Lê Bình Minh", national_id=None))
    with pytest.raises(WorkbookInvalid) as caught:
        parse_class_list(data, today=TODAY)
    (problem,) = caught.value.problems
    assert (problem.row, problem.column, problem.code) == (5, "H", "student-code-duplicate")
    assert "dòng 4" in problem.message_vi


@pytest.mark.parametrize(
    ("born", "ok"),
    [
        (date(2023, 1, 1), True),  # 3 on 01/01/2026
        (date(2023, 1, 2), False),
        (date(2000, 1, 2), True),  # 25 on 01/01/2026
        (date(2000, 1, 1), False),  # 26
    ],
)
def test_age_is_counted_at_the_first_of_january(born: date, ok: bool) -> None:
    data = _filled(_with(born=born))
    if ok:
        assert parse_class_list(data, today=TODAY)[0].date_of_birth == born
    else:
        assert _problems(data) == [(4, "C", "age-out-of-range")]


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("0912345678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("(028) 3822 1234", "02838221234"),
        ("+84 912 345 678", "+84912345678"),
        (912345678, "912345678"),
    ],
)
def test_phone_numbers_keep_their_digits(typed: Cell, kept: str) -> None:
    (student,) = parse_class_list(_filled(_with(phone=typed)), today=TODAY)
    assert student.guardian_phone == kept


@pytest.mark.parametrize("typed", ["12345678", "091234567890", "+8491234567", "09-abc"])
def test_phone_numbers_of_the_wrong_length_are_refused(typed: str) -> None:
    assert _problems(_filled(_with(phone=typed))) == [(4, "L", "phone-invalid")]


# --- files that are not a class list


def test_a_changed_header_is_reported_by_its_column() -> None:
    book = load_workbook(io.BytesIO(_filled(GOOD)))
    book["Danh sách học sinh"]["G3"] = "CCCD"
    out = io.BytesIO()
    book.save(out)
    assert _problems(out.getvalue()) == [(3, "G", "header-changed")]


def test_a_sheet_without_the_header_is_refused() -> None:
    book = load_workbook(io.BytesIO(_filled(GOOD)))
    book["Danh sách học sinh"].delete_rows(1, 3)
    out = io.BytesIO()
    book.save(out)
    assert _problems(out.getvalue()) == [(0, "", "header-missing")]


def test_bytes_that_are_not_xlsx_are_refused() -> None:
    assert _problems(b"Ho va ten;Ngay sinh\n") == [(0, "", "not-xlsx")]


def test_more_than_two_hundred_students_are_refused() -> None:
    rows = [_with(stt=n, national_id=None, code=None) for n in range(1, 202)]
    assert _problems(_filled(*rows)) == [(0, "", "too-many-rows")]


# --- the export reads back as it was


def test_the_export_has_the_class_in_its_title_and_reads_back() -> None:
    data = export_class_list("6A1", "2025-2026", [AN, ANH])
    sheet = load_workbook(io.BytesIO(data))["Danh sách học sinh"]
    assert "6A1" in str(sheet["A1"].value)
    assert "2025-2026" in str(sheet["A1"].value)
    assert (sheet["A4"].value, sheet["D4"].value, sheet["D5"].value) == (1, "Nam", "Nữ")
    assert sheet["G4"].value == "075214000123"
    assert sheet["C4"].number_format == "DD/MM/YYYY"
    assert parse_class_list(data, today=TODAY) == (AN, ANH)


def test_rows_are_numbered_from_four_whatever_they_said() -> None:
    moved = [dataclasses.replace(AN, row=40), dataclasses.replace(ANH, row=2)]
    assert parse_class_list(export_class_list("6A1", "2025-2026", moved), today=TODAY) == (AN, ANH)


def test_an_empty_class_round_trips() -> None:
    assert parse_class_list(export_class_list("6A1", "2025-2026", []), today=TODAY) == ()


_text = (
    st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1, max_size=30)
    .map(lambda t: " ".join(unicodedata.normalize("NFC", t).split()))
    .filter(bool)
)
_digits = st.text(st.sampled_from("0123456789"), min_size=1, max_size=20)


@st.composite
def students(draw: st.DrawFn) -> list[StudentProfileRow]:
    count = draw(st.integers(0, 5))
    ids = draw(
        st.lists(
            st.text("0123456789", min_size=12, max_size=12),
            unique=True,
            min_size=count,
            max_size=count,
        )
    )
    codes = draw(st.lists(_digits, unique=True, min_size=count, max_size=count))
    return [
        StudentProfileRow(
            row=4 + n,
            full_name=draw(_text),
            date_of_birth=draw(st.dates(date(2000, 1, 2), date(2023, 1, 1))),
            gender=draw(st.sampled_from(["male", "female"])),
            ethnicity=draw(_text),
            place_of_birth=draw(_text),
            national_id=draw(st.none() | st.just(ids[n])),
            student_code=draw(st.none() | st.just(codes[n])),
            address=draw(st.none() | _text),
            guardian_name=draw(st.none() | _text),
            guardian_relation=draw(st.none() | _text),
            guardian_phone=draw(st.none() | st.from_regex(r"\A(\+84)?[0-9]{9,11}\Z")),
        )
        for n in range(count)
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(students())
def test_any_valid_class_list_round_trips(rows: list[StudentProfileRow]) -> None:
    data = export_class_list("6A1", "2025-2026", rows)
    assert parse_class_list(data, today=TODAY) == tuple(rows)
