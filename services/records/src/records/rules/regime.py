"""Which rule set applies to a grade in a school year (DOMAIN §1.1, §2.1).

One row per (rule set, grades, first school year); the row with the latest first year that has
started wins. Adding a rule set is a new module and rows here; no other rule set changes.
Historical records keep the rule set they were produced under: callers store its id and version.

Not implemented, so refused with ``rule-set-unavailable``: TT 30/2014 and TT 22/2016 (primary
before TT 27 reached the grade) and QĐ 40/2006 (secondary before TT 58/2011).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from records.domain.curriculum import level_of_grade
from records.domain.errors import DomainError
from records.rules.base import RuleSet, start_year
from records.rules.tt22 import TT22
from records.rules.tt27 import TT27
from records.rules.tt58 import TT58


@dataclass(frozen=True, slots=True)
class RegimeRow:
    rule_set: RuleSet
    grades: frozenset[int]
    from_year: int  # first school year it applies to, by its start: 2021 for 2021-2022


# [U] TT 58/2011 took effect 26/1/2012; its results are taken to apply from the 2011-12 year.
LEGACY_FROM: Final = 2011

REGIME_TABLE: Final[tuple[RegimeRow, ...]] = (
    RegimeRow(TT58, frozenset(range(6, 13)), LEGACY_FROM),
    # TT 22 rollout (Điều 21): 2021-22 grade 6; 2022-23 grades 7, 10; 2023-24 grades 8, 11;
    # 2024-25 grades 9, 12.
    RegimeRow(TT22, frozenset({6}), 2021),
    RegimeRow(TT22, frozenset({7, 10}), 2022),
    RegimeRow(TT22, frozenset({8, 11}), 2023),
    RegimeRow(TT22, frozenset({9, 12}), 2024),
    # TT 27 rollout: grade 1 in 2020-21, one more grade each year.
    RegimeRow(TT27, frozenset({1}), 2020),
    RegimeRow(TT27, frozenset({2}), 2021),
    RegimeRow(TT27, frozenset({3}), 2022),
    RegimeRow(TT27, frozenset({4}), 2023),
    RegimeRow(TT27, frozenset({5}), 2024),
)


def rule_set_for(grade: int, school_year: str) -> RuleSet:
    """The rule set for ``grade`` in ``school_year`` ("2025-2026").

    Raises ``DomainError("rule-set-unavailable")`` for primary grades before TT 27 reached them
    (TT 30/2014 is not implemented) and for secondary years before TT 58/2011.
    """
    level_of_grade(grade)
    year = start_year(school_year)
    rows = [r for r in REGIME_TABLE if grade in r.grades and r.from_year <= year]
    if not rows:
        raise DomainError(
            "rule-set-unavailable",
            "Hệ thống chưa hỗ trợ quy định đánh giá áp dụng cho khối lớp và năm học này",
            f"no rule set for grade {grade} in {school_year} "
            "(TT 30/2014, TT 22/2016 and QĐ 40/2006 are not implemented)",
        )
    return max(rows, key=lambda r: r.from_year).rule_set


def rule_sets() -> tuple[RuleSet, ...]:
    """Every known rule set once, in the order of the regime table."""
    seen: dict[str, RuleSet] = {}
    for row in REGIME_TABLE:
        seen.setdefault(row.rule_set.id, row.rule_set)
    return tuple(seen.values())
