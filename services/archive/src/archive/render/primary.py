"""Primary documents (TT 27/2020, grades 1–5, DOMAIN §2.8): the học bạ of one student and the
class's summary (bảng tổng hợp kết quả đánh giá giáo dục của lớp) at one checkpoint.

The học bạ prints the end-of-year checkpoint: each subject's level (mức đạt được), end-of-year
test score (điểm KTĐK) and comment, each quality and competency, the educational result, awards
and grade (or primary) completion. The homeroom teacher's one comment on qualities and
competencies prints under their table. The GVCN, the principal and the seal sign (no subject
teacher signs a primary record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from archive.render import blocks as b
from archive.render.catalogue import (
    GENERAL_COMPETENCIES,
    QUALITIES,
    QUALITY_LABELS,
    QUALITY_SHORT,
    SPECIFIC_COMPETENCIES,
    SUBJECT_LEVEL_SHORT,
    SubjectName,
    subject_name,
    subject_order,
)
from archive.render.common import (
    class_identity,
    identity_fields,
    legend,
    main_signers,
    student_list,
)
from archive.render.snapshot import SnapshotData, StudentRecord

QUALITIES_SHEET: Final = "_qualities"
END_YEAR: Final = "end_year"
# The checkpoint a locked period's class summary shows: records confirms term 1 at its end,
# term 2 at its middle (mid_term_2) and the year at its end.
CHECKPOINT_OF_PERIOD: Final = {"term_1": "end_term_1", "term_2": "mid_term_2", "year": END_YEAR}
CHECKPOINT_NAMES: Final = {
    "mid_term_1": "Giữa học kỳ I",
    "end_term_1": "Cuối học kỳ I",
    "mid_term_2": "Giữa học kỳ II",
    "end_year": "Cuối năm học",
}
CRITERIA_GROUPS: Final = (
    ("Phẩm chất chủ yếu", QUALITIES),
    ("Năng lực chung", GENERAL_COMPETENCIES),
    ("Năng lực đặc thù", SPECIFIC_COMPETENCIES),
)
LAST_PRIMARY_GRADE: Final = 5


@dataclass(frozen=True, slots=True)
class Subject:
    code: str
    name: SubjectName
    tested_at: frozenset[str]  # checkpoints with a periodic test (an input named "score")


def subjects_of(data: SnapshotData) -> list[Subject]:
    tested: dict[str, set[str]] = {}
    for student in data.students:
        for finding in student.findings:
            parts = finding.key.split(".")
            if len(parts) == 3 and parts[0] == "subject_level":
                marks = tested.setdefault(parts[2], set())
                if "score" in finding.inputs:
                    marks.add(parts[1])
    return [
        Subject(code, subject_name(data.rule_set, code), frozenset(tested[code]))
        for code in subject_order(data.rule_set, set(tested))
    ]


def _quality(student: StudentRecord, checkpoint: str, code: str, *, short: bool) -> str:
    raw = student.cell(QUALITIES_SHEET, checkpoint, code)
    if raw is None:
        return ""
    return (QUALITY_SHORT if short else QUALITY_LABELS).get(raw, raw)


def _completion_fields(data: SnapshotData, student: StudentRecord) -> list[tuple[str, str]]:
    items = [
        ("Đánh giá kết quả giáo dục", student.label("education_result")),
        ("Khen thưởng", student.label("award")),
        (f"Hoàn thành chương trình lớp {data.class_.grade}", student.label("grade_completion")),
    ]
    if data.class_.grade == LAST_PRIMARY_GRADE:
        items.append(("Hoàn thành chương trình tiểu học", student.label("primary_completion")))
    return items


def transcript(data: SnapshotData, student: StudentRecord, school_name: str) -> b.Body:
    subjects = subjects_of(data)
    subject_rows: list[list[b.Cell]] = [
        [
            b.span(s.name.name_vi, align="left"),
            student.label(f"subject_level.{END_YEAR}.{s.code}"),
            student.cell(s.code, END_YEAR, "score") or "",
            b.span(student.cell(s.code, END_YEAR, "nx") or "", align="left"),
        ]
        for s in subjects
    ]
    criteria_rows: list[list[b.Cell]] = []
    for group, criteria in CRITERIA_GROUPS:
        for i, (code, name) in enumerate(criteria):
            first = [b.span(group, rowspan=len(criteria), align="left")] if i == 0 else []
            criteria_rows.append(
                [*first, b.span(name, align="left"), _quality(student, END_YEAR, code, short=False)]
            )
    comment = student.cell(QUALITIES_SHEET, END_YEAR, "nx") or ""
    criteria_rows.append([b.span(f"Nhận xét: {b.nfc(comment)}", colspan=3, align="left")])
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
        b.heading("1. Các môn học và hoạt động giáo dục", 2),
        b.table(
            [150, 82, 48, "1fr"],
            [["Môn học và hoạt động giáo dục", "Mức đạt được", "Điểm KTĐK", "Nhận xét"]],
            subject_rows,
            align=["left", "center", "center", "left"],
        ),
        b.heading("2. Những phẩm chất chủ yếu và năng lực cốt lõi", 2),
        b.table(
            [120, 200, 90],
            [["", "Phẩm chất, năng lực", "Mức đạt được"]],
            criteria_rows,
            align=["left", "left", "center"],
        ),
        b.heading("3. Kết quả giáo dục, khen thưởng và hoàn thành chương trình", 2),
        b.fields(_completion_fields(data, student), columns=1),
    ]
    return b.Body(
        title="HỌC BẠ",
        subtitle="TIỂU HỌC",
        identity=identity_fields(student),
        blocks=body,
        main_slots=main_signers(),
    )


def _subjects_table(
    subjects: list[Subject], students: list[StudentRecord], checkpoint: str
) -> dict[str, Any]:
    top: list[b.Cell] = [b.span("STT", rowspan=2), b.span("Họ và tên", rowspan=2)]
    sub: list[b.Cell] = []
    for s in subjects:
        if checkpoint in s.tested_at:
            top.append(b.span(s.name.short_vi, colspan=2))
            sub += ["Mức", "Điểm"]
        else:
            top.append(b.span(s.name.short_vi, rowspan=2))
    rows = []
    for i, student in enumerate(students, start=1):
        row: list[b.Cell] = [str(i), b.span(student.full_name, align="left")]
        for s in subjects:
            raw = student.cell(s.code, checkpoint, "level") or ""
            row.append(SUBJECT_LEVEL_SHORT.get(raw, raw))
            if checkpoint in s.tested_at:
                row.append(student.cell(s.code, checkpoint, "score") or "")
        rows.append(row)
    columns = 2 + sum(2 if checkpoint in s.tested_at else 1 for s in subjects)
    widths: list[float | str] = [20, 130, *(["1fr"] * (columns - 2))]
    return b.table(widths, [top, sub], rows, align=["center", "left"] + ["center"] * (columns - 2))


def _criteria_table(students: list[StudentRecord], checkpoint: str) -> dict[str, Any]:
    top: list[b.Cell] = [b.span("STT", rowspan=2), b.span("Họ và tên", rowspan=2)]
    sub: list[b.Cell] = []
    codes: list[str] = []
    for group, criteria in CRITERIA_GROUPS:
        top.append(b.span(group, colspan=len(criteria)))
        sub += [name for _, name in criteria]
        codes += [code for code, _ in criteria]
    rows: list[list[b.Cell]] = [
        [
            str(i),
            b.span(s.full_name, align="left"),
            *[_quality(s, checkpoint, code, short=True) for code in codes],
        ]
        for i, s in enumerate(students, start=1)
    ]
    widths: list[float | str] = [20, 130, *(["1fr"] * len(codes))]
    align = ["center", "left"] + ["center"] * len(codes)
    return b.table(widths, [top, sub], rows, align=align, size=7.5)


def class_summary(data: SnapshotData, school_name: str) -> b.Body:
    """Bảng tổng hợp kết quả đánh giá giáo dục của lớp at the locked period's checkpoint."""
    subjects = subjects_of(data)
    students = data.in_name_order()
    checkpoint = CHECKPOINT_OF_PERIOD[data.period]
    body: list[dict[str, Any]] = [
        b.heading("Danh sách học sinh"),
        student_list(students),
        b.heading(f"1. Môn học và hoạt động giáo dục — {CHECKPOINT_NAMES[checkpoint]}"),
        _subjects_table(subjects, students, checkpoint),
        b.heading(f"2. Phẩm chất chủ yếu và năng lực cốt lõi — {CHECKPOINT_NAMES[checkpoint]}"),
        _criteria_table(students, checkpoint),
    ]
    if data.period == "year":
        last = data.class_.grade == LAST_PRIMARY_GRADE
        header = ["STT", "Họ và tên", "Đánh giá kết quả giáo dục", "Khen thưởng"]
        header += [f"Hoàn thành chương trình lớp {data.class_.grade}"]
        header += ["Hoàn thành chương trình tiểu học"] if last else []
        rows: list[list[b.Cell]] = [
            [
                str(i),
                b.span(s.full_name, align="left"),
                *[v for _, v in _completion_fields(data, s)],
            ]
            for i, s in enumerate(students, start=1)
        ]
        widths: list[float | str] = [20, 130, 120, "1fr", 100, *([100] if last else [])]
        body += [
            b.heading("3. Kết quả giáo dục cuối năm, khen thưởng, hoàn thành chương trình"),
            b.table(
                widths, [header], rows, align=["center", "left"] + ["center"] * (len(widths) - 2)
            ),
        ]
    body.append(
        legend(
            [f"{s.name.short_vi}: {s.name.name_vi}" for s in subjects if s.name.short_vi != s.code]
            + ["môn học: T: Hoàn thành tốt, H: Hoàn thành, C: Chưa hoàn thành"]
            + ["phẩm chất, năng lực: T: Tốt, Đ: Đạt, C: Cần cố gắng"]
            + ["Điểm: điểm kiểm tra định kỳ"]
        )
    )
    return b.Body(
        title="BẢNG TỔNG HỢP KẾT QUẢ ĐÁNH GIÁ GIÁO DỤC",
        subtitle=f"LỚP {b.nfc(data.class_.name)} — {CHECKPOINT_NAMES[checkpoint].upper()}",
        identity=class_identity(data, school_name),
        blocks=body,
        main_slots=main_signers(),
        landscape=True,
    )
