"""School days, bell schedules and roll-call deadlines (R14: the roll within 30 minutes).

Times of day are naive local times in Vietnam, as a school's timetable (thời khóa biểu) states
them; instants are aware datetimes, and deadlines are returned in UTC so that the database and
the deadline sweep compare like with like.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from common.events.attendance import Session

# Vietnam has kept UTC+7 without daylight saving since 1975, so local wall-clock arithmetic and
# UTC arithmetic agree; the zone is still named rather than hard-coded as +07:00 for clarity.
VIETNAM: Final = ZoneInfo("Asia/Ho_Chi_Minh")

# R14's default; a province may set another grace, so every function takes it as a parameter.
ROLL_CALL_GRACE: Final = timedelta(minutes=30)

ISO_WEEKDAYS: Final = frozenset(range(1, 8))
MAX_PERIODS: Final = 6
PERIOD_MINUTES: Final = range(20, 91)
BREAK_MINUTES: Final = range(31)
LONG_BREAK_MINUTES: Final = range(61)
# Morning must start before noon and the afternoon not before 11:00: some afternoon sessions in
# two-session primary schools start before midday, but never before 11:00.
MORNING_STARTS_BEFORE: Final = time(12, 0)
AFTERNOON_STARTS_FROM: Final = time(11, 0)
_DAY: Final = timedelta(days=1)


def _since_midnight(clock: time) -> timedelta:
    return timedelta(
        hours=clock.hour, minutes=clock.minute, seconds=clock.second, microseconds=clock.microsecond
    )


def _clock(offset: timedelta) -> time:
    # Callers have checked that the offset stays within the day, so nothing wraps past midnight.
    seconds, microsecond = divmod(offset // timedelta(microseconds=1), 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, microsecond)


def _check_weekdays(weekdays: frozenset[int]) -> None:
    if not weekdays or not weekdays <= ISO_WEEKDAYS:
        raise ValueError(f"weekdays must be a non-empty set of ISO weekdays 1..7, got {weekdays}")


@dataclass(frozen=True, slots=True)
class SessionBells:
    """The bells of one session (buổi): when its periods (tiết) start and end, local time."""

    session: Session
    first_period_start: time
    period_minutes: int = 45
    break_minutes: int = 5
    periods: int = 5
    long_break_after: int | None = 2  # the long break (ra chơi) follows this period
    long_break_minutes: int = 15

    def __post_init__(self) -> None:
        if self.first_period_start.tzinfo is not None:
            raise ValueError("first_period_start must be a naive local time")
        if not 1 <= self.periods <= MAX_PERIODS:
            raise ValueError(f"periods must be 1..{MAX_PERIODS}, got {self.periods}")
        if self.period_minutes not in PERIOD_MINUTES:
            raise ValueError(f"period_minutes must be 20..90, got {self.period_minutes}")
        if self.break_minutes not in BREAK_MINUTES:
            raise ValueError(f"break_minutes must be 0..30, got {self.break_minutes}")
        if self.long_break_minutes not in LONG_BREAK_MINUTES:
            raise ValueError(f"long_break_minutes must be 0..60, got {self.long_break_minutes}")
        # A long break after the last period or later has no effect, so it is allowed: a
        # one-period session keeps the default of 2 without the caller having to clear it.
        if self.long_break_after is not None and self.long_break_after < 1:
            raise ValueError(f"long_break_after must be at least 1, got {self.long_break_after}")
        if self.session is Session.MORNING and self.first_period_start >= MORNING_STARTS_BEFORE:
            raise ValueError(f"a morning session must start before 12:00, not {self.starts_at}")
        if self.session is Session.AFTERNOON and self.first_period_start < AFTERNOON_STARTS_FROM:
            raise ValueError(
                f"an afternoon session must start at 11:00 or later, not {self.starts_at}"
            )
        if self._end_offset() >= _DAY:
            raise ValueError(f"the {self.session} session must end before midnight")

    def _offsets(self) -> Iterator[tuple[timedelta, timedelta]]:
        start = _since_midnight(self.first_period_start)
        period = timedelta(minutes=self.period_minutes)
        for number in range(1, self.periods + 1):
            end = start + period
            yield start, end
            gap = self.long_break_minutes if number == self.long_break_after else self.break_minutes
            start = end + timedelta(minutes=gap)

    def _end_offset(self) -> timedelta:
        return max(end for _, end in self._offsets())

    @property
    def starts_at(self) -> time:
        """When the first period starts."""
        return self.first_period_start

    @property
    def ends_at(self) -> time:
        """When the last period ends (no break follows it)."""
        return _clock(self._end_offset())

    def period_times(self) -> tuple[tuple[time, time], ...]:
        """Start and end of each period of the session, in order, naive local times."""
        return tuple((_clock(start), _clock(end)) for start, end in self._offsets())


@dataclass(frozen=True, slots=True)
class BellSchedule:
    """A school's day: one session, or two (học 2 buổi/ngày), and the weekdays it works."""

    sessions: tuple[SessionBells, ...]
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5, 6})

    def __post_init__(self) -> None:
        if not 1 <= len(self.sessions) <= len(Session):
            raise ValueError(f"a school day has 1 or 2 sessions, got {len(self.sessions)}")
        if len(self.sessions) == len(Session):
            morning, afternoon = self.sessions
            if (morning.session, afternoon.session) != (Session.MORNING, Session.AFTERNOON):
                raise ValueError("two sessions must be a morning then an afternoon")
            if morning.ends_at > afternoon.first_period_start:
                raise ValueError(
                    f"the morning ends at {morning.ends_at}, after the afternoon starts at "
                    f"{afternoon.first_period_start}"
                )
        _check_weekdays(self.weekdays)

    @property
    def first_session(self) -> SessionBells:
        """The earliest session of the day."""
        return self.sessions[0]

    @property
    def two_sessions(self) -> bool:
        return len(self.sessions) == len(Session)

    def bells(self, session: Session) -> SessionBells:
        """The bells of ``session``; ``KeyError`` when the school does not hold it."""
        for bells in self.sessions:
            if bells.session is session:
                return bells
        raise KeyError(session)


