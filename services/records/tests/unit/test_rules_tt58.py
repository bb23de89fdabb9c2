"""Legacy TT 58/2011 + TT 26/2020 (hạnh kiểm / học lực): DOMAIN §3.

Requirement ids: R17 (ratings, promotion, awards the GVCN confirms), R32 (each regime's rules,
kept for the years they applied to).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from records.rules import (
    RuleOptions,
    StudentInputs,
    StudentResults,
    default_curriculum,
    rule_set_for,
)
from records.rules.testing import secondary_inputs
from records.rules.tt58_learning import anchors_for, classify, evaluate, overall_average

LEGACY_YEAR = "2023-2024"
COMMENTED = {"the_duc", "am_nhac", "mi_thuat"}


def compute(inputs: StudentInputs) -> StudentResults:
    rule_set = rule_set_for(inputs.grade, inputs.school_year)
    assert rule_set.id == "tt58_2011"
    return rule_set.compute(inputs, RuleOptions())


def legacy(**kwargs: object) -> StudentResults:
    return compute(secondary_inputs(9, LEGACY_YEAR, **kwargs))  # type: ignore[arg-type]


def test_subject_average_uses_the_tt26_formula() -> None:  # R32
    results = legacy(overrides={"toan": "9.0"}, term_1={"toan": "6.0"})
    assert results.value("subject_average.term_1.toan") == "6.0"
    assert results.value("subject_average.year.toan") == "8.0"


def test_overall_average_is_the_plain_mean_of_scored_subjects() -> None:  # R32
    results = legacy(overrides={"toan": "9.0"})
    finding = results.get("overall_average.year")
    assert finding is not None
    assert finding.value == "8.1"  # (10 · 8.0 + 9.0) / 11 = 8.09
    assert "the_duc" not in finding.inputs  # comment subjects take no part
    assert overall_average({"a": Decimal("7.0"), "b": Decimal("8.5")}) == Decimal("7.8")


@pytest.mark.parametrize(
    ("score", "overrides", "computed", "final"),
    [
        ("8.0", {}, "G", "G"),
        ("7.0", {}, "K", "K"),
        ("5.0", {}, "TB", "TB"),
        ("4.0", {}, "Y", "Y"),
        ("3.0", {}, "KEM", "KEM"),
        ("8.5", {"vat_li": "4.0"}, "TB", "K"),  # Giỏi → TB becomes Khá
        ("9.0", {"vat_li": "3.0"}, "Y", "TB"),  # Giỏi → Yếu becomes TB
        ("7.0", {"vat_li": "3.0"}, "Y", "TB"),  # Khá → Yếu becomes TB
        ("7.5", {"vat_li": "1.0"}, "KEM", "Y"),  # Khá → Kém becomes Yếu
        ("9.0", {"vat_li": "1.0"}, "KEM", "Y"),  # a Giỏi average is also Khá: Khá → Kém row
        ("9.0", {"vat_li": "3.0", "sinh_hoc": "3.0"}, "Y", "Y"),  # two subjects
    ],
)
def test_hoc_luc_bands_and_single_subject_adjustment(
    score: str, overrides: dict[str, str], computed: str, final: str
) -> None:  # R17, R32
    results = legacy(score=score, overrides=overrides)
    prefix = "subject_average.year."
    scored = {
        f.key.removeprefix(prefix): Decimal(f.value or "")
        for f in results.findings
        if f.key.startswith(prefix)
    }
    overall = Decimal(results.value("overall_average.year") or "")
    assert evaluate(overall, scored, {}, anchors_for(LEGACY_YEAR))[0] == computed
    assert results.value("learning.year") == final
    finding = results.get("learning.year")
    assert finding is not None
    assert ("khoản 3" in finding.clause) == (computed != final)


def test_a_comment_subject_chua_dat_is_adjusted_like_a_score() -> None:  # R32
    results = legacy(score="9.0", extra={("the_duc", "term_2", "ck"): "CD"})
    assert results.value("subject_result.year.the_duc") == "CD"
    assert results.value("learning.year") == "TB"  # Giỏi → Yếu (comment) becomes TB


@pytest.mark.parametrize(("year", "expected"), [("2023-2024", "G"), ("2019-2020", "K")])
def test_foreign_language_is_an_anchor_from_2020_21(year: str, expected: str) -> None:  # R32
    inputs = secondary_inputs(9, year, overrides={"toan": "7.9", "ngu_van": "7.9"})
    results = compute(inputs)
    assert results.value("overall_average.year") == "8.0"
    assert results.value("learning.year") == expected


def test_anchor_rule_needs_one_anchor_at_the_threshold() -> None:  # R32
    anchors = anchors_for("2021-2022")
    scored = {"toan": Decimal("7.9"), "ngu_van": Decimal("7.9"), "ngoai_ngu_1": Decimal("7.9")}
    scored |= {"vat_li": Decimal("9.0")}
    assert classify(Decimal("8.2"), scored, {}, anchors) == "K"
    assert evaluate(Decimal("8.2"), scored, {}, anchors)[1] == "K"  # G→K is one level: kept
    scored["ngu_van"] = Decimal("8.0")
    assert classify(Decimal("8.2"), scored, {}, anchors) == "G"


def test_conduct_year_takes_the_second_term() -> None:  # R17
    results = legacy(conduct=("T", "D"))
    assert results.value("conduct.term_1") == "T"
    assert results.value("conduct.term_2") == "TB"
    finding = results.get("conduct.year")
    assert finding is not None
    assert finding.value == "TB"
    assert finding.label_vi == "Trung bình"


@pytest.mark.parametrize(
    ("score", "conduct", "promotion", "reassess", "train"),
    [
        ("8.0", ("T", "T"), "promoted", "no", "no"),
        ("3.0", ("T", "T"), "retained", "no", "no"),  # Kém
        ("4.0", ("CD", "CD"), "retained", "no", "no"),  # Yếu and Yếu
        ("4.0", ("D", "D"), "summer_reassessment", "yes", "no"),
        ("8.0", ("T", "CD"), "conduct_training", "no", "yes"),
    ],
)
def test_promotion(
    score: str, conduct: tuple[str, str], promotion: str, reassess: str, train: str
) -> None:  # R17
    results = legacy(score=score, conduct=conduct)
    assert results.value("promotion") == promotion
    assert results.value("summer_reassessment") == reassess
    assert results.value("conduct_training") == train


def test_absences_over_45_mean_retained() -> None:  # R17
    assert legacy(absence_days=45).value("promotion") == "promoted"
    assert legacy(absence_days=46).value("promotion") == "retained"


def test_retest_replaces_year_averages_and_recomputes_hoc_luc() -> None:  # R17
    codes = [s.code for s in default_curriculum(9, LEGACY_YEAR) if s.code not in COMMENTED]
    assert len(codes) == 11
    extra = {(c, "summer", "retest"): "6.0" for c in codes}
    results = legacy(score="4.0", conduct=("D", "D"), extra=extra)
    assert results.value("learning.year") == "Y"
    assert results.value("learning.after_summer") == "TB"
    assert results.value("promotion") == "promoted"


@pytest.mark.parametrize(("rating", "promotion"), [("D", "promoted"), ("CD", "retained")])
def test_conduct_training_rerating(rating: str, promotion: str) -> None:  # R17
    results = legacy(conduct=("T", "CD"), extra={("_conduct", "summer", "rating"): rating})
    assert results.value("promotion") == promotion


@pytest.mark.parametrize(
    ("score", "conduct", "award"),
    [
        ("8.0", ("T", "T"), "gioi"),
        ("8.0", ("T", "K"), "tien_tien"),
        ("7.0", ("K", "K"), "tien_tien"),
        ("7.0", ("K", "D"), "none"),
        ("5.0", ("T", "T"), "none"),
    ],
)
def test_titles(score: str, conduct: tuple[str, str], award: str) -> None:  # R17
    assert legacy(score=score, conduct=conduct).value("award") == award
