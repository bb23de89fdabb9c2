"""Builders of ``StudentInputs`` for tests (and examples): one call, a whole year of cells.

A secondary subject filled with one score in every column of both terms averages exactly that
score for each term and the year, so tests can state subject averages directly.
"""

from __future__ import annotations

from collections.abc import Mapping

from records.domain.curriculum import PRIMARY_CHECKPOINTS, AssessmentForm, Period, SubjectSpec
from records.domain.sheets import CONDUCT_SHEET, QUALITIES_SHEET, QUALITY_CRITERIA
from records.rules.base import StudentInputs
from records.rules.catalogue import default_curriculum
from records.rules.secondary import TERMS, assessment_columns

Cells = dict[tuple[str, str, str], str]


def fill_term(cells: Cells, spec: SubjectSpec, period: Period, value: str) -> None:
    """Every required column of ``spec`` in ``period`` set to ``value``."""
    for column in assessment_columns(spec):
        cells[(spec.code, period.value, column)] = value


def secondary_cells(
    subjects: tuple[SubjectSpec, ...],
    *,
    score: str = "8.0",
    comment: str = "D",
    overrides: Mapping[str, str] | None = None,
    term_1: Mapping[str, str] | None = None,
    conduct: tuple[str | None, str | None] = ("T", "T"),
) -> Cells:
    """Both terms of every subject filled uniformly: ``score`` (scored) or ``comment``.

    ``overrides`` sets one subject's value in both terms, ``term_1`` its value in term 1 only.
    """
    cells: Cells = {}
    for spec in subjects:
        default = score if spec.form is AssessmentForm.SCORE else comment
        for period in TERMS:
            value = (overrides or {}).get(spec.code, default)
            if period is Period.TERM_1:
                value = (term_1 or {}).get(spec.code, value)
            fill_term(cells, spec, period, value)
    for period, rating in zip(TERMS, conduct, strict=True):
        if rating is not None:
            cells[(CONDUCT_SHEET, period.value, "rating")] = rating
    return cells


def secondary_inputs(
    grade: int = 7,
    school_year: str = "2025-2026",
    *,
    score: str = "8.0",
    comment: str = "D",
    overrides: Mapping[str, str] | None = None,
    term_1: Mapping[str, str] | None = None,
    conduct: tuple[str | None, str | None] = ("T", "T"),
    absence_days: int | None = 0,
    extra: Mapping[tuple[str, str, str], str] | None = None,
    subjects: tuple[SubjectSpec, ...] | None = None,
) -> StudentInputs:
    subjects = subjects or default_curriculum(grade, school_year)
    cells = secondary_cells(
        subjects,
        score=score,
        comment=comment,
        overrides=overrides,
        term_1=term_1,
        conduct=conduct,
    )
    cells.update(extra or {})
    return StudentInputs(grade, school_year, subjects, cells, absence_days=absence_days)


def primary_inputs(
    grade: int = 4,
    school_year: str = "2025-2026",
    *,
    level: str = "T",
    score: str = "10",
    quality: str = "T",
    levels: Mapping[str, str] | None = None,
    scores: Mapping[str, str] | None = None,
    qualities: Mapping[str, str] | None = None,
    outstanding_vote: bool = False,
) -> StudentInputs:
    """Every checkpoint filled: ``level`` per subject, ``score`` per test, ``quality`` per
    criterion; ``levels``/``scores``/``qualities`` override the end-of-year cells by code."""
    subjects = default_curriculum(grade, school_year)
    cells: Cells = {}
    for checkpoint in PRIMARY_CHECKPOINTS:
        end = checkpoint is Period.END_YEAR
        for spec in subjects:
            cells[(spec.code, checkpoint.value, "level")] = (
                (levels or {}).get(spec.code, level) if end else level
            )
            if checkpoint in spec.tested_at:
                cells[(spec.code, checkpoint.value, "score")] = (
                    (scores or {}).get(spec.code, score) if end else score
                )
        for code, _name in QUALITY_CRITERIA:
            cells[(QUALITIES_SHEET, checkpoint.value, code)] = (
                (qualities or {}).get(code, quality) if end else quality
            )
    return StudentInputs(grade, school_year, subjects, cells, outstanding_vote=outstanding_vote)
