"""Edit forensics' replay (pure): which results each change of a cell moved, before and after."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from records.handlers.forensics import (
    CellChange,
    CellKey,
    cells_before,
    replay,
    result_diff,
)
from records.rules import RuleOptions, StudentInputs, StudentResults, rule_set_for
from records.rules.testing import secondary_inputs

BASE = secondary_inputs(grade=7, score="8.0")
RULES = rule_set_for(7, BASE.school_year)
STUDENT = uuid.uuid4()


def compute(cells: Mapping[CellKey, str]) -> StudentResults:
    return RULES.compute(
        StudentInputs(BASE.grade, BASE.school_year, BASE.subjects, cells, absence_days=0),
        RuleOptions(),
    )


def change(n: int, key: CellKey, old: str | None, new: str | None) -> CellChange:
    sheet, period, column = key
    return CellChange(
        id=n,
        student_id=STUDENT,
        class_id=uuid.uuid4(),
        sheet=sheet,
        period=period,
        column=column,
        old=old,
        new=new,
        sheet_version=n,
        changed_by=uuid.uuid4(),
        client_id=None,
        via="api",
        changed_at=datetime(2025, 12, n, tzinfo=UTC),
        correction_id=None,
    )


CK = ("toan", "term_1", "ck")
NX = ("toan", "term_1", "nx")


def test_a_change_that_crosses_a_threshold_is_reported_and_one_that_does_not_is_not() -> None:
    cells = dict(BASE.cells)
    changes = [
        change(1, NX, None, "Chăm chỉ"),  # a comment: no result moves
        change(2, CK, "8.0", "2.0"),  # toán's term average falls below 6.5: learning T → K
        change(3, CK, "2.0", "2.5"),  # the average moves a little; the rating stays K
        change(4, CK, "2.5", "8.0"),  # back: learning K → T again
    ]
    impacts = replay(cells, changes, compute)

    assert [i.alters_results for i in impacts] == [False, True, True, True]
    moved = {r.key: (r.before, r.after) for r in impacts[1].results}
    assert moved["subject_average.term_1.toan"][0] == "8.0"
    assert moved["learning.term_1"] == ("T", "K")
    assert "learning.term_1" not in {r.key for r in impacts[2].results}
    assert {r.key for r in impacts[2].results} >= {"subject_average.term_1.toan"}
    assert {r.key: (r.before, r.after) for r in impacts[3].results}["learning.term_1"] == (
        "K",
        "T",
    )
    # The labels travel with the values so the inspector's table reads on its own.
    learning = next(r for r in impacts[1].results if r.key == "learning.term_1")
    assert learning.label_before_vi
    assert learning.label_after_vi
    assert learning.label_before_vi != learning.label_after_vi


def test_cells_before_undoes_the_changes_from_the_last() -> None:
    now = {CK: "9.0", ("toan", "term_1", "gk"): "7.0"}
    changes = [
        change(1, CK, None, "5.0"),
        change(2, CK, "5.0", "9.0"),
        change(3, ("toan", "term_1", "gk"), None, "7.0"),
    ]
    assert cells_before(now, changes) == {}
    assert cells_before(now, changes[1:]) == {CK: "5.0"}


def test_clearing_a_cell_makes_results_pending() -> None:
    impacts = replay(BASE.cells, [change(1, CK, "8.0", None)], compute)
    moved = {r.key: (r.before, r.after) for r in impacts[0].results}
    assert moved["learning.term_1"] == ("T", None)


def test_result_diff_of_equal_results_is_empty() -> None:
    results = compute(BASE.cells)
    assert result_diff(results, results) == ()


def test_replay_computes_once_per_change() -> None:
    calls = 0

    def counting(cells: Mapping[CellKey, str]) -> StudentResults:
        nonlocal calls
        calls += 1
        return compute(cells)

    replay(BASE.cells, [change(n, CK, None, f"{n}.0") for n in range(1, 6)], counting)
    assert calls == 6
