"""Regime selection (DOMAIN §1.1, §2.1) and the default curriculum (§1.3, §2.3).

Requirement ids: R18 (the required number of assessments), R32 (rules follow the Ministry's
changes per school year), R39 (in use from 2022–2023, with the earlier years still readable).
"""

from __future__ import annotations

import re

import pytest

from records.domain.curriculum import AssessmentForm, Level, Period, level_of_grade
from records.domain.errors import DomainError
from records.rules import default_curriculum, rule_set_for, rule_sets
from records.rules.base import start_year

# DOMAIN §1.1 and §2.1, written out year by year.
TT22_GRADES = {
    2021: {6},
    2022: {6, 7, 10},
    2023: {6, 7, 8, 10, 11},
    2024: set(range(6, 13)),
    2025: set(range(6, 13)),
    2026: set(range(6, 13)),
}
TT27_GRADES = {2020: {1}, 2021: {1, 2}, 2022: {1, 2, 3}, 2023: {1, 2, 3, 4}, 2024: set(range(1, 6))}
TT27_GRADES |= {2025: set(range(1, 6)), 2026: set(range(1, 6))}
YEARS = range(2018, 2027)


def expected_rule_set(grade: int, year: int) -> str | None:
    if grade <= 5:
        return "tt27_2020" if grade in TT27_GRADES.get(year, set()) else None
    return "tt22_2021" if grade in TT22_GRADES.get(year, set()) else "tt58_2011"


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("grade", range(1, 13))
def test_regime_table(grade: int, year: int) -> None:  # R32, R39
    school_year = f"{year}-{year + 1}"
    expected = expected_rule_set(grade, year)
    if expected is None:
        with pytest.raises(DomainError) as err:
            rule_set_for(grade, school_year)
        assert err.value.code == "rule-set-unavailable"
        assert err.value.title_vi
    else:
        assert rule_set_for(grade, school_year).id == expected


def test_short_school_year_spelling_is_accepted() -> None:  # R32
    assert rule_set_for(9, "2023-24").id == "tt58_2011"
    assert start_year("2025-2026") == 2025


@pytest.mark.parametrize("bad", ["2025-2027", "2025", "25-26", "2025/2026"])
def test_malformed_school_year_is_refused(bad: str) -> None:  # R32
    with pytest.raises(DomainError) as err:
        rule_set_for(6, bad)
    assert err.value.code == "school-year-invalid"


def test_rule_sets_are_listed_once() -> None:  # R32
    ids = [r.id for r in rule_sets()]
    assert sorted(ids) == ["tt22_2021", "tt27_2020", "tt58_2011"]
    assert all(r.version and r.title_vi for r in rule_sets())


def test_invalid_grade_is_refused() -> None:  # R32
    with pytest.raises(DomainError):
        rule_set_for(13, "2025-2026")


# --- default curriculum ----------------------------------------------------------------------


def counts(grade: int, year: str = "2025-2026") -> dict[str, int]:
    return {s.code: s.regular_count for s in default_curriculum(grade, year)}


@pytest.mark.parametrize("grade", [6, 7, 8, 9])
def test_thcs_regular_counts_follow_the_periods(grade: int) -> None:  # R18
    expected = {"ngu_van": 4, "toan": 4, "khtn": 4, "ngoai_ngu_1": 4, "ls_dl": 4}
    expected |= {"gdcd": 2, "tin_hoc": 2, "cong_nghe": 3 if grade >= 8 else 2}
    expected |= {"gdtc": 2, "nghe_thuat": 2, "hdtn_hn": 2, "gddp": 2}
    assert counts(grade) == expected


