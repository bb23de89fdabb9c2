"""School days, bell schedules and roll-call deadlines: worked examples and properties.

Requirement ids: R14 (the roll call (điểm danh) of each session within 30 minutes of the first
period, the grace set by the province; attendance). Days and sessions as DOMAIN §1.9 and §7.3
count them: rolls per session, one buổi per day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attendance.domain.calendar import (
    ROLL_CALL_GRACE,
    VIETNAM,
    BellSchedule,
    NotSchoolDay,
    SchoolCalendar,
    SessionBells,
    deadline,
    is_late,
    local_day,
    period_session,
)
from common.events.attendance import Session

MORNING, AFTERNOON = Session.MORNING, Session.AFTERNOON
GRACE = timedelta(minutes=30)
MON_SAT = frozenset({1, 2, 3, 4, 5, 6})
MON_FRI = frozenset({1, 2, 3, 4, 5})

# 2025-2026: term 1 to Saturday 17 January, term 2 from Monday 19 January.
TERM_1 = (date(2025, 9, 5), date(2026, 1, 17))
TERM_2 = (date(2026, 1, 19), date(2026, 5, 30))
NEW_YEAR = date(2026, 1, 1)  # a Thursday, public holiday
MAKE_UP_SATURDAY = date(2026, 1, 10)
MONDAY = date(2025, 10, 6)
SATURDAY = date(2025, 10, 11)


def two_session_day() -> BellSchedule:
    return BellSchedule(
        (
            SessionBells(MORNING, time(7, 0)),
            SessionBells(AFTERNOON, time(13, 30), periods=4),
        )
    )


def test_dates_of_the_examples_fall_on_the_weekdays_they_claim() -> None:
    assert NEW_YEAR.isoweekday() == 4
    assert MAKE_UP_SATURDAY.isoweekday() == 6
    assert MONDAY.isoweekday() == 1
    assert SATURDAY.isoweekday() == 6


# --- Bells ---------------------------------------------------------------------------------------


def test_default_morning_has_five_45_minute_periods_with_a_long_break_after_the_second() -> None:
    assert SessionBells(MORNING, time(7, 0)).period_times() == (
        (time(7, 0), time(7, 45)),
        (time(7, 50), time(8, 35)),
        (time(8, 50), time(9, 35)),
        (time(9, 40), time(10, 25)),
        (time(10, 30), time(11, 15)),
    )


def test_session_without_long_break_only_has_short_breaks() -> None:
    bells = SessionBells(
        AFTERNOON, time(13, 30), period_minutes=35, periods=3, long_break_after=None
    )
    assert bells.period_times() == (
        (time(13, 30), time(14, 5)),
        (time(14, 10), time(14, 45)),
        (time(14, 50), time(15, 25)),
    )
    assert bells.ends_at == time(15, 25)


def test_one_period_session_keeps_the_default_long_break_harmlessly() -> None:
    assert SessionBells(MORNING, time(7, 0), periods=1).period_times() == (
        (time(7, 0), time(7, 45)),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": 0}, "periods"),
        ({"periods": 7}, "periods"),
        ({"period_minutes": 19}, "period_minutes"),
        ({"period_minutes": 91}, "period_minutes"),
        ({"break_minutes": -1}, "break_minutes"),
        ({"long_break_minutes": 61}, "long_break_minutes"),
        ({"long_break_after": 0}, "long_break_after"),
    ],
)
def test_bells_refuse_impossible_settings(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SessionBells(MORNING, time(7, 0), **kwargs)


def test_morning_must_start_before_noon_and_afternoon_from_eleven() -> None:
    assert SessionBells(MORNING, time(11, 59), periods=1).starts_at == time(11, 59)
    assert SessionBells(AFTERNOON, time(11, 0)).starts_at == time(11, 0)
    with pytest.raises(ValueError, match="morning"):
        SessionBells(MORNING, time(12, 0))
    with pytest.raises(ValueError, match="afternoon"):
        SessionBells(AFTERNOON, time(10, 59))


def test_session_must_end_the_same_day() -> None:
    with pytest.raises(ValueError, match="midnight"):
        SessionBells(AFTERNOON, time(22, 0), periods=3, period_minutes=60)
    assert SessionBells(AFTERNOON, time(22, 0), periods=1, period_minutes=90).ends_at == time(
        23, 30
    )


def test_first_period_start_is_a_naive_local_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        SessionBells(MORNING, time(7, 0, tzinfo=VIETNAM))


def test_two_session_schedule_gives_the_bells_of_each_session() -> None:
    schedule = two_session_day()
    assert schedule.two_sessions
    assert schedule.first_session.session is MORNING
    assert schedule.bells(AFTERNOON).first_period_start == time(13, 30)
    assert schedule.weekdays == MON_SAT


def test_afternoon_only_school_has_no_morning_bells() -> None:
    schedule = BellSchedule((SessionBells(AFTERNOON, time(13, 30)),), weekdays=MON_FRI)
    assert not schedule.two_sessions
    assert schedule.first_session.session is AFTERNOON
    with pytest.raises(KeyError):
        schedule.bells(MORNING)


@pytest.mark.parametrize(
    "sessions",
    [
        (),
        (SessionBells(AFTERNOON, time(13, 0)), SessionBells(MORNING, time(7, 0))),
        (SessionBells(MORNING, time(7, 0)), SessionBells(MORNING, time(9, 0))),
        (SessionBells(AFTERNOON, time(13, 0)), SessionBells(AFTERNOON, time(15, 0))),
        (
            SessionBells(MORNING, time(7, 0)),
            SessionBells(AFTERNOON, time(13, 0)),
            SessionBells(AFTERNOON, time(15, 0)),
        ),
    ],
)
def test_schedule_has_one_session_or_a_morning_then_an_afternoon(
    sessions: tuple[SessionBells, ...],
) -> None:
    with pytest.raises(ValueError, match="session"):
        BellSchedule(sessions)


def test_morning_cannot_run_into_the_afternoon() -> None:
    # The default morning from 07:00 ends at 11:15.
    with pytest.raises(ValueError, match="after the afternoon starts"):
        BellSchedule((SessionBells(MORNING, time(7, 0)), SessionBells(AFTERNOON, time(11, 10))))
    touching = BellSchedule(
        (SessionBells(MORNING, time(7, 0)), SessionBells(AFTERNOON, time(11, 15)))
    )
    assert touching.two_sessions


@pytest.mark.parametrize("weekdays", [frozenset(), frozenset({0, 1}), frozenset({1, 8})])
def test_weekdays_are_iso_weekdays(weekdays: frozenset[int]) -> None:
    with pytest.raises(ValueError, match="weekdays"):
        BellSchedule((SessionBells(MORNING, time(7, 0)),), weekdays=weekdays)
    with pytest.raises(ValueError, match="weekdays"):
        SchoolCalendar((TERM_1,), weekdays)


def test_periods_are_numbered_across_the_day() -> None:
    schedule = two_session_day()  # five in the morning, four in the afternoon
    assert period_session(schedule, 1) == (MORNING, 1)
    assert period_session(schedule, 5) == (MORNING, 5)
    assert period_session(schedule, 6) == (AFTERNOON, 1)
    assert period_session(schedule, 9) == (AFTERNOON, 4)
    for period in (0, -1, 10):
        with pytest.raises(ValueError, match=r"1\.\.9"):
            period_session(schedule, period)


def test_afternoon_only_school_numbers_its_periods_from_one() -> None:
    schedule = BellSchedule((SessionBells(AFTERNOON, time(13, 30)),))
    assert period_session(schedule, 1) == (AFTERNOON, 1)
    with pytest.raises(ValueError, match="period"):
        period_session(schedule, 6)


# --- Calendar ------------------------------------------------------------------------------------


def calendar(weekdays: frozenset[int] = MON_FRI) -> SchoolCalendar:
    return SchoolCalendar(
        (TERM_1, TERM_2),
        weekdays,
        holidays=frozenset({NEW_YEAR}),
        make_up_days=frozenset({MAKE_UP_SATURDAY}),
    )


def test_weekday_within_a_term_is_a_school_day() -> None:
    assert calendar().why_not_school_day(MONDAY) is None
    assert calendar().is_school_day(MONDAY)


def test_saturday_is_a_day_off_for_a_monday_to_friday_school_only() -> None:
    assert calendar(MON_FRI).why_not_school_day(SATURDAY) is NotSchoolDay.DAY_OFF
    assert calendar(MON_SAT).why_not_school_day(SATURDAY) is None
    assert calendar(MON_SAT).why_not_school_day(SATURDAY + timedelta(days=1)) is (
        NotSchoolDay.DAY_OFF
    )


def test_holiday_on_a_weekday_is_not_a_school_day() -> None:
    assert calendar().why_not_school_day(NEW_YEAR) is NotSchoolDay.HOLIDAY
    assert not calendar().is_school_day(NEW_YEAR)


def test_make_up_saturday_is_a_school_day_in_a_monday_to_friday_school() -> None:
    assert calendar(MON_FRI).why_not_school_day(MAKE_UP_SATURDAY) is None
    assert calendar(MON_FRI).why_not_school_day(MAKE_UP_SATURDAY + timedelta(days=7)) is (
        NotSchoolDay.DAY_OFF
    )


def test_holiday_wins_over_a_make_up_day() -> None:
    both = SchoolCalendar(
        (TERM_1,), MON_FRI, holidays=frozenset({NEW_YEAR}), make_up_days=frozenset({NEW_YEAR})
    )
    assert both.why_not_school_day(NEW_YEAR) is NotSchoolDay.HOLIDAY


def test_outside_terms_wins_over_everything() -> None:
    between_terms = date(2026, 1, 18)  # a Sunday
    summer = date(2026, 7, 6)  # a Monday
    declared = SchoolCalendar(
        (TERM_1, TERM_2),
        MON_SAT,
        holidays=frozenset({summer}),
        make_up_days=frozenset({between_terms, summer}),
    )
    assert declared.why_not_school_day(between_terms) is NotSchoolDay.OUTSIDE_TERMS
    assert declared.why_not_school_day(summer) is NotSchoolDay.OUTSIDE_TERMS
    assert declared.why_not_school_day(TERM_1[0] - timedelta(days=1)) is (
        NotSchoolDay.OUTSIDE_TERMS
    )


def test_terms_are_inclusive_at_both_ends() -> None:
    cal = SchoolCalendar((TERM_1, TERM_2), MON_SAT)
    assert TERM_1[0].isoweekday() == 5
    assert TERM_1[1].isoweekday() == 6
    for day in (TERM_1[0], TERM_1[1], TERM_2[0], TERM_2[1]):
        assert cal.is_school_day(day)


def test_school_days_of_the_new_year_fortnight() -> None:
    days = calendar(MON_FRI).school_days(date(2025, 12, 29), date(2026, 1, 11))
    assert days == [
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
        # 1 January is a holiday
        date(2026, 1, 2),
        date(2026, 1, 5),
        date(2026, 1, 6),
        date(2026, 1, 7),
        date(2026, 1, 8),
        date(2026, 1, 9),
        MAKE_UP_SATURDAY,
    ]


def test_school_days_of_an_empty_range_are_none() -> None:
    assert calendar().school_days(MONDAY, MONDAY - timedelta(days=1)) == []
    assert calendar().school_days(MONDAY, MONDAY) == [MONDAY]


def test_term_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="term"):
        SchoolCalendar(((TERM_1[1], TERM_1[0]),), MON_FRI)


# --- Deadlines -----------------------------------------------------------------------------------


def test_default_grace_is_thirty_minutes() -> None:  # R14
    assert ROLL_CALL_GRACE / timedelta(minutes=1) == 30


def test_seven_o_clock_local_is_midnight_utc() -> None:
    due = deadline(MONDAY, SessionBells(MORNING, time(7, 0)), timedelta(0))
    assert due == datetime(2025, 10, 6, 0, 0, tzinfo=UTC)
    assert due.utcoffset() == timedelta(0)
    local = due.astimezone(VIETNAM)
    assert (local.date(), local.time()) == (MONDAY, time(7, 0))


@pytest.mark.parametrize(
    ("bells", "due_utc"),
    [
        (SessionBells(MORNING, time(7, 0)), datetime(2025, 10, 6, 0, 30, tzinfo=UTC)),
        (SessionBells(MORNING, time(7, 15)), datetime(2025, 10, 6, 0, 45, tzinfo=UTC)),
        (SessionBells(AFTERNOON, time(13, 30)), datetime(2025, 10, 6, 7, 0, tzinfo=UTC)),
    ],
    ids=["first-period-07:00", "first-period-07:15", "afternoon-only-13:30"],
)
def test_deadline_is_thirty_minutes_after_the_first_period_of_each_school(
    bells: SessionBells, due_utc: datetime
) -> None:  # R14
    schedule = BellSchedule((bells,))
    assert deadline(MONDAY, schedule.first_session, GRACE) == due_utc


def test_province_may_set_another_grace() -> None:
    bells = SessionBells(MORNING, time(7, 15))
    assert deadline(MONDAY, bells, timedelta(minutes=15)) == datetime(
        2025, 10, 6, 0, 30, tzinfo=UTC
    )
    assert deadline(MONDAY, bells) == deadline(MONDAY, bells, GRACE)
    with pytest.raises(ValueError, match="grace"):
        deadline(MONDAY, bells, timedelta(minutes=-1))


def test_each_session_of_a_two_session_school_has_its_own_deadline() -> None:
    schedule = two_session_day()
    assert deadline(MONDAY, schedule.bells(MORNING), GRACE) == datetime(
        2025, 10, 6, 0, 30, tzinfo=UTC
    )
    assert deadline(MONDAY, schedule.bells(AFTERNOON), GRACE) == datetime(
        2025, 10, 6, 7, 0, tzinfo=UTC
    )


def test_roll_at_the_deadline_itself_is_on_time() -> None:  # R14
    due = deadline(MONDAY, SessionBells(MORNING, time(7, 0)), GRACE)
    assert not is_late(due, due)
    assert not is_late(due - timedelta(microseconds=1), due)
    assert is_late(due + timedelta(seconds=1), due)
    assert is_late(due + timedelta(microseconds=1), due)


def test_lateness_compares_instants_whatever_their_zone() -> None:
    due = deadline(MONDAY, SessionBells(MORNING, time(7, 0)), GRACE)
    at_the_school = datetime(2025, 10, 6, 7, 30, tzinfo=VIETNAM)
    plus_seven = datetime(2025, 10, 6, 7, 30, 1, tzinfo=timezone(timedelta(hours=7)))
    assert not is_late(at_the_school, due)
    assert is_late(plus_seven, due)


def test_naive_datetimes_are_refused() -> None:
    due = deadline(MONDAY, SessionBells(MORNING, time(7, 0)), GRACE)
    naive = datetime(2025, 10, 6, 7, 30)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="received_at"):
        is_late(naive, due)
    with pytest.raises(ValueError, match="deadline"):
        is_late(due, naive)
    with pytest.raises(ValueError, match="aware"):
        local_day(naive)


def test_local_day_turns_at_17_00_utc() -> None:
    assert local_day(datetime(2025, 10, 5, 16, 59, 59, tzinfo=UTC)) == date(2025, 10, 5)
    assert local_day(datetime(2025, 10, 5, 17, 0, tzinfo=UTC)) == date(2025, 10, 6)
    assert local_day(datetime(2025, 10, 6, 0, 30, tzinfo=VIETNAM)) == date(2025, 10, 6)


# --- Properties ----------------------------------------------------------------------------------

# Pure and quick, but the shared test machine can be busy: timing is not what is tested.
UNHURRIED = settings(deadline=None)

days = st.dates(date(2020, 1, 1), date(2035, 12, 31))
morning_starts = st.times(time(5, 0), time(11, 59, 59))
graces = st.timedeltas(timedelta(0), timedelta(hours=3))


@UNHURRIED
@given(days, morning_starts, morning_starts, graces)
def test_deadline_is_monotonic_in_the_first_period_start(
    day: date, a: time, b: time, grace: timedelta
) -> None:
    early, late = sorted((a, b))
    first = deadline(day, SessionBells(MORNING, early, periods=1), grace)
    second = deadline(day, SessionBells(MORNING, late, periods=1), grace)
    assert first <= second
    assert second - first == datetime.combine(day, late) - datetime.combine(day, early)


@UNHURRIED
@given(days, morning_starts, graces, graces)
def test_deadline_is_monotonic_in_grace(day: date, start: time, a: timedelta, b: timedelta) -> None:
    bells = SessionBells(MORNING, start, periods=1)
    assert (deadline(day, bells, a) <= deadline(day, bells, b)) == (a <= b)
    assert deadline(day, bells, a) - deadline(day, bells, timedelta(0)) == a


@UNHURRIED
@given(days, st.times(time(11, 0), time(18, 0)), graces)
def test_deadline_is_the_local_first_period_plus_grace_in_utc(
    day: date, start: time, grace: timedelta
) -> None:
    due = deadline(day, SessionBells(AFTERNOON, start, periods=1), grace)
    assert due.tzinfo is UTC
    assert due.astimezone(VIETNAM).replace(tzinfo=None) == datetime.combine(day, start) + grace
    assert due - grace + timedelta(hours=7) == datetime.combine(day, start, tzinfo=UTC)
    assert local_day(due - grace) == day


@UNHURRIED
@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_late_exactly_when_received_after_the_deadline(
    received_at: datetime, due: datetime
) -> None:
    assert is_late(received_at, due) == (received_at > due)


@UNHURRIED
@given(
    st.sampled_from([MORNING, AFTERNOON]),
    st.integers(1, 6),
    st.integers(20, 90),
    st.integers(0, 30),
    st.none() | st.integers(1, 6),
    st.integers(0, 60),
)
def test_periods_follow_each_other_and_last_their_length(
    session: Session,
    periods: int,
    period_minutes: int,
    break_minutes: int,
    long_break_after: int | None,
    long_break_minutes: int,
) -> None:
    start = time(7, 0) if session is MORNING else time(11, 0)  # the latest can run 12 hours
    bells = SessionBells(
        session, start, period_minutes, break_minutes, periods, long_break_after, long_break_minutes
    )
    times = [
        (datetime.combine(MONDAY, s), datetime.combine(MONDAY, e)) for s, e in bells.period_times()
    ]
    assert len(times) == periods
    assert times[0][0] == datetime.combine(MONDAY, start)
    assert times[-1][1] == datetime.combine(MONDAY, bells.ends_at)
    for begin, end in times:
        assert end - begin == timedelta(minutes=period_minutes)
    for number, ((_, end), (begin, _)) in enumerate(pairwise(times), 1):
        gap = long_break_minutes if number == long_break_after else break_minutes
        assert begin - end == timedelta(minutes=gap)


@UNHURRIED
@given(st.integers(1, 6), st.none() | st.integers(1, 6))
def test_period_session_numbers_every_period_of_the_day_once(
    morning_periods: int, afternoon_periods: int | None
) -> None:
    sessions = [SessionBells(MORNING, time(7, 0), periods=morning_periods)]
    if afternoon_periods is not None:
        sessions.append(SessionBells(AFTERNOON, time(13, 0), periods=afternoon_periods))
    schedule = BellSchedule(tuple(sessions))
    total = sum(bells.periods for bells in schedule.sessions)
    numbered = [period_session(schedule, period) for period in range(1, total + 1)]
    expected = [
        (bells.session, n) for bells in schedule.sessions for n in range(1, bells.periods + 1)
    ]
    assert numbered == expected
    with pytest.raises(ValueError, match="period"):
        period_session(schedule, total + 1)


@UNHURRIED
@given(
    st.frozensets(st.integers(1, 7), min_size=1),
    st.frozensets(days),
    st.frozensets(days),
    st.dates(date(2020, 1, 1), date(2035, 10, 31)),  # the range stays inside the one term
    st.integers(0, 60),
)
def test_school_days_are_the_days_that_are_school_days(
    weekdays: frozenset[int],
    holidays: frozenset[date],
    make_ups: frozenset[date],
    first: date,
    length: int,
) -> None:
    cal = SchoolCalendar(((date(2020, 1, 1), date(2035, 12, 31)),), weekdays, holidays, make_ups)
    last = first + timedelta(days=length)
    school_days = cal.school_days(first, last)
    assert school_days == sorted(set(school_days))
    every_day = [first + timedelta(days=n) for n in range(length + 1)]
    assert school_days == [day for day in every_day if cal.why_not_school_day(day) is None]
    for day in every_day:
        reason = cal.why_not_school_day(day)
        if day in holidays:
            assert reason is NotSchoolDay.HOLIDAY
        elif day in make_ups or day.isoweekday() in weekdays:
            assert reason is None
        else:
            assert reason is NotSchoolDay.DAY_OFF
