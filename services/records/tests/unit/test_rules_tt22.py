"""TT 22/2021 (grades 6–12): DOMAIN §1.5–§1.10.

Requirement ids: R17 (learning, conduct, promotion, awards the GVCN confirms), R18 (the required
number of assessments), R32 (the Ministry's rating rules of each level).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from records.domain.curriculum import AssessmentForm, SubjectSpec
from records.rules import RuleOptions, StudentInputs, StudentResults, rule_set_for
from records.rules.testing import secondary_inputs
from records.rules.tt22 import TT22, conduct_year
from records.rules.tt22_learning import classify_learning, evaluate_learning

MATH = SubjectSpec("toan", "Toán", AssessmentForm.SCORE, 70, 3)


def compute(inputs: StudentInputs, options: RuleOptions | None = None) -> StudentResults:
    rule_set = rule_set_for(inputs.grade, inputs.school_year)
    assert rule_set.id == "tt22_2021"
    return rule_set.compute(inputs, options or RuleOptions())


def one_subject(cells: dict[tuple[str, str, str], str]) -> StudentInputs:
    return StudentInputs(7, "2025-2026", (MATH,), cells, absence_days=0)


def term(period: str, tx: list[str], gk: str, ck: str) -> dict[tuple[str, str, str], str]:
    cells = {("toan", period, f"tx{i}"): v for i, v in enumerate(tx, start=1)}
    return cells | {("toan", period, "gk"): gk, ("toan", period, "ck"): ck}


def d(values: list[str]) -> dict[str, Decimal]:
    return {f"s{i}": Decimal(v) for i, v in enumerate(values)}


# --- subject averages (§1.5) -------------------------------------------------------------


def test_worked_example_term_average_is_7_7() -> None:  # R32
    cells = term("term_1", ["6.0", "8.0", "7.5"], "5.0", "10.0")
    finding = compute(one_subject(cells)).get("subject_average.term_1.toan")
    assert finding is not None
    assert finding.value == "7.7"
    assert finding.label_vi == "7.7"
    assert finding.rule_set == "tt22_2021"
    assert finding.inputs == {"tx1": "6.0", "tx2": "8.0", "tx3": "7.5", "gk": "5.0", "ck": "10.0"}
    assert "Điều 9" in finding.clause


def test_term_average_rounds_half_up_at_the_boundary() -> None:  # R32
    # (7·3 + 2·7 + 3·7.4) / 8 = 7.15 exactly → 7.2, not banker's 7.2/7.1 ambiguity
    cells = term("term_1", ["7.0", "7.0", "7.0"], "7.0", "7.4")
    assert compute(one_subject(cells)).value("subject_average.term_1.toan") == "7.2"


def test_year_average_weights_term_two_double() -> None:  # R32
    inputs = secondary_inputs(overrides={"toan": "9.0"}, term_1={"toan": "6.0"})
    results = compute(inputs)
    assert results.value("subject_average.term_1.toan") == "6.0"
    assert results.value("subject_average.term_2.toan") == "9.0"
    assert results.value("subject_average.year.toan") == "8.0"  # (6 + 2·9) / 3
    year = results.get("subject_average.year.toan")
    assert year is not None
    assert year.inputs == {"term_1": "6.0", "term_2": "9.0"}


def test_year_average_from_rounded_or_unrounded_terms_is_a_setting() -> None:  # R32
    cells = term("term_1", ["7.0", "7.0", "7.0"], "7.0", "7.4")  # 7.15 → 7.2
    cells |= term("term_2", ["7.0", "7.0", "7.8"], "7.0", "7.4")  # 7.25 → 7.3
    inputs = one_subject(cells)
    assert compute(inputs).value("subject_average.year.toan") == "7.3"  # (7.2 + 14.6) / 3
    unrounded = RuleOptions(year_average_from_rounded_terms=False)
    assert compute(inputs, unrounded).value("subject_average.year.toan") == "7.2"


def test_missing_required_cell_leaves_average_and_dependants_pending() -> None:  # R18
    inputs = secondary_inputs()
    cells = dict(inputs.cells)
    del cells[("toan", "term_1", "tx4")]
    del cells[("toan", "term_1", "gk")]
    results = compute(StudentInputs(7, "2025-2026", inputs.subjects, cells, absence_days=0))
    average = results.get("subject_average.term_1.toan")
    assert average is not None
    assert average.value is None
    assert average.label_vi == "Chưa đủ dữ liệu"
    assert "tx4" in average.reason_vi
    assert "gk" in average.reason_vi
    for key in ("subject_average.year.toan", "learning.term_1", "learning.year", "promotion"):
        assert results.value(key) is None, key
    assert results.value("award") is None
    assert results.value("learning.term_2") == "T"


# --- comment subjects (§1.6) ----------------------------------------------------------------


def test_comment_subject_is_dat_only_when_every_assessment_is_dat() -> None:  # R32
    inputs = secondary_inputs(extra={("gdtc", "term_1", "tx2"): "CD"})
    results = compute(inputs)
    assert results.value("subject_result.term_1.gdtc") == "CD"
    assert results.value("subject_result.term_2.gdtc") == "D"
    assert results.value("subject_result.year.gdtc") == "D"  # the year is HK II's result


def test_comment_subject_year_follows_term_two() -> None:  # R32
    inputs = secondary_inputs(extra={("gdtc", "term_2", "ck"): "CD"})
    results = compute(inputs)
    assert results.value("subject_result.term_1.gdtc") == "D"
    assert results.value("subject_result.year.gdtc") == "CD"


def test_comment_subject_with_a_missing_assessment_is_pending() -> None:  # R18
    inputs = secondary_inputs()
    cells = {k: v for k, v in inputs.cells.items() if k != ("gdtc", "term_1", "tx1")}
    results = compute(StudentInputs(7, "2025-2026", inputs.subjects, cells, absence_days=0))
    assert results.value("subject_result.term_1.gdtc") is None
    assert results.value("learning.term_1") is None


# --- learning result (§1.7) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "comments", "expected"),
    [
        (["8.0"] * 6 + ["6.5"] * 2, ["D"], "T"),  # inclusive 8.0 and 6.5
        (["8.0"] * 6 + ["6.5", "6.4"], ["D"], "K"),  # one below 6.5
        (["8.0"] * 5 + ["7.9"] * 3, ["D"], "K"),  # only five reach 8.0
        (["6.5"] * 6 + ["5.0"] * 2, ["D"], "K"),  # inclusive 6.5 and 5.0
        (["6.5"] * 6 + ["5.0", "4.9"], ["D"], "D"),
        (["6.5"] * 5 + ["6.4"] * 3, ["D"], "D"),
        (["5.0"] * 6 + ["3.5"] * 2, ["D"], "D"),  # inclusive 5.0 and 3.5
        (["5.0"] * 6 + ["3.5", "3.4"], ["D"], "CD"),
        (["5.0"] * 5 + ["4.9"] * 3, ["D"], "CD"),
        (["9.0"] * 8, ["D", "CD"], "D"),  # one comment subject Chưa đạt
        (["9.0"] * 8, ["CD", "CD"], "CD"),  # two
    ],
)
def test_learning_thresholds(scores: list[str], comments: list[str], expected: str) -> None:
    # R17, R32
    marks = {f"c{i}": v for i, v in enumerate(comments)}
    assert classify_learning(d(scores), marks) == expected


@pytest.mark.parametrize(
    ("scores", "comments", "computed", "final", "final_other_reading"),
    [
        (["9.0"] * 8, ["D", "CD"], "D", "K", "K"),  # Tốt → Đạt becomes Khá
        (["9.0"] * 7 + ["3.0"], ["D"], "CD", "D", "K"),  # Tốt → Chưa đạt becomes Đạt
        (["7.0"] * 7 + ["3.0"], ["D"], "CD", "D", "D"),  # Khá → Chưa đạt becomes Đạt
        (["9.0"] * 6 + ["3.0", "3.0"], ["D"], "CD", "CD", "CD"),  # two subjects: no adjustment
        (["9.0"] * 7 + ["6.0"], ["D"], "K", "K", "K"),  # one level only: no adjustment
    ],
)
def test_one_subject_adjustment(
    scores: list[str], comments: list[str], computed: str, final: str, final_other_reading: str
) -> None:  # R17, R32
    marks = {f"c{i}": v for i, v in enumerate(comments)}
    evaluation = evaluate_learning(d(scores), marks)
    assert (evaluation.computed, evaluation.final) == (computed, final)
    below_would_be = RuleOptions(adjustment_one_level_up=False)
    assert evaluate_learning(d(scores), marks, below_would_be).final == final_other_reading


def test_adjusted_learning_names_the_triggering_subject() -> None:  # R17
    results = compute(secondary_inputs(score="9.0", overrides={"toan": "3.0"}))
    finding = results.get("learning.year")
    assert finding is not None
    assert finding.value == "D"
    assert "Toán" in finding.reason_vi
    assert "khoản 4" in finding.clause
    assert finding.inputs["toan"] == "3.0"


def test_learning_reason_names_the_deciding_fact() -> None:  # R17
    results = compute(secondary_inputs(score="7.0"))
    finding = results.get("learning.year")
    assert finding is not None
    assert finding.value == "K"
    assert finding.label_vi == "Khá"
    assert "8.0" in finding.reason_vi


# --- conduct (§1.8) --------------------------------------------------------------------------

CONDUCT_TABLE = {  # HK II → HK I (T, K, D, CD)
    "T": ("T", "T", "K", "K"),
    "K": ("K", "K", "K", "D"),
    "D": ("K", "D", "D", "D"),
    "CD": ("CD", "CD", "CD", "CD"),
}


@pytest.mark.parametrize(
    ("term_1", "term_2", "expected"),
    [
        (t1, t2, year)
        for t2, row in CONDUCT_TABLE.items()
        for t1, year in zip(("T", "K", "D", "CD"), row, strict=True)
    ],
)
def test_conduct_year_table(term_1: str, term_2: str, expected: str) -> None:  # R17
    assert conduct_year(term_1, term_2) == expected
    results = compute(secondary_inputs(conduct=(term_1, term_2)))
    assert results.value("conduct.term_1") == term_1
    assert results.value("conduct.term_2") == term_2
    assert results.value("conduct.year") == expected


def test_conduct_year_pending_without_both_terms() -> None:  # R15
    results = compute(secondary_inputs(conduct=("T", None)))
    assert results.value("conduct.year") is None
    assert results.value("promotion") is None


# --- promotion, summer work, retention (§1.9) ---------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(45, "promoted"), (46, "retained")])
def test_absence_limit_is_inclusive_45(days: int, expected: str) -> None:  # R17
    finding = compute(secondary_inputs(absence_days=days)).get("promotion")
    assert finding is not None
    assert finding.value == expected
    if expected == "retained":
        assert "điểm c" in finding.clause
        assert "46" in finding.reason_vi


def test_absence_limit_is_a_setting() -> None:  # R17
    results = compute(secondary_inputs(absence_days=46), RuleOptions(absence_limit_days=50))
    assert results.value("promotion") == "promoted"


def test_unknown_absences_keep_promotion_pending() -> None:  # R17
    assert compute(secondary_inputs(absence_days=None)).value("promotion") is None


def test_learning_chua_dat_goes_to_summer_reassessment() -> None:  # R17
    results = compute(secondary_inputs(overrides={"toan": "3.0", "khtn": "3.0"}))
    assert results.value("learning.year") == "CD"
    finding = results.get("summer_reassessment")
    assert finding is not None
    assert finding.value == "yes"
    assert finding.inputs == {"toan": "3.0", "khtn": "3.0"}
    assert results.value("conduct_training") == "no"
    assert results.value("promotion") == "summer_reassessment"
    assert results.get("learning.after_summer") is None


@pytest.mark.parametrize(
    ("retest", "after", "promotion"),
    [
        ({"toan": "5.0", "khtn": "5.0"}, "K", "promoted"),
        ({"toan": "2.0", "khtn": "2.0"}, "CD", "retained"),
        ({"toan": "6.0"}, None, "summer_reassessment"),  # khtn not yet re-assessed
    ],
)
def test_summer_reassessment_replaces_year_results(
    retest: dict[str, str], after: str | None, promotion: str
) -> None:  # R17
    extra = {(code, "summer", "retest"): v for code, v in retest.items()}
    results = compute(secondary_inputs(overrides={"toan": "3.0", "khtn": "3.0"}, extra=extra))
    assert results.value("learning.year") == "CD"  # the year result itself is kept
    assert results.value("learning.after_summer") == after
    assert results.value("promotion") == promotion


def test_comment_subject_retest_replaces_its_year_result() -> None:  # R17
    extra = {
        ("gdtc", "term_2", "ck"): "CD",
        ("nghe_thuat", "term_2", "ck"): "CD",
        ("gdtc", "summer", "retest"): "D",
        ("nghe_thuat", "summer", "retest"): "D",
    }
    results = compute(secondary_inputs(extra=extra))
    assert results.value("learning.year") == "CD"
    assert results.value("learning.after_summer") == "T"
    assert results.value("promotion") == "promoted"


@pytest.mark.parametrize(("rating", "promotion"), [("D", "promoted"), ("CD", "retained")])
def test_conduct_chua_dat_goes_to_summer_training(rating: str, promotion: str) -> None:  # R17
    before = compute(secondary_inputs(conduct=("T", "CD")))
    assert before.value("conduct.year") == "CD"
    assert before.value("conduct_training") == "yes"
    assert before.value("summer_reassessment") == "no"
    assert before.value("promotion") == "conduct_training"
    after = compute(
        secondary_inputs(conduct=("T", "CD"), extra={("_conduct", "summer", "rating"): rating})
    )
    assert after.value("conduct.after_summer") == rating
    assert after.value("promotion") == promotion


def test_both_chua_dat_means_retained_without_reassessment() -> None:  # R17
    results = compute(
        secondary_inputs(overrides={"toan": "3.0", "khtn": "3.0"}, conduct=("CD", "CD"))
    )
    assert results.value("learning.year") == "CD"
    assert results.value("conduct.year") == "CD"
    assert results.value("summer_reassessment") == "no"
    assert results.value("conduct_training") == "no"
    assert results.value("promotion") == "retained"


def test_completion_label_for_the_last_grade_of_a_level() -> None:  # R17
    finding = compute(secondary_inputs(grade=9)).get("promotion")
    assert finding is not None
    assert finding.value == "promoted"
    assert "THCS" in finding.label_vi


# --- awards (§1.10) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "overrides", "conduct", "award"),
    [
        ("9.0", {}, ("T", "T"), "xuat_sac"),
        ("9.0", {"toan": "8.9", "ngu_van": "8.9", "khtn": "8.9"}, ("T", "T"), "gioi"),
        ("9.0", {"toan": "8.9", "ngu_van": "8.9"}, ("T", "T"), "xuat_sac"),  # exactly 6 ≥ 9.0
        ("8.0", {}, ("T", "T"), "gioi"),
        ("7.0", {}, ("T", "T"), "none"),  # learning Khá
        ("9.0", {}, ("T", "K"), "none"),  # conduct Khá
    ],
)
def test_awards(
    score: str, overrides: dict[str, str], conduct: tuple[str, str], award: str
) -> None:  # R17
    results = compute(secondary_inputs(score=score, overrides=overrides, conduct=conduct))
    assert results.value("award") == award


def test_findings_carry_rule_set_and_version() -> None:  # R32
    results = compute(secondary_inputs())
    assert results.rule_set == TT22.id == "tt22_2021"
    assert {f.rule_version for f in results.findings} == {TT22.version}
    assert all(f.clause.startswith("TT 22/2021/TT-BGDĐT") for f in results.findings)
    assert all(f.reason_vi for f in results.findings)
