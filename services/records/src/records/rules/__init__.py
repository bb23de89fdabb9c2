"""The Ministry of Education's assessment rules as pure functions (DOMAIN §1–§3).

``rule_set_for(grade, school_year)`` picks the regulation (TT 22/2021, TT 27/2020 or the legacy
TT 58/2011 + TT 26/2020); its ``compute(StudentInputs)`` turns a student's cells into
``Finding``s that name their clause, inputs and reason. No I/O, no floats.
"""

from records.rules.base import (
    Finding,
    RuleOptions,
    RuleSet,
    StudentInputs,
    StudentResults,
    round_half_up_1,
)
from records.rules.catalogue import default_curriculum
from records.rules.regime import rule_set_for, rule_sets

__all__ = [
    "Finding",
    "RuleOptions",
    "RuleSet",
    "StudentInputs",
    "StudentResults",
    "default_curriculum",
    "round_half_up_1",
    "rule_set_for",
    "rule_sets",
]
