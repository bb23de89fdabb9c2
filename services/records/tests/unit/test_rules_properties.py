"""Properties the rules must keep for any input (hypothesis).

Requirement ids: R17 (ratings, promotion, awards), R32 (each level's rating rules).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from records.domain.curriculum import AssessmentForm, SubjectSpec
from records.rules import RuleOptions, StudentInputs, StudentResults, round_half_up_1
from records.rules.base import round_exact_1
from records.rules.catalogue import default_curriculum
from records.rules.secondary import TERMS, assessment_columns
from records.rules.tt22 import TT22
from records.rules.tt22_learning import LEVELS, evaluate_learning, rank
from records.rules.tt27 import RESULTS, education_result
from records.rules.tt58_learning import LEVELS as LEGACY_LEVELS
from records.rules.tt58_learning import anchors_for, evaluate, overall_average

Cells = dict[tuple[str, str, str], str]
GRADE_7 = default_curriculum(7, "2025-2026")
AWARDS = ("none", "gioi", "xuat_sac")
SLOW = settings(max_examples=60, deadline=None)


def tenths(n: int) -> str:
    return str((Decimal(n) / 10).quantize(Decimal("0.1")))


@st.composite
def year_cells(draw: st.DrawFn, subjects: tuple[SubjectSpec, ...] = GRADE_7) -> Cells:
    cells: Cells = {}
    for spec in subjects:
        for period in TERMS:
            for column in assessment_columns(spec):
                if spec.form is AssessmentForm.SCORE:
                    value = tenths(draw(st.integers(20, 100)))
                else:
                    value = draw(st.sampled_from(["D", "D", "D", "CD"]))
                cells[(spec.code, period.value, column)] = value
    for period in TERMS:
        cells[("_conduct", period.value, "rating")] = "T"
    return cells


def run(cells: Cells, options: RuleOptions | None = None) -> StudentResults:
    inputs = StudentInputs(7, "2025-2026", GRADE_7, cells, absence_days=0)
    return TT22.compute(inputs, options or RuleOptions())


def decimal_at(results: StudentResults, key: str) -> Decimal:
    return Decimal(results.value(key) or "")


@given(st.integers(0, 99))
def test_every_hundredth_ending_in_5_rounds_up(j: int) -> None:  # R32
    k = 10 * j + 5
    expected = (Decimal(k + 5) / 100).quantize(Decimal("0.1"))
    assert round_half_up_1(Decimal(k) / 100) == expected
    assert round_exact_1(Fraction(k, 100)) == expected


@SLOW
@given(year_cells(), st.data())
def test_raising_one_score_never_lowers_average_learning_or_award(
    cells: Cells, data: st.DataObject
) -> None:  # R17, R32
    scored = sorted(k for k in cells if k[0] != "_conduct" and cells[k] not in ("D", "CD"))
    key = data.draw(st.sampled_from(scored))
    old = int(Decimal(cells[key]) * 10)
    raised = {**cells, key: tenths(data.draw(st.integers(old, 100)))}
    before, after = run(cells), run(raised)
    code, period = key[0], key[1]
    for avg_key in (f"subject_average.{period}.{code}", f"subject_average.year.{code}"):
        assert decimal_at(after, avg_key) >= decimal_at(before, avg_key)
    for period_key in ("term_1", "term_2", "year"):
        learned = f"learning.{period_key}"
        assert rank(after.value(learned) or "") >= rank(before.value(learned) or "")
    award_before = AWARDS.index(before.value("award") or "")
    assert AWARDS.index(after.value("award") or "") >= award_before


@SLOW
@given(year_cells(GRADE_7[:1]), st.booleans())
def test_year_average_lies_between_the_term_averages(cells: Cells, rounded: bool) -> None:
    # R32
    options = RuleOptions(year_average_from_rounded_terms=rounded)
    inputs = StudentInputs(7, "2025-2026", GRADE_7[:1], cells, absence_days=0)
    results = TT22.compute(inputs, options)
    code = GRADE_7[0].code
    terms = [decimal_at(results, f"subject_average.{p.value}.{code}") for p in TERMS]
    assert min(terms) <= decimal_at(results, f"subject_average.year.{code}") <= max(terms)


scores_8 = st.lists(st.integers(0, 100), min_size=8, max_size=8)
comments_4 = st.lists(st.sampled_from(["D", "CD"]), min_size=4, max_size=4)


def as_learning(
    scores: list[int], comments: list[str]
) -> tuple[dict[str, Decimal], dict[str, str]]:
    return (
        {f"s{i}": Decimal(tenths(n)) for i, n in enumerate(scores)},
        {f"c{i}": v for i, v in enumerate(comments)},
    )


@given(scores_8, comments_4)
def test_adjustment_raises_at_most_one_level_and_never_above_kha(
    scores: list[int], comments: list[str]
) -> None:  # R32
    ev = evaluate_learning(*as_learning(scores, comments))
    assert rank(ev.computed) <= rank(ev.final) <= rank(ev.computed) + 1
    if ev.final != ev.computed:
        assert ev.final in ("D", "K")
        assert ev.trigger is not None


@given(scores_8, comments_4, st.integers(0, 7), st.integers(0, 100))
def test_learning_result_is_monotone_in_each_score(
    scores: list[int], comments: list[str], index: int, bump: int
) -> None:  # R32
    for one_up in (True, False):
        options = RuleOptions(adjustment_one_level_up=one_up)
        before = evaluate_learning(*as_learning(scores, comments), options).final
        raised = [*scores]
        raised[index] = max(raised[index], bump)
        after = evaluate_learning(*as_learning(raised, comments), options).final
        assert LEVELS.index(after) >= LEVELS.index(before)


legacy_scores = st.lists(st.integers(0, 100), min_size=6, max_size=6)
LEGACY_CODES = ("toan", "ngu_van", "ngoai_ngu_1", "vat_li", "sinh_hoc", "lich_su")


@given(legacy_scores, st.integers(0, 5), st.integers(0, 100))
def test_legacy_hoc_luc_is_monotone_and_adjusts_by_one_band_at_most(
    scores: list[int], index: int, bump: int
) -> None:  # R32
    anchors = anchors_for("2022-2023")

    def final(values: list[int]) -> tuple[str, str]:
        scored = {c: Decimal(tenths(n)) for c, n in zip(LEGACY_CODES, values, strict=True)}
        computed, adjusted, _, _ = evaluate(overall_average(scored), scored, {}, anchors)
        return computed, adjusted

    computed, adjusted = final(scores)
    assert 0 <= LEGACY_LEVELS.index(adjusted) - LEGACY_LEVELS.index(computed) <= 1
    raised = [*scores]
    raised[index] = max(raised[index], bump)
    assert LEGACY_LEVELS.index(final(raised)[1]) >= LEGACY_LEVELS.index(adjusted)


PRIMARY_LEVELS = ("C", "H", "T")
QUALITY_LEVELS = ("C", "D", "T")


@given(
    st.lists(st.sampled_from(PRIMARY_LEVELS), min_size=5, max_size=5),
    st.lists(st.sampled_from(QUALITY_LEVELS), min_size=15, max_size=15),
    st.lists(st.integers(1, 10), min_size=3, max_size=3),
    st.sampled_from(["level", "quality", "score"]),
    st.integers(0, 14),
    st.integers(1, 9),
)
def test_lowering_any_primary_input_never_raises_the_result(
    levels: list[str],
    qualities: list[str],
    scores: list[int],
    kind: str,
    index: int,
    drop: int,
) -> None:  # R32
    def result(lv: list[str], qu: list[str], sc: list[int]) -> int:
        return RESULTS.index(
            education_result(
                {f"s{i}": v for i, v in enumerate(lv)},
                {f"q{i}": v for i, v in enumerate(qu)},
                {f"s{i}": v for i, v in enumerate(sc)},
            )
        )

    lowered_levels, lowered_qualities, lowered_scores = [*levels], [*qualities], [*scores]
    if kind == "level":
        i = index % 5
        lowered_levels[i] = PRIMARY_LEVELS[max(0, PRIMARY_LEVELS.index(levels[i]) - 1)]
    elif kind == "quality":
        lowered_qualities[index] = QUALITY_LEVELS[
            max(0, QUALITY_LEVELS.index(qualities[index]) - 1)
        ]
    else:
        i = index % 3
        lowered_scores[i] = max(1, scores[i] - drop)
    before = result(levels, qualities, scores)
    assert result(lowered_levels, lowered_qualities, lowered_scores) <= before
