"""The retention table and ``retention_for`` (DOMAIN.md §4): pure, no server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.storage.retention import (
    PERMANENT,
    RETENTION_TABLE,
    LockMode,
    RecordType,
    Retention,
    retention_for,
)
from common.events.archive import DocumentKind

VIETNAM = timezone(timedelta(hours=7))


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def test_table_is_versioned_by_legal_basis_and_covers_every_record_type() -> None:
    assert RETENTION_TABLE.version
    assert RETENTION_TABLE.legal_basis == "TT 08/2025/TT-BGDĐT"
    assert RETENTION_TABLE.effective_from == date(2025, 5, 12)
    assert set(RETENTION_TABLE.periods) == set(RecordType)


def test_every_document_archive_renders_has_a_period() -> None:
    for kind in DocumentKind:
        assert RecordType(kind.value) in RETENTION_TABLE.periods


@pytest.mark.parametrize(
    ("record_type", "years"),
    [
        (RecordType.ENROLMENT_REGISTER, PERMANENT),
        (RecordType.TRANSCRIPT, PERMANENT),
        (RecordType.COMPLETION_FILES, PERMANENT),
        (RecordType.TRACKING_BOOK, PERMANENT),
        (RecordType.LIFELONG_RECORD, PERMANENT),
        (RecordType.ADMISSION_APPLICATION, 5),
        (RecordType.CLASS_LOG, 10),
        (RecordType.TEACHER_BOOK, 5),
        (RecordType.HEALTH_FILE, 10),
        (RecordType.TEST_PAPERS, 1),
    ],
)
def test_periods_follow_domain_section_4(record_type: RecordType, years: int | None) -> None:
    assert RETENTION_TABLE.period(record_type) == years


def test_a_fixed_period_ends_with_the_closing_year_plus_the_period_in_school_time() -> None:
    locked = datetime(2026, 6, 15, 10, 0, tzinfo=VIETNAM)
    got = retention_for(RecordType.TEST_PAPERS, locked)
    assert got == Retention(
        LockMode.COMPLIANCE, datetime(2027, 12, 31, 17, 0, tzinfo=UTC), legal_hold=False
    )
    assert got.until == datetime(2028, 1, 1, tzinfo=VIETNAM)


def test_a_file_closed_on_new_years_night_counts_from_the_schools_year() -> None:
    # 00:30 on 1 January in Vietnam is still the old year in UTC; the school's year counts.
    locked = datetime(2027, 1, 1, 0, 30, tzinfo=VIETNAM)
    got = retention_for(RecordType.CLASS_LOG, locked)
    assert got.until == datetime(2038, 1, 1, tzinfo=VIETNAM)


def test_permanent_keeping_is_the_longest_period_in_compliance_plus_a_legal_hold() -> None:
    assert RETENTION_TABLE.longest_years == 10
    locked = datetime(2026, 5, 30, 8, 0, tzinfo=VIETNAM)
    got = retention_for(RecordType.TRANSCRIPT, locked)
    assert got.mode is LockMode.COMPLIANCE
    assert got.legal_hold is True
    assert got.until == datetime(2037, 1, 1, tzinfo=VIETNAM)


def test_a_naive_lock_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        retention_for(RecordType.TRANSCRIPT, datetime(2026, 5, 30))  # noqa: DTZ001


@given(
    record_type=st.sampled_from(list(RecordType)),
    locked_at=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 — hypothesis bounds are naive
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, VIETNAM, timezone(timedelta(hours=-12))]),
    ),
)
def test_retention_never_ends_before_the_lock_time_plus_the_period(
    record_type: RecordType, locked_at: datetime
) -> None:
    got = retention_for(record_type, locked_at)
    years = RETENTION_TABLE.period(record_type) or RETENTION_TABLE.longest_years
    assert got.mode is LockMode.COMPLIANCE
    assert got.until.tzinfo is UTC
    assert add_years(locked_at, years) <= got.until <= add_years(locked_at, years + 1)
    assert got.legal_hold == (RETENTION_TABLE.period(record_type) is None)
