"""From roll-call marks to absence days, and the 45-buổi promotion limit (DOMAIN §1.9, §7.3).

Rolls are taken per session, but the limit counts days of a one-session plan: one day is one
buổi even in a two-session school, so a student absent from both sessions misses one day, not
two. Excused (có phép) and unexcused (không phép) absences both count. Primary school has no
limit; callers decide whether to apply ``limit_status`` at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from common.events.attendance import Session

ABSENCE_LIMIT: Final = 45  # buổi per school year, still promoted at exactly 45
WARN_FROM: Final = 36  # four-fifths of the limit: time for the school to call the family


class Mark(StrEnum):
    """A student's mark on one session's roll."""

    PRESENT = "present"
    LATE = "late"  # present, arrived late (đi muộn): not an absence
    ABSENT_EXCUSED = "absent_excused"  # vắng có phép
    ABSENT_UNEXCUSED = "absent_unexcused"  # vắng không phép


_ABSENT: Final = frozenset({Mark.ABSENT_EXCUSED, Mark.ABSENT_UNEXCUSED})


def is_absent(mark: Mark) -> bool:
    return mark in _ABSENT


class DayRule(StrEnum):
    """When a day with more than one session counts as an absence day."""

    # The default: missing only the afternoon of a two-session school misses no buổi of the
    # one-session plan the limit is written for.
    WHOLE_DAY = "whole_day"
    # For a province that counts any missed session; still at most one day per date.
    ANY_SESSION = "any_session"


class Absence(StrEnum):
    EXCUSED = "excused"
    UNEXCUSED = "unexcused"


def day_absence(marks: Mapping[Session, Mark], rule: DayRule) -> Absence | None:
    """The absence a student's ``marks`` for one date add up to, or None if the day is not one.

    ``marks`` holds the sessions whose roll lists the student; a roll that does not list them
    neither makes nor spoils an absence day. The day is excused only when every absent session is.
    """
    absent = [mark for mark in marks.values() if is_absent(mark)]
    if not absent:
        return None
    if rule is DayRule.WHOLE_DAY and len(absent) < len(marks):
        return None
    if all(mark is Mark.ABSENT_EXCUSED for mark in absent):
        return Absence.EXCUSED
    return Absence.UNEXCUSED


@dataclass(frozen=True, slots=True)
class Spell:
    """A time a student spent in a class, both ends inclusive; open while ``ends_on`` is None."""

    starts_on: date
    ends_on: date | None = None

    def __post_init__(self) -> None:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError(f"a spell cannot end ({self.ends_on}) before it starts")

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)


@dataclass(frozen=True, slots=True)
class AbsenceDays:
    """A student's absence days, split as the học bạ reports them."""

    excused: int = 0
    unexcused: int = 0

    def __post_init__(self) -> None:
        if self.excused < 0 or self.unexcused < 0:
            raise ValueError(f"absence days cannot be negative: {self.excused}, {self.unexcused}")

    @property
    def total(self) -> int:
        """The number the 45-buổi limit applies to: both kinds count."""
        return self.excused + self.unexcused

    def __add__(self, other: object) -> AbsenceDays:
        if not isinstance(other, AbsenceDays):
            return NotImplemented
        return AbsenceDays(self.excused + other.excused, self.unexcused + other.unexcused)

    def with_absence(self, absence: Absence | None) -> AbsenceDays:
        """These days plus one day of ``absence`` (unchanged for None)."""
        if absence is Absence.EXCUSED:
            return AbsenceDays(self.excused + 1, self.unexcused)
        if absence is Absence.UNEXCUSED:
            return AbsenceDays(self.excused, self.unexcused + 1)
        return self


def absence_days(
    rolls: Mapping[date, Mapping[Session, Mapping[uuid.UUID, Mark]]],
    spells: Mapping[uuid.UUID, Sequence[Spell]],
    rule: DayRule,
) -> dict[uuid.UUID, AbsenceDays]:
    """Absence days per student over the dates of ``rolls`` (date → session → student → mark).

    A date counts for a student only while one of their spells in the class covers it, so days
    before they joined or after they left are never charged, even by a stray mark. Students of
    ``spells`` covering none of the dates are left out; the others appear, with zeros if need be.
    Students on a roll but in no spell are not counted: the class list decides who belongs.
    """
    result: dict[uuid.UUID, AbsenceDays] = {}
    for student, student_spells in spells.items():
        covered = [day for day in rolls if any(spell.covers(day) for spell in student_spells)]
        if not covered:
            continue
        days = AbsenceDays()
        for day in covered:
            marks = {
                session: roll[student] for session, roll in rolls[day].items() if student in roll
            }
            days = days.with_absence(day_absence(marks, rule))
        result[student] = days
    return result


class LimitStatus(StrEnum):
    WITHIN = "within"
    NEAR = "near"
    OVER = "over"  # not promoted on attendance grounds (DOMAIN §1.9, condition 3)


def limit_status(days: int, limit: int = ABSENCE_LIMIT, warn_from: int = WARN_FROM) -> LimitStatus:
    """Where ``days`` of absence stand against the limit; ``limit`` itself is still promoted."""
    if days < 0:
        raise ValueError(f"absence days cannot be negative, got {days}")
    if not 0 <= warn_from <= limit:
        raise ValueError(f"warn_from must be 0..{limit}, got {warn_from}")
    if days > limit:
        return LimitStatus.OVER
    if days >= warn_from:
        return LimitStatus.NEAR
    return LimitStatus.WITHIN
