"""Absence days from roll-call marks, and the 45-buổi limit: worked examples and properties.

Requirement ids: R14 (roll calls per session, within 30 minutes; attendance). DOMAIN §1.9 and
§7.3: at secondary level a student with ≤ 45 days of absence may be promoted; excused (có phép)
and unexcused (không phép) days both count; one day is one buổi of a one-session plan even in
two-session schools (rolls per session, days per date); primary has no limit.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attendance.domain.counting import (
    Absence,
    AbsenceDays,
    DayRule,
    LimitStatus,
    Mark,
    Spell,
    absence_days,
    day_absence,
    is_absent,
    limit_status,
)
from common.events.attendance import Session

MORNING, AFTERNOON = Session.MORNING, Session.AFTERNOON
P, L = Mark.PRESENT, Mark.LATE
EX, UN = Mark.ABSENT_EXCUSED, Mark.ABSENT_UNEXCUSED
WHOLE, ANY = DayRule.WHOLE_DAY, DayRule.ANY_SESSION

Rolls = dict[date, dict[Session, dict[uuid.UUID, Mark]]]

AN, BINH, CHI, DUNG = (uuid.UUID(int=n) for n in range(1, 5))
OCT = [date(2025, 10, d) for d in (6, 7, 8, 9, 10)]  # Monday to Friday


def test_only_the_two_absent_marks_are_absences() -> None:
    assert [mark for mark in Mark if is_absent(mark)] == [EX, UN]
    assert not is_absent(L)  # đi muộn is present


# --- One date ------------------------------------------------------------------------------------


def test_no_roll_no_absence() -> None:
    assert day_absence({}, WHOLE) is None
    assert day_absence({}, ANY) is None


@pytest.mark.parametrize("rule", list(DayRule))
def test_one_session_school_counts_its_one_session(rule: DayRule) -> None:
    assert day_absence({MORNING: UN}, rule) is Absence.UNEXCUSED
    assert day_absence({MORNING: EX}, rule) is Absence.EXCUSED
    assert day_absence({MORNING: P}, rule) is None
    assert day_absence({MORNING: L}, rule) is None


@pytest.mark.parametrize("rule", list(DayRule))
def test_absent_from_both_sessions_is_one_day_not_two(rule: DayRule) -> None:
    assert day_absence({MORNING: UN, AFTERNOON: UN}, rule) is Absence.UNEXCUSED
    assert day_absence({MORNING: EX, AFTERNOON: EX}, rule) is Absence.EXCUSED
    days = absence_days({OCT[0]: {MORNING: {AN: UN}, AFTERNOON: {AN: UN}}}, everyone(AN), rule)
    assert days[AN] == AbsenceDays(unexcused=1)


def test_missing_only_the_afternoon_is_no_day_under_whole_day() -> None:
    assert day_absence({MORNING: P, AFTERNOON: UN}, WHOLE) is None
    assert day_absence({MORNING: L, AFTERNOON: EX}, WHOLE) is None
    assert day_absence({MORNING: UN, AFTERNOON: P}, WHOLE) is None


def test_missing_only_the_afternoon_is_a_day_under_any_session() -> None:
    assert day_absence({MORNING: P, AFTERNOON: UN}, ANY) is Absence.UNEXCUSED
    assert day_absence({MORNING: L, AFTERNOON: EX}, ANY) is Absence.EXCUSED
    assert day_absence({MORNING: UN, AFTERNOON: P}, ANY) is Absence.UNEXCUSED


@pytest.mark.parametrize("rule", list(DayRule))
def test_excused_morning_and_unexcused_afternoon_make_an_unexcused_day(rule: DayRule) -> None:
    assert day_absence({MORNING: EX, AFTERNOON: UN}, rule) is Absence.UNEXCUSED
    assert day_absence({MORNING: UN, AFTERNOON: EX}, rule) is Absence.UNEXCUSED


def test_under_any_session_only_the_absent_sessions_decide_excused() -> None:
    assert day_absence({MORNING: EX, AFTERNOON: P}, ANY) is Absence.EXCUSED
    assert day_absence({MORNING: P, AFTERNOON: EX}, ANY) is Absence.EXCUSED


# --- Spells and totals ---------------------------------------------------------------------------


def everyone(*students: uuid.UUID) -> dict[uuid.UUID, list[Spell]]:
    return {student: [Spell(date(2025, 9, 5))] for student in students}


def test_spells_are_inclusive_at_both_ends_and_open_without_an_end() -> None:
    spell = Spell(OCT[1], OCT[3])
    assert [spell.covers(day) for day in OCT] == [False, True, True, True, False]
    assert Spell(OCT[1]).covers(date(2026, 5, 30))
    assert not Spell(OCT[1]).covers(OCT[0])
    assert Spell(OCT[1], OCT[1]).covers(OCT[1])
    with pytest.raises(ValueError, match="spell"):
        Spell(OCT[1], OCT[0])


def test_absence_days_add_and_total() -> None:
    days = AbsenceDays(2, 3) + AbsenceDays(unexcused=1)
    assert days == AbsenceDays(excused=2, unexcused=4)
    assert days.total == 6
    assert AbsenceDays().total == 0
    with pytest.raises(TypeError):
        _ = AbsenceDays() + 1
    with pytest.raises(ValueError, match="negative"):
        AbsenceDays(-1, 0)


def two_session_week() -> Rolls:
    """A week of a two-session class: An present, Bình and Chi absent in various ways."""
    return {
        OCT[0]: {MORNING: {AN: P, BINH: UN, CHI: EX}, AFTERNOON: {AN: P, BINH: UN, CHI: EX}},
        OCT[1]: {MORNING: {AN: L, BINH: EX, CHI: P}, AFTERNOON: {AN: P, BINH: UN, CHI: UN}},
        OCT[2]: {MORNING: {AN: P, BINH: EX, CHI: UN}, AFTERNOON: {AN: P, BINH: EX, CHI: P}},
        OCT[3]: {MORNING: {AN: P, BINH: P, CHI: P}, AFTERNOON: {AN: P, BINH: EX, CHI: P}},
        OCT[4]: {MORNING: {AN: P, BINH: P, CHI: P}},  # no afternoon roll on Friday
    }


def test_two_session_week_under_whole_day() -> None:
    assert absence_days(two_session_week(), everyone(AN, BINH, CHI), WHOLE) == {
        AN: AbsenceDays(),
        BINH: AbsenceDays(excused=1, unexcused=2),  # Mon UN+UN, Tue EX+UN, Wed EX+EX
        CHI: AbsenceDays(excused=1),  # Mon EX+EX only
    }


def test_two_session_week_under_any_session() -> None:
    assert absence_days(two_session_week(), everyone(AN, BINH, CHI), ANY) == {
        AN: AbsenceDays(),
        BINH: AbsenceDays(excused=2, unexcused=2),  # Mon, Tue, Wed, and Thu's afternoon
        CHI: AbsenceDays(excused=1, unexcused=2),  # Mon EX, Tue UN afternoon, Wed UN morning
    }


def test_student_joining_mid_month_is_not_counted_before_joining() -> None:
    rolls: Rolls = {
        OCT[0]: {MORNING: {AN: UN, DUNG: UN}},  # Dũng's mark before joining is a slip
        OCT[1]: {MORNING: {AN: P}},
        OCT[2]: {MORNING: {AN: P, DUNG: EX}},
        OCT[3]: {MORNING: {AN: P, DUNG: UN}},
    }
    spells = {AN: [Spell(date(2025, 9, 5))], DUNG: [Spell(OCT[2])]}
    assert absence_days(rolls, spells, WHOLE) == {
        AN: AbsenceDays(unexcused=1),
        DUNG: AbsenceDays(excused=1, unexcused=1),
    }


def test_student_leaving_and_coming_back_counts_only_the_days_in_class() -> None:
    rolls: Rolls = {day: {MORNING: {CHI: UN}} for day in OCT}
    spells = {CHI: [Spell(OCT[0], OCT[1]), Spell(OCT[4])]}
    assert absence_days(rolls, spells, WHOLE) == {CHI: AbsenceDays(unexcused=3)}


def test_who_appears_in_the_totals() -> None:
    rolls: Rolls = {OCT[2]: {MORNING: {AN: P, BINH: UN}}}
    spells = {
        AN: [Spell(OCT[0])],
        CHI: [Spell(OCT[0], OCT[1])],  # left before the only date: left out
        DUNG: [Spell(OCT[0])],  # in class but on no roll: zeros
    }
    # Bình is on the roll but not in the class list: not counted.
    assert absence_days(rolls, spells, WHOLE) == {AN: AbsenceDays(), DUNG: AbsenceDays()}
    assert absence_days({}, spells, WHOLE) == {}


def test_a_roll_that_does_not_list_the_student_neither_makes_nor_spoils_a_day() -> None:
    # Chi is not on the afternoon roll (not enrolled in the afternoon): her absent morning is her
    # whole day; Bình, on neither roll of Tuesday, is not absent.
    rolls: Rolls = {
        OCT[0]: {MORNING: {BINH: P, CHI: UN}, AFTERNOON: {BINH: P}},
        OCT[1]: {MORNING: {AN: P}, AFTERNOON: {AN: P}},
    }
    assert absence_days(rolls, everyone(BINH, CHI), WHOLE) == {
        BINH: AbsenceDays(),
        CHI: AbsenceDays(unexcused=1),
    }


# --- The 45-buổi limit ---------------------------------------------------------------------------


def test_forty_five_days_is_still_promoted_and_forty_six_is_over() -> None:
    assert limit_status(45) is LimitStatus.NEAR
    assert limit_status(46) is LimitStatus.OVER


def test_warning_starts_at_thirty_six_days() -> None:
    assert limit_status(0) is LimitStatus.WITHIN
    assert limit_status(35) is LimitStatus.WITHIN
    assert limit_status(36) is LimitStatus.NEAR


def test_limit_and_warning_can_be_set() -> None:
    assert limit_status(30, limit=30, warn_from=25) is LimitStatus.NEAR
    assert limit_status(31, limit=30, warn_from=25) is LimitStatus.OVER
    assert limit_status(24, limit=30, warn_from=25) is LimitStatus.WITHIN
    assert limit_status(45, warn_from=45) is LimitStatus.NEAR


def test_limit_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="negative"):
        limit_status(-1)
    with pytest.raises(ValueError, match="warn_from"):
        limit_status(10, limit=45, warn_from=46)


# --- Properties ----------------------------------------------------------------------------------

# Pure and quick, but the shared test machine can be busy: timing is not what is tested.
UNHURRIED = settings(deadline=None)

STUDENTS = (AN, BINH, CHI, DUNG)
FIRST = date(2025, 10, 1)

marks = st.sampled_from(list(Mark))
absent_marks = st.sampled_from([EX, UN])
sessions = st.sampled_from(list(Session))
rules = st.sampled_from(list(DayRule))
dates = st.integers(0, 30).map(lambda n: FIRST + timedelta(days=n))
session_marks = st.dictionaries(sessions, marks)
rolls_st = st.dictionaries(
    dates, st.dictionaries(sessions, st.dictionaries(st.sampled_from(STUDENTS), marks)), max_size=10
)
spell_st = st.builds(
    lambda start, length: Spell(
        FIRST + timedelta(days=start),
        None if length is None else FIRST + timedelta(days=start + length),
    ),
    st.integers(-5, 30),
    st.none() | st.integers(0, 20),
)
spells_st = st.dictionaries(st.sampled_from(STUDENTS), st.lists(spell_st, max_size=3))


def copy(rolls: Rolls) -> Rolls:
    return {
        day: {s: dict(roll) for s, roll in by_session.items()} for day, by_session in rolls.items()
    }


@UNHURRIED
@given(session_marks)
def test_a_whole_day_absence_is_an_any_session_absence_of_the_same_kind(
    by_session: dict[Session, Mark],
) -> None:
    whole = day_absence(by_session, WHOLE)
    if whole is not None:
        assert day_absence(by_session, ANY) is whole


@UNHURRIED
@given(rolls_st, spells_st)
def test_any_session_totals_are_at_least_whole_day_totals(
    rolls: Rolls, spells: dict[uuid.UUID, list[Spell]]
) -> None:
    whole = absence_days(rolls, spells, WHOLE)
    anyone = absence_days(rolls, spells, ANY)
    assert whole.keys() == anyone.keys()
    for student, days in whole.items():
        assert anyone[student].total >= days.total
        # A day that counts under both rules is of the same kind, so the unexcused never fall.
        assert anyone[student].unexcused >= days.unexcused


@UNHURRIED
@given(rolls_st, spells_st, rules)
def test_absence_days_never_exceed_the_dates_in_class(
    rolls: Rolls, spells: dict[uuid.UUID, list[Spell]], rule: DayRule
) -> None:
    result = absence_days(rolls, spells, rule)
    for student, student_spells in spells.items():
        covered = sum(1 for day in rolls if any(spell.covers(day) for spell in student_spells))
        if covered == 0:
            assert student not in result
        else:
            days = result[student]
            assert days.excused >= 0
            assert days.unexcused >= 0
            assert days.excused + days.unexcused <= covered
    assert result.keys() <= spells.keys()


@UNHURRIED
@given(rolls_st, spells_st, rules, dates, sessions, st.sampled_from(STUDENTS), absent_marks)
def test_adding_an_absent_mark_never_lowers_a_total(
    rolls: Rolls,
    spells: dict[uuid.UUID, list[Spell]],
    rule: DayRule,
    day: date,
    session: Session,
    student: uuid.UUID,
    mark: Mark,
) -> None:
    before = absence_days(rolls, spells, rule)
    more = copy(rolls)
    more.setdefault(day, {}).setdefault(session, {})[student] = mark
    after = absence_days(more, spells, rule)
    for who, days in before.items():
        assert after[who].total >= days.total
    for who in set(after) - set(before):
        assert who == student or after[who] == AbsenceDays()


@UNHURRIED
@given(rolls_st, spells_st, rules)
def test_totals_add_up_over_disjoint_sets_of_dates(
    rolls: Rolls, spells: dict[uuid.UUID, list[Spell]], rule: DayRule
) -> None:
    ordered = sorted(rolls)
    half = len(ordered) // 2
    early = absence_days({d: rolls[d] for d in ordered[:half]}, spells, rule)
    late = absence_days({d: rolls[d] for d in ordered[half:]}, spells, rule)
    whole = absence_days(rolls, spells, rule)
    for student, days in whole.items():
        assert days == early.get(student, AbsenceDays()) + late.get(student, AbsenceDays())


@UNHURRIED
@given(st.integers(0, 200), st.integers(0, 200))
def test_limit_status_never_improves_with_more_days(a: int, b: int) -> None:
    order = [LimitStatus.WITHIN, LimitStatus.NEAR, LimitStatus.OVER]
    low, high = sorted((a, b))
    assert order.index(limit_status(low)) <= order.index(limit_status(high))
    assert (limit_status(high) is LimitStatus.OVER) == (high > 45)
