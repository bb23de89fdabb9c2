"""A grade sheet exported to Excel, filled in by a teacher, and read back.

Edits are made the way a teacher's Excel would make them: the exported workbook is opened with
openpyxl, changed and saved. Positions are as a person sees them: the header is row 5, the first
student row 6; STT, Mã học sinh, Họ và tên, Ngày sinh are A–D and the sheet's columns start at E.
"""

from __future__ import annotations

import io
import unicodedata
import uuid
import zipfile
from collections.abc import Callable, Mapping
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from records.domain.cells import LEVEL_LABELS_VI, CellKind, expected_vi
from records.domain.curriculum import AssessmentForm, Level, Period, SubjectSpec
from records.domain.sheets import Column, homeroom_columns, subject_columns
from records.excel.grade_sheet import (
    XLSX_MEDIA_TYPE,
    GradeSheetView,
    SheetStudent,
    WorkbookInvalid,
    export_grade_sheet,
    parse_grade_sheet,
)

MATHS = SubjectSpec("toan", "Toán", AssessmentForm.SCORE, 140, 4)
COLUMNS = subject_columns(MATHS, Period.TERM_1)  # tx1..tx4 (E–H), gk (I), ck (J), nx (K)
CLASS_ID = uuid.UUID(int=6001)


def _student(n: int, name: str, *, born: bool = True) -> SheetStudent:
    birthday = date(2013, 1, n) if born else None
    return SheetStudent(uuid.UUID(int=n), n, name, birthday, f"75000{n:05d}")


STUDENTS = (
    _student(1, "Nguyễn Văn An"),
    _student(2, "Trần Thị Ánh"),
    _student(3, "Lê Bình", born=False),
    _student(4, "Phạm Minh Châu"),
)
AN, ANH, BINH, CHAU = (s.student_id for s in STUDENTS)
CELLS = {
    (AN, "tx1"): "7.5",
    (AN, "tx2"): "8.0",
    (AN, "gk"): "10.0",
    (AN, "nx"): "Chăm chỉ, tiến bộ",
    (ANH, "tx1"): "0.0",
    (ANH, "ck"): "6.3",
    (BINH, "nx"): "=Cần cố gắng",  # text that looks like a formula stays text
}


def _view(
    cells: Mapping[tuple[uuid.UUID, str], str] = CELLS,
    *,
    columns: tuple[Column, ...] = COLUMNS,
    students: tuple[SheetStudent, ...] = STUDENTS,
    sheet_key: str = f"{CLASS_ID}/toan/term_1",
    version: int = 7,
    title: str = "Toán",
) -> GradeSheetView:
    return GradeSheetView(
        school_name="Trường THCS Tân Phú",
        class_name="6A1",
        school_year="2025-2026",
        sheet_title_vi=title,
        period_label_vi="Học kỳ I",
        sheet_key=sheet_key,
        version=version,
        columns=columns,
        students=students,
        cells=cells,
    )


def _edited(data: bytes, edit: Callable[[Worksheet], object], *, sheet: str = "Bảng điểm") -> bytes:
    book = load_workbook(io.BytesIO(data))
    edit(book[sheet])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _typed(data: bytes, values: Mapping[str, str | float | None]) -> bytes:
    def edit(ws: Worksheet) -> None:
        for ref, value in values.items():
            ws[ref] = value

    return _edited(data, edit)


def _problems(data: bytes, view: GradeSheetView) -> list[tuple[int, str, str]]:
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, view)
    assert caught.value.code == "workbook-invalid"
    return [(p.row, p.column, p.code) for p in caught.value.problems]


def _all_cells(
    cells: Mapping[tuple[uuid.UUID, str], str], view: GradeSheetView
) -> dict[tuple[uuid.UUID, str], str | None]:
    return {
        (s.student_id, c.code): cells.get((s.student_id, c.code))
        for s in view.students
        for c in view.columns
    }


# --- the export


