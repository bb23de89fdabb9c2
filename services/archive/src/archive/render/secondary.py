"""Secondary documents (TT 22/2021, grades 6–12; legacy TT 58/2011): the học bạ of one student
(DOMAIN §1.11) and the class's tracking book (sổ theo dõi và đánh giá học sinh).

Values are the snapshot's own: finding labels ("7.7", "Đạt", "Khá", "Học sinh Giỏi") and cell
values (scores; Đ/CĐ for comment subjects, as teachers write them). A result that was pending at
the lock, or a field the snapshot does not hold, prints blank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from archive.render import blocks as b
from archive.render.catalogue import (
    LEVEL_SHORT,
    PASS_FAIL_LABELS,
    PASS_FAIL_SHORT,
    SubjectName,
    subject_name,
    subject_order,
)
from archive.render.common import (
    PERIOD_NAMES,
    class_identity,
    identity_fields,
    legend,
    main_signers,
    student_list,
)
from archive.render.layout import subject_slot
from archive.render.snapshot import SnapshotData, StudentRecord

TERMS: Final = ("term_1", "term_2")
TERM_NAMES: Final = {"term_1": "Học kỳ I", "term_2": "Học kỳ II"}
_TX: Final = re.compile(r"^tx(\d+)$")
CONDUCT_SHEET: Final = "_conduct"


@dataclass(slots=True)
class Subject:
    code: str
    name: SubjectName
    scored: bool
    columns: dict[str, list[str]] = field(default_factory=dict)  # term → tx1..txN, gk, ck

    @property
    def result_key(self) -> str:
        return "subject_average" if self.scored else "subject_result"


def _column_order(column: str) -> tuple[int, int]:
    match = _TX.match(column)
    if match:
        return (0, int(match.group(1)))
    return (1, 0) if column == "gk" else (2, 0)


def subjects_of(data: SnapshotData) -> list[Subject]:
    """The subjects the snapshot's findings name, in catalogue order, with each term's columns
    (the finding's inputs name every required assessment, entered or not)."""
    found: dict[str, Subject] = {}
    columns: dict[tuple[str, str], set[str]] = {}
    for student in data.students:
        for finding in student.findings:
            parts = finding.key.split(".")
            if len(parts) != 3 or parts[0] not in ("subject_average", "subject_result"):
                continue
            kind, period, code = parts
            if code not in found:
                name = subject_name(data.rule_set, code)
                found[code] = Subject(code, name, kind == "subject_average")
            if period in TERMS:
                columns.setdefault((code, period), set()).update(finding.inputs)
    ordered = [found[c] for c in subject_order(data.rule_set, set(found))]
    for subject in ordered:
        for term in TERMS:
            subject.columns[term] = sorted(columns.get((subject.code, term), ()), key=_column_order)
    return ordered


def _terms(data: SnapshotData) -> tuple[str, ...]:
    return TERMS if data.period == "year" else (data.period,)


def _retest(student: StudentRecord, subject: Subject, *, short: bool) -> str:
    raw = student.cell(subject.code, "summer", "retest")
    if raw is None or subject.scored:
        return raw or ""
    return (PASS_FAIL_SHORT if short else PASS_FAIL_LABELS).get(raw, raw)


def _result_short(student: StudentRecord, subject: Subject, period: str) -> str:
    value = student.value(f"{subject.result_key}.{period}.{subject.code}")
    if value is None or subject.scored:
        return value or ""
    return PASS_FAIL_SHORT.get(value, value)


def _comments(student: StudentRecord, sheet: str) -> str:
    lines = []
    for period, prefix in (("term_1", "HK I"), ("term_2", "HK II"), ("summer", "Hè")):
        comment = student.cell(sheet, period, "nx")
        if comment:
            lines.append(f"{prefix}: {b.nfc(comment)}")
    return "\n".join(lines)


def _legacy(data: SnapshotData) -> bool:
    return data.rule_set == "tt58_2011"


def _level_title(grade: int) -> str:
    return "TRUNG HỌC CƠ SỞ" if grade <= 9 else "TRUNG HỌC PHỔ THÔNG"


def transcript(data: SnapshotData, student: StudentRecord, school_name: str) -> b.Body:
    """Học bạ THCS/THPT, one school year: subjects, then conduct, learning and the decisions."""
    subjects = subjects_of(data)
    legacy = _legacy(data)
    rows: list[list[b.Cell]] = [
        [
            b.span(s.name.name_vi, align="left"),
            student.label(f"{s.result_key}.term_1.{s.code}"),
            student.label(f"{s.result_key}.term_2.{s.code}"),
            student.label(f"{s.result_key}.year.{s.code}"),
            _retest(student, s, short=False),
            b.span(_comments(student, s.code), align="left"),
        ]
        for s in subjects
    ]
    result_rows: list[list[b.Cell]] = [
        [
            b.span(name, align="left"),
            student.label(f"conduct.{key}"),
            student.label(f"learning.{key}"),
            *([student.label(f"overall_average.{key}")] if legacy else []),
        ]
        for key, name in (("term_1", "Học kỳ I"), ("term_2", "Học kỳ II"), ("year", "Cả năm"))
    ]
    after = ("conduct.after_summer", "learning.after_summer")
    if any(student.finding(k) is not None for k in after):
        result_rows.append(
            [
                b.span("Sau rèn luyện, kiểm tra lại trong hè", align="left"),
                student.label(after[0]),
                student.label(after[1]),
                *([""] if legacy else []),
            ]
        )
    promotion = student.finding("promotion")
    absences = "" if promotion is None else b.nfc(promotion.inputs.get("absence_days"))
    conduct_title = "Hạnh kiểm" if legacy else "Kết quả rèn luyện"
    learning_title = "Học lực" if legacy else "Kết quả học tập"
    body = [
        b.heading(f"Năm học {data.school_year} — Lớp {b.nfc(data.class_.name)}"),
        b.fields(
            [
                ("Trường", school_name),
                ("Lớp", data.class_.name),
                ("Năm học", data.school_year),
                ("Khối", str(data.class_.grade)),
            ]
        ),
        b.heading("1. Kết quả học tập các môn học và hoạt động giáo dục", 2),
        b.table(
            [150, 42, 42, 42, 52, "1fr"],
            [
                [
                    b.span("Môn học, hoạt động giáo dục", rowspan=2),
                    b.span("Điểm trung bình hoặc mức đánh giá", colspan=3),
                    b.span("Sau kiểm tra, đánh giá lại", rowspan=2),
                    b.span("Nhận xét của giáo viên bộ môn", rowspan=2),
                ],
                ["HK I", "HK II", "Cả năm"],
            ],
            rows,
            align=["left", "center", "center", "center", "center", "left"],
        ),
        b.fields([("Số chỗ sửa chữa trong bảng (nếu có)", "")], columns=1, size=9),
        b.heading("2. Kết quả rèn luyện và học tập", 2),
        b.table(
            [150, 110, 110, *([90] if legacy else [])],
            [["Học kỳ", conduct_title, learning_title, *(["ĐTB các môn"] if legacy else [])]],
            result_rows,
            align=["left", "center", "center", *(["center"] if legacy else [])],
        ),
        b.fields(
            [
                ("Tổng số buổi nghỉ học cả năm học", absences),
                (
                    "Thuộc diện kiểm tra, đánh giá lại trong hè",
                    student.label("summer_reassessment"),
                ),
                ("Thuộc diện rèn luyện trong kỳ nghỉ hè", student.label("conduct_training")),
                ("Xét lên lớp, hoàn thành chương trình", student.label("promotion")),
                ("Khen thưởng", student.label("award")),
            ],
            columns=1,
        ),
        b.heading("3. Nhận xét của giáo viên chủ nhiệm", 2),
        b.text(_comments(student, CONDUCT_SHEET)),
    ]
    return b.Body(
        title="HỌC BẠ",
        subtitle=_level_title(data.class_.grade),
        identity=identity_fields(student),
        blocks=body,
        subject_slots=[subject_slot(s.code, s.name.name_vi) for s in subjects],
        main_slots=main_signers(),
    )


def _subject_table(
    data: SnapshotData, subject: Subject, students: list[StudentRecord]
) -> dict[str, Any]:
    terms = _terms(data)
    year = data.period == "year"
    header_top: list[b.Cell] = [b.span("STT", rowspan=2), b.span("Họ và tên", rowspan=2)]
    header_sub: list[b.Cell] = []
    widths: list[float | str] = [20, 120]
    result_name = "ĐTBmhk" if subject.scored else "KQ"
    for term in terms:
        cols = subject.columns[term]
        header_top.append(b.span(TERM_NAMES[term], colspan=len(cols) + 1))
        header_sub += [_column_header(c) for c in cols] + [result_name]
        widths += ["1fr"] * (len(cols) + 1)
    if year:
        header_top += [
            b.span("Cả năm", rowspan=2) if not subject.scored else b.span("ĐTBmcn", rowspan=2),
            b.span("KT lại", rowspan=2),
        ]
        widths += [42, 42]
    rows = []
    for i, student in enumerate(students, start=1):
        row: list[b.Cell] = [str(i), b.span(student.full_name, align="left")]
        for term in terms:
            for column in subject.columns[term]:
                raw = student.cell(subject.code, term, column) or ""
                row.append(raw if subject.scored else PASS_FAIL_SHORT.get(raw, raw))
            row.append(_result_short(student, subject, term))
        if year:
            row += [_result_short(student, subject, "year"), _retest(student, subject, short=True)]
        rows.append(row)
    align = ["center", "left"] + ["center"] * (len(widths) - 2)
    return b.table(widths, [header_top, header_sub], rows, align=align, size=8.5)


def _column_header(column: str) -> str:
    match = _TX.match(column)
    if match:
        return f"TX{match.group(1)}"
    return {"gk": "GK", "ck": "CK"}.get(column, column)


def tracking_book(data: SnapshotData, school_name: str) -> b.Body:
    """Sổ theo dõi và đánh giá học sinh (theo lớp): each subject's assessments and results, then
    the class's summary of subject results, conduct, learning and the year's decisions."""
    subjects = subjects_of(data)
    students = data.in_name_order()
    period = data.period
    body: list[dict[str, Any]] = [
        b.heading("Danh sách học sinh"),
        student_list(students),
    ]
    for subject in subjects:
        body.append(b.heading(f"Môn: {subject.name.name_vi}", 2))
        body.append(_subject_table(data, subject, students))
    key = "year" if period == "year" else period
    body += [
        b.pagebreak(),
        b.heading(f"Tổng hợp kết quả các môn học — {PERIOD_NAMES[period]}"),
        b.table(
            [20, 120, *(["1fr"] * len(subjects))],
            [["STT", "Họ và tên", *[s.name.short_vi for s in subjects]]],
            [
                [
                    str(i),
                    b.span(s.full_name, align="left"),
                    *[_result_short(s, subject, key) for subject in subjects],
                ]
                for i, s in enumerate(students, start=1)
            ],
            align=["center", "left"] + ["center"] * len(subjects),
            size=8.5,
        ),
        _results_table(data, students),
        legend(
            [f"{s.name.short_vi}: {s.name.name_vi}" for s in subjects if s.name.short_vi != s.code]
            + ["Đ: Đạt", "CĐ: Chưa đạt", "T: Tốt", "K: Khá"]
            + ["TX: đánh giá thường xuyên", "GK: giữa kỳ", "CK: cuối kỳ"]
        ),
    ]
    return b.Body(
        title="SỔ THEO DÕI VÀ ĐÁNH GIÁ HỌC SINH",
        subtitle=f"{_level_title(data.class_.grade)} — LỚP {b.nfc(data.class_.name)}",
        identity=class_identity(data, school_name),
        blocks=body,
        subject_slots=[subject_slot(s.code, s.name.name_vi) for s in subjects],
        main_slots=main_signers(),
        landscape=True,
    )


def _short(student: StudentRecord, key: str) -> str:
    value = student.value(key)
    return "" if value is None else LEVEL_SHORT.get(value, value)


def _results_table(data: SnapshotData, students: list[StudentRecord]) -> dict[str, Any]:
    terms = _terms(data)
    keys = [*terms, "year"] if data.period == "year" else list(terms)
    names = {"term_1": "HK I", "term_2": "HK II", "year": "CN"}
    legacy = _legacy(data)
    header_top: list[b.Cell] = [
        b.span("STT", rowspan=2),
        b.span("Họ và tên", rowspan=2),
        b.span("Hạnh kiểm" if legacy else "Rèn luyện", colspan=len(keys)),
        b.span("Học lực" if legacy else "Học tập", colspan=len(keys)),
    ]
    sub = [names[k] for k in keys] * 2
    widths: list[float | str] = [20, 120, *([30] * (2 * len(keys)))]
    year = data.period == "year"
    if year:
        sub += ["RL", "HT"]
        header_top += [
            b.span("Sau hè", colspan=2),
            b.span("Nghỉ (buổi)", rowspan=2),
            b.span("Xét lên lớp, hoàn thành chương trình", rowspan=2),
            b.span("Khen thưởng", rowspan=2),
        ]
        widths += [28, 28, 36, "1fr", 90]
    rows = []
    for i, s in enumerate(students, start=1):
        row: list[b.Cell] = [str(i), b.span(s.full_name, align="left")]
        row += [_short(s, f"conduct.{k}") for k in keys]
        row += [_short(s, f"learning.{k}") for k in keys]
        if year:
            promotion = s.finding("promotion")
            absences = "" if promotion is None else promotion.inputs.get("absence_days") or ""
            row += [
                _short(s, "conduct.after_summer"),
                _short(s, "learning.after_summer"),
                absences,
                s.label("promotion"),
                s.label("award"),
            ]
        rows.append(row)
    align = ["center", "left"] + ["center"] * (len(widths) - 2)
    return b.table(widths, [header_top, sub], rows, align=align, size=8.5)