class NotSchoolDay(StrEnum):
    """Why a date is not a school day; the reason is shown to the teacher who asks for a roll."""

    OUTSIDE_TERMS = "outside_terms"
    HOLIDAY = "holiday"
    DAY_OFF = "day_off"


@dataclass(frozen=True, slots=True)
class SchoolCalendar:
    """A school year's calendar (khung kế hoạch thời gian năm học): terms, holidays, make-ups."""

    terms: tuple[tuple[date, date], ...]  # inclusive (first day, last day) of each term
    weekdays: frozenset[int]
    holidays: frozenset[date] = frozenset()
    make_up_days: frozenset[date] = frozenset()  # a day off declared a school day (học bù)

    def __post_init__(self) -> None:
        for first, last in self.terms:
            if first > last:
                raise ValueError(f"a term cannot end ({last}) before it starts ({first})")
        _check_weekdays(self.weekdays)

    def why_not_school_day(self, day: date) -> NotSchoolDay | None:
        """None on a school day, else the reason, most decisive first."""
        if not any(first <= day <= last for first, last in self.terms):
            return NotSchoolDay.OUTSIDE_TERMS
        # A holiday wins over a make-up day: declaring a make-up on a public holiday is a data
        # error, and the holiday is the one fixed by law.
        if day in self.holidays:
            return NotSchoolDay.HOLIDAY
        if day in self.make_up_days:
            return None
        if day.isoweekday() not in self.weekdays:
            return NotSchoolDay.DAY_OFF
        return None

    def is_school_day(self, day: date) -> bool:
        return self.why_not_school_day(day) is None

    def school_days(self, first: date, last: date) -> list[date]:
        """School days from ``first`` to ``last`` inclusive; empty when ``last`` < ``first``."""
        count = (last - first).days + 1
        days = (first + timedelta(days=n) for n in range(max(count, 0)))
        return [day for day in days if self.is_school_day(day)]


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {instant.isoformat()}")


def deadline(day: date, bells: SessionBells, grace: timedelta = ROLL_CALL_GRACE) -> datetime:
    """When the roll of ``bells.session`` on ``day`` is due, in UTC (R14).

    The grace counts from the first period's start, not from its end: the roll is taken at the
    start of the session, and late arrivals are marked on it.
    """
    if grace < timedelta(0):
        raise ValueError(f"grace cannot be negative, got {grace}")
    local = datetime.combine(day, bells.first_period_start, tzinfo=VIETNAM)
    return local.astimezone(UTC) + grace


def is_late(received_at: datetime, deadline: datetime) -> bool:
    """Whether a roll received at ``received_at`` missed ``deadline``; the deadline is on time."""
    _require_aware(received_at, "received_at")
    _require_aware(deadline, "deadline")
    return received_at > deadline


def local_day(instant: datetime) -> date:
    """The date in Vietnam at ``instant``: 23:30 UTC is already the next day there."""
    _require_aware(instant, "instant")
    return instant.astimezone(VIETNAM).date()


def period_session(schedule: BellSchedule, period: int) -> tuple[Session, int]:
    """The session and the period within it of the day's ``period``-th period (from 1).

    Timetables of two-session schools number periods across the day (tiết 6 is the afternoon's
    first after a five-period morning), while roll calls are per session.
    """
    if period >= 1:
        within = period
        for bells in schedule.sessions:
            if within <= bells.periods:
                return bells.session, within
            within -= bells.periods
    total = sum(bells.periods for bells in schedule.sessions)
    raise ValueError(f"period must be 1..{total}, got {period}")