def test_the_export_has_the_layout_teachers_use() -> None:
    book = load_workbook(io.BytesIO(export_grade_sheet(_view())))
    sheet = book["Bảng điểm"]
    title = " ".join(str(sheet[f"A{r}"].value) for r in range(1, 4))
    for part in ("Trường THCS Tân Phú", "6A1", "Toán", "Học kỳ I", "2025-2026"):
        assert part in title
    headers = [c.value for c in sheet[5]]
    assert headers[:4] == ["STT", "Mã học sinh", "Họ và tên", "Ngày sinh"]
    assert headers[4:11] == [c.label_vi for c in COLUMNS]
    assert sheet.freeze_panes == "E6"
    assert [sheet.cell(row=6, column=i).value for i in (1, 2, 3)] == [
        1,
        "7500000001",
        "Nguyễn Văn An",
    ]
    assert sheet["D6"].value.date() == date(2013, 1, 1)
    assert sheet["D6"].number_format == "DD/MM/YYYY"
    assert sheet["E6"].value == 7.5
    assert sheet["E6"].number_format == "0.0"
    assert sheet["I6"].value == 10
    assert sheet["K8"].value == "=Cần cố gắng"
    assert sheet["K8"].data_type == "s"
    assert sheet.column_dimensions["C"].width >= 20
    assert sheet.column_dimensions["L"].hidden  # the row's student id travels with the row
    assert sheet["L6"].value == str(AN)


def test_the_export_hides_the_sheet_key_version_columns_and_students() -> None:
    book = load_workbook(io.BytesIO(export_grade_sheet(_view(version=42))))
    meta = book["_hsdt"]
    assert meta.sheet_state == "veryHidden"
    rows = {r[0]: r[1:] for r in meta.iter_rows(values_only=True)}
    assert rows["sheet_key"][0] == f"{CLASS_ID}/toan/term_1"
    assert rows["version"][0] == 42
    assert [c for c in rows["columns"] if c] == [c.code for c in COLUMNS]
    assert [s for s in rows["students"] if s] == [str(s.student_id) for s in STUDENTS]


def test_level_columns_show_teachers_labels_and_offer_a_list() -> None:
    columns = homeroom_columns("_conduct", Level.LOWER_SECONDARY, Period.TERM_1)
    view = _view({(AN, "rating"): "D", (ANH, "rating"): "CD"}, columns=columns)
    sheet = load_workbook(io.BytesIO(export_grade_sheet(view)))["Bảng điểm"]
    assert (sheet["E6"].value, sheet["E7"].value, sheet["E8"].value) == ("Đ", "CĐ", None)
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    (rating,) = lists
    assert rating.formula1 == '"T,K,Đ,CĐ"'
    assert str(rating.sqref) == "E6:E9"


def test_score_columns_have_a_number_rule() -> None:
    sheet = load_workbook(io.BytesIO(export_grade_sheet(_view())))["Bảng điểm"]
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["E6:E9"].type == "decimal"
    assert (rules["E6:E9"].formula1, rules["E6:E9"].formula2) == ("0", "10")


def test_the_media_type_is_xlsx() -> None:
    assert XLSX_MEDIA_TYPE == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- round trips


def test_an_untouched_export_reads_back_as_the_same_cells_and_version() -> None:
    view = _view()
    imported = parse_grade_sheet(export_grade_sheet(view), view)
    assert imported.sheet_key == view.sheet_key
    assert imported.version == 7
    assert imported.cells == _all_cells(CELLS, view)
    assert len(imported.cells) == len(STUDENTS) * len(COLUMNS)


def test_typed_and_cleared_cells_come_back_canonical_or_none() -> None:
    view = _view()
    data = _typed(
        export_grade_sheet(view),
        {"E6": None, "F6": "9,5", "K6": "  ", "G7": 9, "H8": "8", "E9": 6.5, "K9": " Tốt "},
    )
    imported = parse_grade_sheet(data, view)
    expected = _all_cells(CELLS, view)
    expected |= {(AN, "tx1"): None, (AN, "tx2"): "9.5", (AN, "nx"): None}
    expected |= {(ANH, "tx3"): "9.0", (BINH, "tx4"): "8.0", (CHAU, "tx1"): "6.5"}
    expected |= {(CHAU, "nx"): "Tốt"}
    assert imported.cells == expected


