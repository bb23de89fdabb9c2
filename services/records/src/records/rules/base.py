"""What every rule set shares: its inputs, its explained results, options and rounding.

A rule set turns the cells of one student's school year (``StudentInputs``) into ``Finding``s:
each computed result carries the clause it rests on, the values it used and one Vietnamese
sentence naming the deciding fact, so a printed học bạ or a complaint can be answered from it.

Arithmetic is exact: scores are read as ``Decimal`` and averaged as ``Fraction`` (a ratio of
integers, never a binary float), then rounded half up to one decimal place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Final, Protocol

from records.domain.curriculum import SubjectSpec
from records.domain.errors import DomainError

ONE_DECIMAL: Final = Decimal("0.1")
PENDING_LABEL_VI: Final = "Chưa đủ dữ liệu"
_SCORE_MAX: Final = Decimal(10)
_YEAR: Final = re.compile(r"^(\d{4})-(\d{2}|\d{4})$")


def round_half_up_1(value: Decimal) -> Decimal:
    """One decimal place, half up: 7.65 → 7.7, 7.6875 → 7.7, 7.64 → 7.6 (DOMAIN §1.2)."""
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def round_exact_1(value: Fraction) -> Decimal:
    """An exact ratio rounded half up to one decimal place, as a ``Decimal`` like ``7.7``."""
    tenths = math.floor(value * 10 + Fraction(1, 2))
    return (Decimal(tenths) / 10).quantize(ONE_DECIMAL)


def start_year(school_year: str) -> int:
    """2025 for "2025-2026" (or "2025-26"); refuses anything that is not two consecutive years."""
    match = _YEAR.match(school_year.strip())
    if match is not None:
        first = int(match.group(1))
        second = match.group(2)
        expected = str(first + 1)
        if second in (expected, expected[-2:]):
            return first
    raise DomainError(
        "school-year-invalid",
        "Năm học không hợp lệ",
        f"{school_year!r} is not a school year like 2025-2026",
    )


def parse_score(raw: str, where: str) -> Decimal:
    """A canonical score cell ("7.5") as a Decimal; anything else is refused, never guessed."""
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > _SCORE_MAX:
        raise DomainError("cell-invalid", "Giá trị điểm không hợp lệ", f"{where}: {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """The unconfirmed ([U]) and secondary-source ([S]) facts of DOMAIN.md, as settings.

    The defaults are the likely values; a Sở that confirms otherwise changes them per deployment.
    """

    # DOMAIN §1.5 [S]: the year average (ĐTBmcn) from rounded term averages (ĐTBmhk).
    year_average_from_rounded_terms: bool = True
    # DOMAIN §1.9, §3: more than this many days (buổi) absent → not promoted (secondary).
    absence_limit_days: int = 45
    # DOMAIN §2.5 [S]: the lowest end-of-year test score for "Hoàn thành" (TT 27).
    primary_completion_min_score: int = 5
    # DOMAIN §1.7, §8 q.4: TT 22 Điều 9 "mức liền kề" = one level above the computed result
    # (True) or the level just below the would-be level (False). Differs only for Tốt→Chưa đạt.
    adjustment_one_level_up: bool = True


DEFAULT_OPTIONS: Final = RuleOptions()


@dataclass(frozen=True, slots=True)
class StudentInputs:
    """One student's school year as the teachers entered it."""

    grade: int
    school_year: str  # "2025-2026"
    subjects: tuple[SubjectSpec, ...]  # the grade's curriculum this year
    cells: Mapping[tuple[str, str, str], str]  # (sheet, period, column) → canonical value
    absence_days: int | None = None  # excused + unexcused days in the year; None = unknown
    outstanding_vote: bool = False  # TT 27 "Học sinh tiêu biểu": class vote + outstanding/progress

    def cell(self, sheet: str, period: str, column: str) -> str | None:
        return self.cells.get((sheet, period, column))


@dataclass(frozen=True, slots=True)
class Finding:
    """One computed result that explains itself."""

    key: str
    value: str | None  # canonical result code; None while the inputs are incomplete
    label_vi: str
    rule_set: str
    rule_version: str
    clause: str
    inputs: Mapping[str, str | None]
    reason_vi: str


@dataclass(frozen=True, slots=True)
class StudentResults:
    rule_set: str
    rule_version: str
    findings: tuple[Finding, ...]

    def get(self, key: str) -> Finding | None:
        return next((f for f in self.findings if f.key == key), None)

    def value(self, key: str) -> str | None:
        """The value of ``key``; raises ``KeyError`` when the rule set has no such finding."""
        finding = self.get(key)
        if finding is None:
            raise KeyError(key)
        return finding.value


class RuleSet(Protocol):
    """One regulation's assessment rules; selected per grade and school year by ``regime``."""

    id: str
    version: str
    title_vi: str

    def compute(
        self, inputs: StudentInputs, options: RuleOptions = DEFAULT_OPTIONS
    ) -> StudentResults: ...


class Recorder:
    """Collects the findings of one computation, stamped with the rule set's id and version."""

    def __init__(self, rule_set: str, version: str) -> None:
        self.rule_set = rule_set
        self.version = version
        self.findings: list[Finding] = []

    def add(  # noqa: PLR0917 - one parameter per field of a Finding
        self,
        key: str,
        value: str | None,
        label_vi: str,
        clause: str,
        inputs: Mapping[str, str | None],
        reason_vi: str,
    ) -> str | None:
        label = PENDING_LABEL_VI if value is None else label_vi
        self.findings.append(
            Finding(key, value, label, self.rule_set, self.version, clause, dict(inputs), reason_vi)
        )
        return value

    def results(self) -> StudentResults:
        return StudentResults(self.rule_set, self.version, tuple(self.findings))


def names_vi(codes: list[str], subjects: Mapping[str, SubjectSpec]) -> str:
    """ "Toán, Ngữ văn" for ["toan", "ngu_van"]; unknown codes as they are."""
    return ", ".join(subjects[c].name_vi if c in subjects else c for c in codes)
