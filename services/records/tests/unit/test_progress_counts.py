"""The pure counting of progress figures: required and entered cells of a sheet, entry deltas,
lateness and the month of an entry (R11, R26)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from records.domain.curriculum import AssessmentForm, Level, Period, SubjectSpec
from records.domain.sheets import CONDUCT_SHEET, QUALITIES_SHEET, homeroom_columns, subject_columns
from records.models import EnrolmentRow
from records.progress import (
    entered_delta,
    in_roster,
    is_late,
    month_of,
    required_codes,
    sheet_counts,
    tracked_periods,
)

TOAN = SubjectSpec("toan", "Toán", AssessmentForm.SCORE, 140, 4)
GDTC = SubjectSpec("gdtc", "Giáo dục thể chất", AssessmentForm.COMMENT, 70, 2)
TV = SubjectSpec(
    "tieng_viet", "Tiếng Việt", AssessmentForm.PRIMARY, None, 0, frozenset({Period.END_TERM_1})
)


def test_required_columns_exclude_comments_and_summer_retests() -> None:
    assert required_codes(subject_columns(TOAN, Period.TERM_1)) == {
        "tx1", "tx2", "tx3", "tx4", "gk", "ck",
    }  # fmt: skip
    assert required_codes(subject_columns(GDTC, Period.TERM_2)) == {"tx1", "tx2", "gk", "ck"}
    assert required_codes(subject_columns(TOAN, Period.SUMMER)) == frozenset()
    assert required_codes(subject_columns(TV, Period.MID_TERM_1)) == {"level"}
    assert required_codes(subject_columns(TV, Period.END_TERM_1)) == {"level", "score"}
    assert required_codes(
        homeroom_columns(CONDUCT_SHEET, Level.LOWER_SECONDARY, Period.TERM_1)
    ) == {"rating"}
    assert (
        len(required_codes(homeroom_columns(QUALITIES_SHEET, Level.PRIMARY, Period.END_YEAR))) == 15
    )


def test_required_is_roster_times_required_columns_and_entered_counts_required_cells() -> None:
    roster = [uuid.uuid4() for _ in range(5)]
    columns = subject_columns(TOAN, Period.TERM_1)
    outsider = uuid.uuid4()
    filled = [
        (roster[0], "tx1"),
        (roster[0], "gk"),
        (roster[0], "nx"),  # a comment: never required
        (roster[1], "ck"),
        (roster[1], "ck"),  # the same cell twice counts once
        (outsider, "tx1"),  # not in the class during the period
    ]
    counts = sheet_counts(roster, columns, filled)
    assert counts.required == 5 * 6
    assert counts.entered == 3


def test_an_empty_roster_requires_nothing() -> None:
    counts = sheet_counts([], subject_columns(TOAN, Period.TERM_1), [(uuid.uuid4(), "tx1")])
    assert (counts.required, counts.entered) == (0, 0)


def test_entered_delta_follows_empty_and_filled() -> None:
    assert entered_delta(None, "8.0") == 1
    assert entered_delta("8.0", None) == -1
    assert entered_delta("8.0", "9.0") == 0
    assert entered_delta(None, None) == 0


def test_late_and_month_are_vietnamese_days() -> None:
    end = date(2026, 1, 15)
    # 23:30 UTC on 15 January is 06:30 on 16 January in Hà Nội: a day late.
    assert is_late(datetime(2026, 1, 15, 23, 30, tzinfo=UTC), end)
    assert not is_late(datetime(2026, 1, 15, 16, 59, tzinfo=UTC), end)
    assert month_of(datetime(2026, 1, 31, 18, 0, tzinfo=UTC)) == date(2026, 2, 1)
    assert month_of(datetime(2026, 1, 31, 16, 0, tzinfo=UTC)) == date(2026, 1, 1)


def test_summer_is_not_tracked() -> None:
    assert tracked_periods(Level.LOWER_SECONDARY) == (Period.TERM_1, Period.TERM_2)
    assert Period.SUMMER not in tracked_periods(Level.UPPER_SECONDARY)
    assert len(tracked_periods(Level.PRIMARY)) == 4


def _enrolment(student: uuid.UUID, starts: date, ends: date | None) -> EnrolmentRow:
    return EnrolmentRow(
        id=uuid.uuid4(),
        student_id=student,
        class_id=uuid.uuid4(),
        school_id=uuid.uuid4(),
        starts_on=starts,
        ends_on=ends,
    )


def test_the_roster_of_a_period_is_everyone_in_the_class_on_any_of_its_days() -> None:
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    enrolments = [
        _enrolment(a, date(2025, 9, 5), None),
        _enrolment(b, date(2025, 9, 5), date(2025, 11, 30)),  # left during term 1
        _enrolment(c, date(2026, 2, 1), None),  # came in term 2
        _enrolment(d, date(2026, 6, 1), None),  # came after the year's terms
    ]
    term_1 = in_roster(enrolments, date(2025, 8, 1), date(2026, 1, 15))
    term_2 = in_roster(enrolments, date(2026, 1, 16), date(2026, 5, 31))
    assert term_1 == {a, b}
    assert term_2 == {a, c}