def test_rows_re_sorted_by_the_teacher_still_map_to_their_students() -> None:
    view = _view()

    def reverse_rows(ws: Worksheet) -> None:
        rows = [[(c.value, c.data_type) for c in ws[r]] for r in range(6, 10)]
        for r, values in zip(range(6, 10), reversed(rows), strict=True):
            for i, (value, data_type) in enumerate(values, start=1):
                cell = ws.cell(row=r, column=i)
                cell.value = value
                cell.data_type = data_type  # Excel moves text as text, "=…" included

    data = _edited(export_grade_sheet(view), reverse_rows)
    assert load_workbook(io.BytesIO(data))["Bảng điểm"]["C6"].value == "Phạm Minh Châu"
    assert parse_grade_sheet(data, view).cells == _all_cells(CELLS, view)


def test_level_cells_read_back_from_labels_and_words() -> None:
    columns = homeroom_columns("_conduct", Level.LOWER_SECONDARY, Period.TERM_2)
    view = _view({(AN, "rating"): "K"}, columns=columns)
    data = _typed(export_grade_sheet(view), {"E7": "Tốt", "E8": "CĐ", "E9": "đạt"})
    imported = parse_grade_sheet(data, view)
    assert [imported.cells[(s, "rating")] for s in (AN, ANH, BINH, CHAU)] == ["K", "T", "CD", "D"]


def test_a_sheet_without_students_round_trips() -> None:
    view = _view({}, students=())
    assert parse_grade_sheet(export_grade_sheet(view), view).cells == {}


# --- cells a teacher got wrong


def test_every_bad_cell_is_reported_at_once_by_row_and_column() -> None:
    view = _view()
    data = _typed(
        export_grade_sheet(view),
        {"E6": 7.25, "I7": 11, "J8": "X", "F9": "8.75", "G9": "Đ"},
    )
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, view)
    problems = caught.value.problems
    assert [(p.row, p.column, p.column_label_vi, p.code) for p in problems] == [
        (6, "E", "ĐĐGtx 1", "cell-invalid"),
        (7, "I", "ĐĐGgk", "cell-invalid"),
        (8, "J", "ĐĐGck", "cell-invalid"),
        (9, "F", "ĐĐGtx 2", "cell-invalid"),
        (9, "G", "ĐĐGtx 3", "cell-invalid"),
    ]
    expected = expected_vi(CellKind.SCORE_1DP)
    assert all(expected in p.message_vi for p in problems)
    assert "“7.25”" in problems[0].message_vi
    assert "“11”" in problems[1].message_vi
    assert "“Đ”" in problems[4].message_vi


def test_a_score_in_a_level_column_names_the_levels() -> None:
    columns = homeroom_columns("_conduct", Level.LOWER_SECONDARY, Period.TERM_1)
    view = _view({}, columns=columns)
    data = _typed(export_grade_sheet(view), {"E6": 8, "E9": "Giỏi"})
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, view)
    assert [(p.row, p.column) for p in caught.value.problems] == [(6, "E"), (9, "E")]
    assert all("T, K, Đ hoặc CĐ" in p.message_vi for p in caught.value.problems)


def test_a_primary_periodic_test_takes_whole_numbers_only() -> None:
    subject = SubjectSpec(
        "toan", "Toán", AssessmentForm.PRIMARY, None, 0, frozenset({Period.END_TERM_1})
    )
    columns = subject_columns(subject, Period.END_TERM_1)  # level (E), score (F), nx (G)
    view = _view({}, columns=columns)
    data = _typed(export_grade_sheet(view), {"E6": "H", "F6": 9, "F7": 8.5, "F8": 0})
    assert _problems(data, view) == [(7, "F", "cell-invalid"), (8, "F", "cell-invalid")]


