"""The columns of each sheet a teacher fills in (sổ điểm), and which sheets a class has.

A sheet is one class × one subject (or the homeroom teacher's conduct or qualities sheet) × one
period. Its columns are fixed by the subject's form and the period:

- secondary subject, term: ``tx1`` … ``txN`` (regular, ĐĐGtx), ``gk`` (mid-term, ĐĐGgk),
  ``ck`` (end-of-term, ĐĐGck), ``nx`` (comment); scores for a scored subject, Đ/CĐ for a comment
  subject;
- secondary subject, summer: ``retest`` (kiểm tra lại) and ``nx``;
- primary subject, checkpoint: ``level`` (T/H/C), ``score`` where the grade has a periodic test
  at that checkpoint (whole numbers 1–10), ``nx``;
- conduct (``_conduct``, secondary, homeroom teacher): ``rating`` (T/K/Đ/CĐ) and ``nx`` per term,
  and in summer the re-rating after conduct training;
- qualities and competencies (``_qualities``, primary, homeroom teacher): one T/Đ/C column per
  quality and competency, and ``nx``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from records.domain.cells import CellKind
from records.domain.curriculum import (
    PRIMARY_CHECKPOINTS,
    AssessmentForm,
    Level,
    Period,
    SubjectSpec,
    periods_for,
)
from records.domain.errors import DomainError

CONDUCT_SHEET: Final = "_conduct"
QUALITIES_SHEET: Final = "_qualities"
HOMEROOM_SHEETS: Final = frozenset({CONDUCT_SHEET, QUALITIES_SHEET})

# (code, Vietnamese name): 5 qualities, 3 general and 7 specific competencies (TT 27, DOMAIN §2.4).
QUALITIES: Final = (
    ("yeu_nuoc", "Yêu nước"),
    ("nhan_ai", "Nhân ái"),
    ("cham_chi", "Chăm chỉ"),
    ("trung_thuc", "Trung thực"),
    ("trach_nhiem", "Trách nhiệm"),
)
GENERAL_COMPETENCIES: Final = (
    ("tu_chu_tu_hoc", "Tự chủ và tự học"),
    ("giao_tiep_hop_tac", "Giao tiếp và hợp tác"),
    ("giai_quyet_van_de", "Giải quyết vấn đề và sáng tạo"),
)
SPECIFIC_COMPETENCIES: Final = (
    ("ngon_ngu", "Ngôn ngữ"),
    ("tinh_toan", "Tính toán"),
    ("khoa_hoc", "Khoa học"),
    ("cong_nghe", "Công nghệ"),
    ("tin_hoc", "Tin học"),
    ("tham_mi", "Thẩm mĩ"),
    ("the_chat", "Thể chất"),
)
QUALITY_CRITERIA: Final = QUALITIES + GENERAL_COMPETENCIES + SPECIFIC_COMPETENCIES

COMMENT_COLUMN: Final = "nx"


@dataclass(frozen=True, slots=True)
class Column:
    code: str
    label_vi: str
    kind: CellKind


def _comment() -> Column:
    return Column(COMMENT_COLUMN, "Nhận xét", CellKind.COMMENT)


def subject_columns(subject: SubjectSpec, period: Period) -> tuple[Column, ...]:
    """Columns of a subject's sheet in a period; raises when the period does not fit the form."""
    if subject.form is AssessmentForm.PRIMARY:
        if period not in PRIMARY_CHECKPOINTS:
            raise _period_mismatch(subject.code, period)
        columns = [Column("level", "Mức đạt được", CellKind.SUBJECT_LEVEL)]
        if period in subject.tested_at:
            columns.append(Column("score", "Điểm KTĐK", CellKind.SCORE_INT))
        return (*columns, _comment())
    kind = CellKind.SCORE_1DP if subject.form is AssessmentForm.SCORE else CellKind.PASS_FAIL
    if period is Period.SUMMER:
        return (Column("retest", "Kiểm tra lại", kind), _comment())
    if period not in (Period.TERM_1, Period.TERM_2):
        raise _period_mismatch(subject.code, period)
    regular = tuple(
        Column(f"tx{i}", f"ĐĐGtx {i}", kind) for i in range(1, subject.regular_count + 1)
    )
    return (
        *regular,
        Column("gk", "ĐĐGgk", kind),
        Column("ck", "ĐĐGck", kind),
        _comment(),
    )


def homeroom_columns(sheet: str, level: Level, period: Period) -> tuple[Column, ...]:
    """Columns of the homeroom teacher's conduct (secondary) or qualities (primary) sheet."""
    if sheet == CONDUCT_SHEET and level is not Level.PRIMARY and period in periods_for(level):
        label = "Rèn luyện lại trong hè" if period is Period.SUMMER else "Kết quả rèn luyện"
        return (Column("rating", label, CellKind.CONDUCT_LEVEL), _comment())
    if sheet == QUALITIES_SHEET and level is Level.PRIMARY and period in PRIMARY_CHECKPOINTS:
        criteria = tuple(Column(c, n, CellKind.QUALITY_LEVEL) for c, n in QUALITY_CRITERIA)
        return (*criteria, _comment())
    raise DomainError(
        "sheet-not-found",
        "Lớp không có sổ này trong kỳ đã chọn",
        f"no {sheet} sheet for {level} in {period}",
    )


def _period_mismatch(code: str, period: Period) -> DomainError:
    return DomainError(
        "period-invalid",
        "Kỳ đánh giá không phù hợp với môn học",
        f"subject {code} has no sheet in {period}",
    )


def required_columns(columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """Columns a complete sheet has a value in: everything but comments (and summer retests)."""
    return tuple(c for c in columns if c.kind is not CellKind.COMMENT and c.code != "retest")
