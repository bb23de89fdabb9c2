"""What each rendered PDF says, read back with poppler's ``pdftotext -layout``: the names, the
school, the class, and every rating, score and comment of the snapshot that the layout shows,
each spelled exactly (a lost Vietnamese diacritic fails the match).

The expected strings are built here from the raw snapshot JSON, not from the renderer's view:
a table row is expected as its cells in order, blanks left out, whitespace collapsed.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import pytest

from archive.render import DocumentRef, RenderedDocument, render_transcript
from archive.render.catalogue import (
    GENERAL_COMPETENCIES,
    QUALITIES,
    SPECIFIC_COMPETENCIES,
    subject_name,
    subject_order,
)
from archive.render.snapshot import canonical_json, sha256_hex
from archive.render.testing import Rendered, collapsed, pdftotext

PASS_FAIL_SHORT: Final = {"D": "Đ", "CD": "CĐ"}
PASS_FAIL_LABEL: Final = {"D": "Đạt", "CD": "Chưa đạt"}
LEVEL_SHORT: Final = {"T": "T", "K": "K", "D": "Đ", "CD": "CĐ"}
QUALITY_LABEL: Final = {"T": "Tốt", "D": "Đạt", "C": "Cần cố gắng"}
QUALITY_SHORT: Final = {"T": "T", "D": "Đ", "C": "C"}
CRITERIA: Final = QUALITIES + GENERAL_COMPETENCIES + SPECIFIC_COMPETENCIES
# The class lists in Vietnamese order: given name, then family name, then middle names.
SECONDARY_ORDER: Final = [
    "Phạm Quỳnh Anh",
    "Bùi Tiến Dũng",
    "Đặng Thị Ngọc Hằng",
    "Võ Thị Thu Hường",
    "Trần Đức Thắng",
    "Nguyễn Thị Ánh Tuyết",
    "Hoàng Văn Ước",
    "Lê Hoàng Yến",
]
PRIMARY_ORDER: Final = [
    "Trịnh Thị Ngọc Ánh",
    "Ngô Bảo Châu",
    "Đỗ Minh Khôi",
    "Lương Thị Diệu Linh",
    "Vũ Đình Phúc",
    "Mạc Thị Hải Yến",
]
_TX: Final = re.compile(r"^tx(\d+)$")
AT: Final = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)


class Student:
    """A student of the raw snapshot, with lookups."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.name: str = raw["full_name"]
        self.cells = {(c["sheet"], c["period"], c["column"]): c["value"] for c in raw["cells"]}
        self.findings = {f["key"]: f for f in raw["findings"]}

    def cell(self, sheet: str, period: str, column: str) -> str:
        return str(self.cells.get((sheet, period, column)) or "")

    def value(self, key: str) -> str:
        found = self.findings.get(key)
        return "" if found is None or found["value"] is None else str(found["value"])

    def label(self, key: str) -> str:
        found = self.findings.get(key)
        return "" if found is None or found["value"] is None else str(found["label_vi"])


def row(*cells: str) -> str:
    return collapsed(" ".join(c for c in cells if c))


def check(document: RenderedDocument, expected: list[str]) -> None:
    """Every expected string is in the text (whitespace collapsed); the text lost nothing."""
    text = pdftotext(document.pdf)
    assert "\ufffd" not in text
    assert unicodedata.is_normalized("NFC", text)
    flat = collapsed(text)
    missing = [e for e in expected if collapsed(e) not in flat]
    assert not missing, f"{document.title}: not printed: {missing}"


def class_heads(rendered: Rendered) -> list[str]:
    data = rendered.data
    return [rendered.school.name, data["class"]["name"], data["school_year"]]


def secondary_subjects(rendered: Rendered) -> list[tuple[str, bool]]:
    """(code, scored) of the subjects the findings name, in the printed order."""
    forms: dict[str, bool] = {}
    for student in rendered.data["students"]:
        for finding in student["findings"]:
            kind, _, code = [*finding["key"].split("."), "", ""][:3]
            if kind in ("subject_average", "subject_result"):
                forms[code] = kind == "subject_average"
    order = subject_order(rendered.data["rule_set"], set(forms))
    return [(code, forms[code]) for code in order]