# --- workbooks that are not this sheet's export


def test_a_workbook_of_another_sheet_is_refused() -> None:
    data = export_grade_sheet(_view(sheet_key=f"{CLASS_ID}/ngu_van/term_1", title="Ngữ văn"))
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, _view())
    (problem,) = caught.value.problems
    assert (problem.row, problem.column, problem.code) == (0, "", "sheet-mismatch")
    assert "Ngữ văn" in problem.message_vi


def test_a_workbook_without_the_hidden_sheet_is_refused() -> None:
    book = load_workbook(io.BytesIO(export_grade_sheet(_view())))
    del book["_hsdt"]
    out = io.BytesIO()
    book.save(out)
    assert _problems(out.getvalue(), _view()) == [(0, "", "not-a-grade-sheet")]


def test_a_tampered_hidden_version_is_refused() -> None:
    data = _edited(export_grade_sheet(_view()), lambda ws: ws.cell(3, 2, "bảy"), sheet="_hsdt")
    assert _problems(data, _view()) == [(0, "", "not-a-grade-sheet")]


def test_a_sheet_whose_columns_changed_since_the_export_is_refused() -> None:
    data = export_grade_sheet(_view())
    fewer = _view(columns=tuple(c for c in COLUMNS if c.code != "tx4"))
    assert _problems(data, fewer) == [(0, "", "columns-changed")]


def test_a_tampered_header_is_reported_by_its_column() -> None:
    data = _typed(export_grade_sheet(_view()), {"F5": "Điểm miệng", "C5": None})
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, _view())
    problems = caught.value.problems
    assert [(p.row, p.column, p.code) for p in problems] == [
        (5, "C", "header-changed"),
        (5, "F", "header-changed"),
    ]
    assert "ĐĐGtx 2" in problems[1].message_vi
    assert "Điểm miệng" in problems[1].message_vi


def test_an_inserted_column_is_a_changed_header() -> None:
    data = _edited(export_grade_sheet(_view()), lambda ws: ws.insert_cols(5))
    problems = _problems(data, _view())
    assert problems[0] == (5, "E", "header-changed")


def test_an_unknown_student_id_is_refused_with_its_row() -> None:
    data = _typed(export_grade_sheet(_view()), {"L7": str(uuid.uuid4())})
    problems = _problems(data, _view())
    assert (7, "", "student-unknown") in problems
    assert (0, "", "student-missing") in problems  # Trần Thị Ánh has no row any more


def test_students_who_joined_or_left_since_the_export_are_named() -> None:
    joined = _student(5, "Võ Thị Em")
    data = export_grade_sheet(_view())
    view = _view(students=(*STUDENTS[1:], joined))
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, view)
    missing, left = caught.value.problems  # file-wide problems first
    assert (left.row, left.code) == (6, "student-unknown")
    assert "không còn trong lớp" in left.message_vi
    assert (missing.row, missing.code) == (0, "student-missing")
    assert "Võ Thị Em (STT 5) vào lớp sau khi tải tệp này" in missing.message_vi


def test_a_copied_row_is_a_duplicate() -> None:
    def copy_row(ws: Worksheet) -> None:
        for i, cell in enumerate(ws[6], start=1):
            ws.cell(row=10, column=i, value=cell.value)

    data = _edited(export_grade_sheet(_view()), copy_row)
    assert _problems(data, _view()) == [(10, "", "student-duplicate")]


def test_a_deleted_student_row_is_missing() -> None:
    data = _edited(export_grade_sheet(_view()), lambda ws: ws.delete_rows(7))
    with pytest.raises(WorkbookInvalid) as caught:
        parse_grade_sheet(data, _view())
    (problem,) = caught.value.problems
    assert problem.code == "student-missing"
    assert "Trần Thị Ánh" in problem.message_vi


