"""TT 27/2020 (primary): DOMAIN §2.3, §2.5–§2.7.

Requirement ids: R15 (evaluations at the four checkpoints), R17 (completion and awards the GVCN
confirms), R32 (each level's rating rules).
"""

from __future__ import annotations

import pytest

from records.domain.curriculum import AssessmentForm, SubjectSpec
from records.domain.errors import DomainError
from records.rules import RuleOptions, StudentInputs, StudentResults, rule_set_for
from records.rules.testing import primary_inputs
from records.rules.tt27 import TT27, education_result


def compute(inputs: StudentInputs, options: RuleOptions | None = None) -> StudentResults:
    rule_set = rule_set_for(inputs.grade, inputs.school_year)
    assert rule_set.id == "tt27_2020"
    return rule_set.compute(inputs, options or RuleOptions())


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "HTXS"),
        ({"scores": {"toan": "9"}}, "HTXS"),  # 9 is inclusive
        ({"scores": {"toan": "8"}}, "HTT"),
        ({"scores": {"toan": "7"}}, "HTT"),  # 7 is inclusive
        ({"scores": {"toan": "6"}}, "HT"),
        ({"scores": {"toan": "5"}}, "HT"),  # 5 is inclusive
        ({"scores": {"toan": "4"}}, "CHT"),
        ({"levels": {"dao_duc": "H"}}, "HT"),
        ({"qualities": {"nhan_ai": "D"}}, "HT"),
        ({"levels": {"dao_duc": "C"}}, "CHT"),
        ({"qualities": {"tin_hoc": "C"}}, "CHT"),
        ({"level": "H", "quality": "D", "score": "5"}, "HT"),
    ],
)
def test_education_result_ladder(kwargs: dict[str, object], expected: str) -> None:
    # R17, R32
    results = compute(primary_inputs(**kwargs))  # type: ignore[arg-type]
    assert results.value("education_result") == expected


def test_hoan_thanh_score_floor_is_a_setting() -> None:  # R32
    inputs = primary_inputs(scores={"toan": "4"})
    assert compute(inputs).value("education_result") == "CHT"
    lenient = RuleOptions(primary_completion_min_score=4)
    assert compute(inputs, lenient).value("education_result") == "HT"


def test_result_reason_names_the_deciding_fact() -> None:  # R17
    finding = compute(primary_inputs(scores={"khoa_hoc": "8"})).get("education_result")
    assert finding is not None
    assert finding.value == "HTT"
    assert "Khoa học" in finding.reason_vi
    assert finding.inputs["khoa_hoc.score"] == "8"
    assert finding.inputs["_qualities.yeu_nuoc"] == "T"


def test_pure_ladder_function() -> None:  # R32
    assert education_result({"a": "T"}, {"q": "T"}, {"a": 9}) == "HTXS"
    assert education_result({"a": "T"}, {"q": "T"}, {}) == "HTXS"  # untested subjects only
    assert education_result({"a": "H"}, {"q": "T"}, {"a": 10}) == "HT"


@pytest.mark.parametrize(
    ("kwargs", "completion"),
    [({}, "yes"), ({"scores": {"toan": "6"}}, "yes"), ({"levels": {"toan": "C"}}, "no")],
)
def test_grade_and_primary_completion(kwargs: dict[str, object], completion: str) -> None:
    # R17
    grade_4 = compute(primary_inputs(4, **kwargs))  # type: ignore[arg-type]
    assert grade_4.value("grade_completion") == completion
    assert grade_4.get("primary_completion") is None  # grade 5 only
    grade_5 = compute(primary_inputs(5, **kwargs))  # type: ignore[arg-type]
    assert grade_5.value("grade_completion") == completion
    assert grade_5.value("primary_completion") == completion


@pytest.mark.parametrize(
    ("kwargs", "vote", "award"),
    [
        ({}, False, "xuat_sac"),
        ({"scores": {"toan": "8"}}, True, "tieu_bieu"),
        ({"scores": {"toan": "8"}}, False, "none"),
        ({"scores": {"toan": "6"}}, True, "none"),
    ],
)
def test_awards(kwargs: dict[str, object], vote: bool, award: str) -> None:  # R17
    inputs = primary_inputs(outstanding_vote=vote, **kwargs)  # type: ignore[arg-type]
    assert compute(inputs).value("award") == award


def test_checkpoint_levels_are_echoed_with_their_scores() -> None:  # R15
    grade_4 = compute(primary_inputs(4))
    mid = grade_4.get("subject_level.mid_term_1.toan")
    assert mid is not None
    assert mid.value == "T"
    assert mid.inputs == {"level": "T", "score": "10"}  # grades 4–5 test Toán at mid-term
    grade_3 = compute(primary_inputs(3))
    mid_3 = grade_3.get("subject_level.mid_term_1.toan")
    assert mid_3 is not None
    assert mid_3.inputs == {"level": "T"}
    assert grade_3.get("subject_level.end_year.dao_duc") is not None


def test_missing_end_of_year_cells_leave_the_result_pending() -> None:  # R15
    inputs = primary_inputs()
    cells = {k: v for k, v in inputs.cells.items() if k != ("_qualities", "end_year", "cham_chi")}
    results = compute(StudentInputs(4, "2025-2026", inputs.subjects, cells))
    finding = results.get("education_result")
    assert finding is not None
    assert finding.value is None
    assert "cham_chi" in finding.reason_vi
    assert results.value("grade_completion") is None
    assert results.value("award") is None


def test_secondary_subject_is_refused() -> None:  # R32
    spec = SubjectSpec("toan", "Toán", AssessmentForm.SCORE, 140, 4)
    with pytest.raises(DomainError) as err:
        TT27.compute(StudentInputs(4, "2025-2026", (spec,), {}))
    assert err.value.code == "subject-form-invalid"


def test_absences_do_not_matter_in_primary() -> None:  # R17
    inputs = primary_inputs()
    heavy = StudentInputs(4, "2025-2026", inputs.subjects, inputs.cells, absence_days=120)
    assert compute(heavy).value("grade_completion") == "yes"
