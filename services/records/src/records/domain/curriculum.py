"""The vocabulary of the 2018 programme the rest of records speaks: levels, periods, subjects.

A ``SubjectSpec`` is one subject as a school year's curriculum has it for one grade: how it is
assessed and, for scored and comment subjects, how many regular assessments (ĐĐGtx) a term
needs. The default catalogue lives in ``records.rules.catalogue``; a school year's curriculum is
stored (configurable per year), seeded from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from records.domain.errors import DomainError


class Level(StrEnum):
    """Cấp học."""

    PRIMARY = "primary"  # tiểu học, grades 1–5
    LOWER_SECONDARY = "lower_secondary"  # THCS, grades 6–9
    UPPER_SECONDARY = "upper_secondary"  # THPT, grades 10–12


GRADES: Final = range(1, 13)


def level_of_grade(grade: int) -> Level:
    if grade not in GRADES:
        raise DomainError("grade-invalid", "Khối lớp không hợp lệ", f"grade {grade} not in 1-12")
    if grade <= 5:
        return Level.PRIMARY
    return Level.LOWER_SECONDARY if grade <= 9 else Level.UPPER_SECONDARY


class AssessmentForm(StrEnum):
    """How a subject is assessed."""

    SCORE = "score"  # nhận xét kết hợp điểm số (secondary)
    COMMENT = "comment"  # đánh giá bằng nhận xét: Đạt / Chưa đạt (secondary)
    PRIMARY = "primary"  # mức đạt được T/H/C, with a periodic test score where the grade has one


class Period(StrEnum):
    """The period a sheet belongs to: terms for secondary, the four checkpoints for primary."""

    TERM_1 = "term_1"  # học kỳ I
    TERM_2 = "term_2"  # học kỳ II
    SUMMER = "summer"  # kiểm tra lại / rèn luyện trong hè (secondary, after the year)
    MID_TERM_1 = "mid_term_1"  # giữa học kỳ I (primary)
    END_TERM_1 = "end_term_1"  # cuối học kỳ I (primary)
    MID_TERM_2 = "mid_term_2"  # giữa học kỳ II (primary)
    END_YEAR = "end_year"  # cuối năm học (primary)


SECONDARY_PERIODS: Final = (Period.TERM_1, Period.TERM_2, Period.SUMMER)
PRIMARY_CHECKPOINTS: Final = (
    Period.MID_TERM_1,
    Period.END_TERM_1,
    Period.MID_TERM_2,
    Period.END_YEAR,
)


class Term(StrEnum):
    """Học kỳ: the unit teaching assignments and term dates are kept in."""

    TERM_1 = "term_1"
    TERM_2 = "term_2"


def term_of(period: Period) -> Term:
    """The term a sheet's period falls in; summer work belongs to the year's second half."""
    if period in (Period.TERM_1, Period.MID_TERM_1, Period.END_TERM_1):
        return Term.TERM_1
    return Term.TERM_2


def periods_for(level: Level) -> tuple[Period, ...]:
    return PRIMARY_CHECKPOINTS if level is Level.PRIMARY else SECONDARY_PERIODS


@dataclass(frozen=True, slots=True)
class SubjectSpec:
    """One subject (môn học / hoạt động giáo dục) of one grade in one school year."""

    code: str  # stable ascii slug, e.g. "toan", "ngu_van", "gdtc"
    name_vi: str
    form: AssessmentForm
    periods_per_year: int | None  # tiết/năm; None where the rules do not use it
    regular_count: int  # ĐĐGtx per term (secondary); 0 for primary
    tested_at: frozenset[Period] = frozenset()  # primary checkpoints with a periodic test
    elective: bool = False


def required_regular_count(
    form: AssessmentForm, periods_per_year: int | None, *, topic_cluster: bool = False
) -> int:
    """ĐĐGtx per term under TT 22 Điều 7 (DOMAIN §1.3).

    Comment-only subjects record 2. Scored subjects: ≤ 35 periods a year → 2, ≤ 70 → 3,
    more → 4; a THPT subject with topic clusters (cụm chuyên đề) records one more.
    """
    if form is AssessmentForm.PRIMARY:
        return 0
    if form is AssessmentForm.COMMENT:
        return 2
    if periods_per_year is None or periods_per_year <= 0:
        raise DomainError(
            "periods-invalid",
            "Số tiết/năm của môn học không hợp lệ",
            "a scored subject needs its periods per year",
        )
    base = 2 if periods_per_year <= 35 else 3 if periods_per_year <= 70 else 4
    return base + (1 if topic_cluster else 0)