def test_a_new_row_with_scores_is_refused_but_a_note_below_is_not() -> None:
    view = _view()
    note = _typed(export_grade_sheet(view), {"C12": "Giáo viên bộ môn", "C13": "Lê Văn Hùng"})
    assert parse_grade_sheet(note, view).cells == _all_cells(CELLS, view)
    added = _typed(export_grade_sheet(view), {"A10": 5, "C10": "Học sinh mới", "E10": 8})
    assert _problems(added, view) == [(10, "", "row-unknown")]


def test_a_row_sorted_apart_from_its_hidden_id_is_caught_by_its_name() -> None:
    # Sorting only the visible columns leaves each id with another student's name.
    data = _typed(export_grade_sheet(_view()), {"C6": "Trần Thị Ánh", "C7": "Nguyễn Văn An"})
    assert _problems(data, _view()) == [(6, "C", "student-mismatch"), (7, "C", "student-mismatch")]


def test_a_name_in_nfd_is_the_same_name() -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn An")
    data = _typed(export_grade_sheet(_view()), {"C6": nfd})
    assert parse_grade_sheet(data, _view()).cells == _all_cells(CELLS, _view())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"STT,Ho va ten\n1,An\n",
        b"PK\x03\x04 not really a zip",
        b"%PDF-1.7",
    ],
)
def test_bytes_that_are_not_xlsx_are_refused(data: bytes) -> None:
    assert _problems(data, _view()) == [(0, "", "not-xlsx")]


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "xin chào")
    assert _problems(out.getvalue(), _view()) == [(0, "", "not-xlsx")]


def test_a_file_over_the_size_cap_is_refused_unread() -> None:
    assert _problems(b"PK" + b"\0" * (5 * 1024 * 1024), _view()) == [(0, "", "file-too-large")]


def test_too_many_rows_are_refused() -> None:
    def fill(ws: Worksheet) -> None:
        for r in range(10, 210):
            ws.cell(row=r, column=3, value=f"Học sinh {r}")

    data = _edited(export_grade_sheet(_view()), fill)
    assert _problems(data, _view()) == [(0, "", "too-many-rows")]


# --- any valid sheet round-trips

ALL_KINDS = tuple(Column(f"c{i}", f"Cột {i}", kind) for i, kind in enumerate(CellKind, start=1))


def _canonical(kind: CellKind) -> st.SearchStrategy[str]:
    if kind is CellKind.SCORE_1DP:
        return st.integers(0, 100).map(lambda n: f"{n // 10}.{n % 10}")
    if kind is CellKind.SCORE_INT:
        return st.integers(1, 10).map(str)
    if kind is CellKind.COMMENT:
        text = st.text(
            st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]),
            min_size=1,
            max_size=60,
        )
        return text.map(lambda t: unicodedata.normalize("NFC", t).strip()).filter(bool)
    return st.sampled_from(sorted(LEVEL_LABELS_VI[kind]))


@st.composite
def sheets(draw: st.DrawFn) -> tuple[GradeSheetView, dict[tuple[uuid.UUID, str], str]]:
    count = draw(st.integers(1, 6))
    students = tuple(_student(n, f"Học Sinh Số {n}") for n in range(1, count + 1))
    cells: dict[tuple[uuid.UUID, str], str] = {}
    for student in students:
        for column in ALL_KINDS:
            value = draw(st.none() | _canonical(column.kind))
            if value is not None:
                cells[(student.student_id, column.code)] = value
    version = draw(st.integers(0, 2**31))
    return _view(cells, columns=ALL_KINDS, students=students, version=version), cells


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets())
def test_any_sheet_of_valid_canonical_cells_round_trips(
    case: tuple[GradeSheetView, dict[tuple[uuid.UUID, str], str]],
) -> None:
    view, cells = case
    imported = parse_grade_sheet(export_grade_sheet(view), view)
    assert imported.version == view.version
    assert imported.cells == _all_cells(cells, view)