def secondary_transcript_lines(rendered: Rendered, s: Student) -> list[str]:
    rule_set = rendered.data["rule_set"]
    lines = [s.name, *class_heads(rendered)]
    for code, scored in secondary_subjects(rendered):
        kind = "subject_average" if scored else "subject_result"
        retest = s.cell(code, "summer", "retest")
        lines.append(
            row(
                subject_name(rule_set, code).name_vi,
                s.label(f"{kind}.term_1.{code}"),
                s.label(f"{kind}.term_2.{code}"),
                s.label(f"{kind}.year.{code}"),
                retest if scored else PASS_FAIL_LABEL.get(retest, retest),
            )
        )
        for period, prefix in (("term_1", "HK I"), ("term_2", "HK II"), ("summer", "Hè")):
            if comment := s.cell(code, period, "nx"):
                lines.append(f"{prefix}: {comment}")
    for key, name in (("term_1", "Học kỳ I"), ("term_2", "Học kỳ II"), ("year", "Cả năm")):
        lines.append(row(name, s.label(f"conduct.{key}"), s.label(f"learning.{key}")))
    if "conduct.after_summer" in s.findings or "learning.after_summer" in s.findings:
        lines.append(
            row(
                "Sau rèn luyện, kiểm tra lại trong hè",
                s.label("conduct.after_summer"),
                s.label("learning.after_summer"),
            )
        )
    absences = s.findings["promotion"]["inputs"]["absence_days"]
    lines += [
        f"Tổng số buổi nghỉ học cả năm học: {absences}",
        f"Thuộc diện kiểm tra, đánh giá lại trong hè: {s.label('summer_reassessment')}",
        f"Thuộc diện rèn luyện trong kỳ nghỉ hè: {s.label('conduct_training')}",
        f"Xét lên lớp, hoàn thành chương trình: {s.label('promotion')}",
        f"Khen thưởng: {s.label('award')}",
    ]
    for period, prefix in (("term_1", "HK I"), ("term_2", "HK II"), ("summer", "Hè")):
        if comment := s.cell("_conduct", period, "nx"):
            lines.append(f"{prefix}: {comment}")
    return lines


def primary_subjects(rendered: Rendered, checkpoint: str) -> list[tuple[str, bool]]:
    """(code, tested at ``checkpoint``) in the printed order."""
    tested: dict[str, bool] = {}
    for student in rendered.data["students"]:
        for finding in student["findings"]:
            parts = finding["key"].split(".")
            if parts[0] == "subject_level":
                tested.setdefault(parts[2], False)
                if parts[1] == checkpoint and "score" in finding["inputs"]:
                    tested[parts[2]] = True
    return [(c, tested[c]) for c in subject_order(rendered.data["rule_set"], set(tested))]


def primary_transcript_lines(rendered: Rendered, s: Student) -> list[str]:
    rule_set = rendered.data["rule_set"]
    grade = rendered.data["class"]["grade"]
    lines = [s.name, *class_heads(rendered)]
    for code, _ in primary_subjects(rendered, "end_year"):
        lines.append(
            row(
                subject_name(rule_set, code).name_vi,
                s.label(f"subject_level.end_year.{code}"),
                s.cell(code, "end_year", "score"),
                s.cell(code, "end_year", "nx"),
            )
        )
    for code, name in CRITERIA:
        lines.append(row(name, QUALITY_LABEL[s.cell("_qualities", "end_year", code)]))
    lines += [
        f"Nhận xét: {s.cell('_qualities', 'end_year', 'nx')}",
        f"Đánh giá kết quả giáo dục: {s.label('education_result')}",
        f"Khen thưởng: {s.label('award')}",
        f"Hoàn thành chương trình lớp {grade}: {s.label('grade_completion')}",
        f"Hoàn thành chương trình tiểu học: {s.label('primary_completion')}",
    ]
    return lines


def ordered_students(rendered: Rendered, order: list[str]) -> list[Student]:
    by_name = {s["full_name"]: Student(s) for s in rendered.data["students"]}
    assert sorted(by_name) == sorted(order)
    return [by_name[name] for name in order]


def test_each_secondary_transcript_prints_its_students_results(secondary: Rendered) -> None:
    documents = secondary.transcripts()
    assert len(documents) == 7
    for document in documents:
        assert document.student_id is not None
        student = Student(secondary.student(document.student_id))
        check(document, secondary_transcript_lines(secondary, student))


def test_each_primary_transcript_prints_its_students_results(primary: Rendered) -> None:
    documents = primary.transcripts()
    assert len(documents) == 5
    for document in documents:
        assert document.student_id is not None
        student = Student(primary.student(document.student_id))
        check(document, primary_transcript_lines(primary, student))


def _columns(rendered: Rendered, code: str, term: str) -> list[str]:
    found = {
        column
        for s in rendered.data["students"]
        for c in s["cells"]
        if c["sheet"] == code and c["period"] == term
        for column in [c["column"]]
        if _TX.match(column) or column in ("gk", "ck")
    }

    def order(column: str) -> tuple[int, int]:
        match = _TX.match(column)
        return (0, int(match.group(1))) if match else ((1, 0) if column == "gk" else (2, 0))

    return sorted(found, key=order)


