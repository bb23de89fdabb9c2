"""Pieces every document body shares: the student's identity, the class's, the student list,
legends and the main signers."""

from __future__ import annotations

from typing import Any, Final

from archive.render import blocks as b
from archive.render.catalogue import GENDER_LABELS, rule_set_title
from archive.render.layout import HOMEROOM, LEADER, SEAL, SlotSpec
from archive.render.snapshot import SnapshotData, StudentRecord

PERIOD_NAMES: Final = {"term_1": "Học kỳ I", "term_2": "Học kỳ II", "year": "Cả năm học"}
LEFT_NOTE: Final = "Không còn trong lớp cuối kỳ"


def gender(student: StudentRecord) -> str:
    return GENDER_LABELS.get(student.gender or "", b.nfc(student.gender))


def identity_fields(student: StudentRecord) -> dict[str, Any]:
    """The học bạ's identity lines. The snapshot holds name, gender, birth date and the student
    code; the others (from the birth certificate and the enrolment register) print blank."""
    return b.fields(
        [
            ("Họ và tên", student.full_name),
            ("Giới tính", gender(student)),
            ("Ngày sinh", b.vn_date(student.date_of_birth)),
            ("Mã học sinh", student.student_code or ""),
            ("Nơi sinh", ""),
            ("Dân tộc", ""),
            ("Số định danh cá nhân", ""),
            ("Số đăng bộ", ""),
            ("Chỗ ở hiện nay", ""),
            ("Họ và tên cha", ""),
            ("Họ và tên mẹ", ""),
            ("Người giám hộ", ""),
        ]
    )


def class_identity(data: SnapshotData, school_name: str) -> dict[str, Any]:
    at_end = sum(1 for s in data.students if s.in_class_at_end)
    return b.fields(
        [
            ("Trường", school_name),
            ("Lớp", data.class_.name),
            ("Năm học", data.school_year),
            ("Khối", str(data.class_.grade)),
            ("Kỳ đánh giá", PERIOD_NAMES[data.period]),
            ("Giáo viên chủ nhiệm", ""),
            ("Số học sinh cuối kỳ", f"{at_end} / {len(data.students)} trong sổ"),
            ("Dữ liệu khóa sổ", f"phiên bản {data.version}"),
            ("Quy định đánh giá", rule_set_title(data.rule_set, data.rule_version)),
        ]
    )


def student_list(students: list[StudentRecord]) -> dict[str, Any]:
    return b.table(
        [20, 160, 70, 50, 110, "1fr"],
        [["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Mã học sinh", "Ghi chú"]],
        [
            [
                str(i),
                b.span(s.full_name, align="left"),
                b.vn_date(s.date_of_birth),
                gender(s),
                s.student_code or "",
                b.span("" if s.in_class_at_end else LEFT_NOTE, align="left"),
            ]
            for i, s in enumerate(students, start=1)
        ],
        align=["center", "left", "center", "center", "center", "left"],
    )


def legend(items: list[str]) -> dict[str, Any]:
    return b.text("Ghi chú: " + "; ".join(items) + ".", size=8, italic=True)


def main_signers() -> list[SlotSpec]:
    return [HOMEROOM, LEADER, SEAL]