@pytest.mark.parametrize("grade", [10, 11, 12])
def test_thpt_regular_counts_include_the_topic_cluster(grade: int) -> None:  # R18
    subjects = {s.code: s for s in default_curriculum(grade, "2025-2026")}
    assert counts(grade) == {
        "ngu_van": 4,
        "toan": 4,
        "ngoai_ngu_1": 4,
        "lich_su": 3,
        "gdqp_an": 2,
        "gdtc": 2,
        "hdtn_hn": 2,
        "gddp": 2,
        "vat_li": 4,
        "hoa_hoc": 4,
        "sinh_hoc": 4,
        "tin_hoc": 4,
    }
    assert {c for c, s in subjects.items() if s.elective} == {
        "vat_li",
        "hoa_hoc",
        "sinh_hoc",
        "tin_hoc",
    }
    assert subjects["gdqp_an"].form is AssessmentForm.SCORE
    assert subjects["gdtc"].form is AssessmentForm.COMMENT


def test_comment_only_subjects_of_thcs() -> None:  # R32
    comment = {
        s.code for s in default_curriculum(7, "2025-2026") if s.form is AssessmentForm.COMMENT
    }
    assert comment == {"gdtc", "nghe_thuat", "hdtn_hn", "gddp"}


END = frozenset({Period.END_TERM_1, Period.END_YEAR})
ALL4 = END | {Period.MID_TERM_1, Period.MID_TERM_2}


@pytest.mark.parametrize(
    ("grade", "tested"),
    [
        (1, {"tieng_viet": END, "toan": END}),
        (2, {"tieng_viet": END, "toan": END}),
        (3, {"tieng_viet": END, "toan": END, "ngoai_ngu_1": END, "tin_hoc_cong_nghe": END}),
        (
            4,
            {"tieng_viet": ALL4, "toan": ALL4, "ngoai_ngu_1": END, "tin_hoc_cong_nghe": END}
            | {"ls_dl": END, "khoa_hoc": END},
        ),
        (
            5,
            {"tieng_viet": ALL4, "toan": ALL4, "ngoai_ngu_1": END, "tin_hoc_cong_nghe": END}
            | {"ls_dl": END, "khoa_hoc": END},
        ),
    ],
)
def test_primary_tests_per_grade(grade: int, tested: dict[str, frozenset[Period]]) -> None:
    # R15
    subjects = default_curriculum(grade, "2025-2026")
    assert {s.code: s.tested_at for s in subjects if s.tested_at} == tested
    assert all(s.form is AssessmentForm.PRIMARY and s.regular_count == 0 for s in subjects)
    codes = {s.code for s in subjects}
    assert {"tieng_viet", "toan", "dao_duc", "gdtc", "am_nhac", "mi_thuat", "hdtn"} <= codes
    assert ("tnxh" in codes) == (grade <= 3)


@pytest.mark.parametrize(
    ("grade", "year", "present", "absent"),
    [
        (9, "2023-2024", {"hoa_hoc", "am_nhac", "the_duc", "dia_li"}, {"khtn", "gdqp_an"}),
        (12, "2023-2024", {"gdqp_an", "hoa_hoc", "the_duc"}, {"am_nhac", "mi_thuat"}),
        (6, "2020-2021", {"vat_li", "sinh_hoc"}, {"hoa_hoc"}),
    ],
)
def test_legacy_curriculum(grade: int, year: str, present: set[str], absent: set[str]) -> None:
    # R32
    subjects = {s.code: s for s in default_curriculum(grade, year)}
    assert present <= set(subjects)
    assert not absent & set(subjects)
    assert subjects["the_duc"].form is AssessmentForm.COMMENT


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("grade", range(1, 13))
def test_curriculum_fits_the_rule_set_of_its_year(grade: int, year: int) -> None:  # R32
    school_year = f"{year}-{year + 1}"
    expected = expected_rule_set(grade, year)
    if expected is None:
        with pytest.raises(DomainError):
            default_curriculum(grade, school_year)
        return
    subjects = default_curriculum(grade, school_year)
    codes = [s.code for s in subjects]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in codes)
    primary = level_of_grade(grade) is Level.PRIMARY
    assert all((s.form is AssessmentForm.PRIMARY) == primary for s in subjects)
    scored = [s for s in subjects if s.form is AssessmentForm.SCORE]
    assert primary or len(scored) >= 6  # Tốt and Khá need six scored subjects