def test_the_tracking_book_prints_every_assessment_of_every_student(secondary: Rendered) -> None:
    students = ordered_students(secondary, SECONDARY_ORDER)
    lines = [*class_heads(secondary)]
    lines += [row(str(i), s.name) for i, s in enumerate(students, start=1)]
    subjects = secondary_subjects(secondary)
    for code, scored in subjects:
        kind = "subject_average" if scored else "subject_result"
        columns = {term: _columns(secondary, code, term) for term in ("term_1", "term_2")}
        for i, s in enumerate(students, start=1):
            cells: list[str] = []
            for term in ("term_1", "term_2"):
                for column in columns[term]:
                    value = s.cell(code, term, column)
                    cells.append(value if scored else PASS_FAIL_SHORT.get(value, value))
                value = s.value(f"{kind}.{term}.{code}")
                cells.append(value if scored else PASS_FAIL_SHORT.get(value, value))
            year = s.value(f"{kind}.year.{code}")
            retest = s.cell(code, "summer", "retest")
            cells += [
                year if scored else PASS_FAIL_SHORT.get(year, year),
                retest if scored else PASS_FAIL_SHORT.get(retest, retest),
            ]
            lines.append(row(str(i), s.name, *cells))
    for i, s in enumerate(students, start=1):
        years = []
        for code, scored in subjects:
            year = s.value(f"{'subject_average' if scored else 'subject_result'}.year.{code}")
            years.append(year if scored else PASS_FAIL_SHORT.get(year, year))
        lines.append(row(str(i), s.name, *years))
        keys = ("term_1", "term_2", "year")
        promotion = s.findings["promotion"]
        lines.append(
            row(
                str(i),
                s.name,
                *[LEVEL_SHORT.get(s.value(f"conduct.{k}"), "") for k in keys],
                *[LEVEL_SHORT.get(s.value(f"learning.{k}"), "") for k in keys],
                LEVEL_SHORT.get(s.value("conduct.after_summer"), ""),
                LEVEL_SHORT.get(s.value("learning.after_summer"), ""),
                promotion["inputs"]["absence_days"] or "",
                s.label("promotion"),
                s.label("award"),
            )
        )
    check(secondary.class_document(), lines)


def test_the_class_summary_prints_every_level_score_and_result(primary: Rendered) -> None:
    students = ordered_students(primary, PRIMARY_ORDER)
    lines = [*class_heads(primary)]
    lines += [row(str(i), s.name) for i, s in enumerate(students, start=1)]
    subjects = primary_subjects(primary, "end_year")
    for i, s in enumerate(students, start=1):
        cells = []
        for code, tested in subjects:
            cells.append(s.cell(code, "end_year", "level"))
            if tested:
                cells.append(s.cell(code, "end_year", "score"))
        lines.append(row(str(i), s.name, *cells))
        criteria = [
            QUALITY_SHORT.get(s.cell("_qualities", "end_year", code), "") for code, _ in CRITERIA
        ]
        lines.append(row(str(i), s.name, *criteria))
        lines.append(
            row(
                str(i),
                s.name,
                s.label("education_result"),
                s.label("award"),
                s.label("grade_completion"),
                s.label("primary_completion"),
            )
        )
    check(primary.class_document(), lines)


def test_class_documents_list_students_in_vietnamese_name_order(rendered: Rendered) -> None:
    order = PRIMARY_ORDER if rendered.name == "primary" else SECONDARY_ORDER
    text = collapsed(pdftotext(rendered.class_document().pdf))
    positions = [text.index(f"{i} {name}") for i, name in enumerate(order, start=1)]
    assert positions == sorted(positions)
    names = [
        rendered.student(d.student_id)["full_name"]
        for d in rendered.transcripts()
        if d.student_id is not None
    ]
    assert names == [n for n in order if n in names]


def test_what_the_snapshot_lacks_prints_blank_not_invented(secondary: Rendered) -> None:
    document = secondary.transcripts()[0]
    text = collapsed(pdftotext(document.pdf))
    # Birth place, ethnicity and the parents are not in the snapshot: dotted lines, no value.
    for label in ("Nơi sinh:", "Dân tộc:", "Họ và tên cha:", "Số định danh cá nhân:"):
        after = text.split(label, 1)[1].lstrip()
        assert after.startswith("."), (label, after[:40])
    assert "Xã Bình Lâm" not in text  # records holds it; the snapshot does not carry it


def test_a_student_not_in_the_snapshot_is_refused(secondary: Rendered) -> None:
    ref = DocumentRef(uuid.uuid4(), "transcript", "https://hocba.binhlam.edu.vn/x")
    with pytest.raises(KeyError):
        render_transcript(secondary.snapshot, uuid.uuid4(), secondary.school, ref)


def test_text_prints_literally_and_in_nfc(secondary: Rendered) -> None:
    """A comment is text, never typst markup; a decomposed (NFD) name prints composed."""
    data = json.loads(json.dumps(secondary.data))
    student = next(s for s in data["students"] if s["in_class_at_end"])
    comment = "Điểm #1: *tốt*, $x$ [a] <b> @c `d` \\ _e_ // f"
    student["full_name"] = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Tuyết")
    student["cells"] = [
        c
        for c in student["cells"]
        if not (c["sheet"] == "toan" and c["period"] == "term_1" and c["column"] == "nx")
    ] + [{"sheet": "toan", "period": "term_1", "column": "nx", "value": comment}]
    changed = secondary.snapshot.model_copy(
        update={"data": data, "data_sha256": sha256_hex(canonical_json(data))}
    )
    ref = DocumentRef(uuid.uuid4(), "transcript", "https://hocba.binhlam.edu.vn/x")
    document = render_transcript(
        changed, uuid.UUID(student["student_id"]), secondary.school, ref, at=AT
    )
    text = collapsed(pdftotext(document.pdf))
    assert f"HK I: {comment}" in text
    assert "Nguyễn Thị Ánh Tuyết" in text
    assert unicodedata.is_normalized("NFC", text)
