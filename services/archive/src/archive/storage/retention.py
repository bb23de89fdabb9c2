"""How long each kind of record is kept (thời hạn bảo quản), as object-lock retention.

DOMAIN.md §4: the legal basis is TT 08/2025/TT-BGDĐT (replacing TT 27/2016), whose appendix
was not found in public sources, so every period below is [U] (most likely value) and the
table is configuration versioned by legal basis: a verified or amended table is a new
constant with a new version and effective date, and records keep the version they were
locked under.

Pure: no I/O, no clock. A period counts from the year the file is closed (năm kết thúc hồ sơ),
so it ends with the last day of that year plus the period: never earlier than the lock instant
plus the period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class LockMode(StrEnum):
    """S3 object-lock modes. The archive locks in COMPLIANCE: nobody, not even the storage
    administrator, can shorten it or delete the version before it ends."""

    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


@dataclass(frozen=True, slots=True)
class Retention:
    """Object lock for one stored version: ``mode`` until ``until`` (aware), and a legal hold
    (giữ theo yêu cầu pháp lý) that lasts until lifted, whatever ``until`` says."""

    mode: LockMode
    until: datetime
    legal_hold: bool = False

    def __post_init__(self) -> None:
        if self.until.tzinfo is None:
            raise ValueError("retention needs an aware datetime")


class RecordType(StrEnum):
    """A kind of record with a retention period (DOMAIN.md §4). Values of the kinds archive
    renders equal ``common.events.archive.DocumentKind``'s."""

    ENROLMENT_REGISTER = "enrolment_register"  # sổ đăng bộ
    TRANSCRIPT = "transcript"  # học bạ (the school's archived copy or digital original)
    COMPLETION_FILES = "completion_files"  # graduation / completion lists, diploma books
    ADMISSION_DECISIONS = "admission_decisions"  # enrolment decisions and admitted lists
    ADMISSION_APPLICATION = "admission_application"  # an individual application file
    TRACKING_BOOK = "tracking_book"  # sổ theo dõi và đánh giá học sinh; sổ gọi tên và ghi điểm
    CLASS_SUMMARY = "class_summary"  # bảng tổng hợp kết quả đánh giá giáo dục (primary)
    RESULT_LISTS = "result_lists"  # promotion, retention, re-assessment and award lists
    CLASS_LOG = "class_log"  # sổ ghi đầu bài
    TEACHING_PLAN = "teaching_plan"  # kế hoạch giáo dục (school and subject plans)
    ANNUAL_REPORT = "annual_report"  # báo cáo năm
    SUMMARY_REPORT = "summary_report"  # báo cáo tổng kết
    TEACHER_BOOK = "teacher_book"  # lesson plans, teacher assessment books, sổ chủ nhiệm
    HEALTH_FILE = "health_file"  # hồ sơ sức khỏe học sinh
    REWARD_DISCIPLINE = "reward_discipline"  # reward and discipline files
    EXPULSION_DECISION = "expulsion_decision"  # expulsion-type decisions
    TEST_PAPERS = "test_papers"  # periodic test papers
    LIFELONG_RECORD = "lifelong_record"  # hồ sơ học tập suốt đời (NĐ 88/2026)


PERMANENT: Final = None
"""Vĩnh viễn: kept forever."""


@dataclass(frozen=True, slots=True)
class RetentionTable:
    """Periods in whole years (``PERMANENT`` for vĩnh viễn) under one legal basis."""

    version: str
    legal_basis: str
    effective_from: date
    periods: Mapping[RecordType, int | None]

    def period(self, record_type: RecordType) -> int | None:
        return self.periods[record_type]

    @property
    def longest_years(self) -> int:
        """The longest fixed period: the COMPLIANCE part of permanent keeping."""
        return max(years for years in self.periods.values() if years is not None)


RETENTION_TABLE: Final = RetentionTable(
    version="tt08-2025.u1",
    legal_basis="TT 08/2025/TT-BGDĐT",
    # [U] The circular's date of signature; its date of effect was not found (DOMAIN.md §4).
    effective_from=date(2025, 5, 12),
    periods=MappingProxyType(
        {
            RecordType.ENROLMENT_REGISTER: PERMANENT,
            RecordType.TRANSCRIPT: PERMANENT,
            RecordType.COMPLETION_FILES: PERMANENT,
            RecordType.ADMISSION_DECISIONS: PERMANENT,
            RecordType.ADMISSION_APPLICATION: 5,
            # "Long term": permanent until verified, the only detailed evidence of scores.
            RecordType.TRACKING_BOOK: PERMANENT,
            RecordType.CLASS_SUMMARY: PERMANENT,
            RecordType.RESULT_LISTS: PERMANENT,
            RecordType.CLASS_LOG: 10,
            # A subject's plan is part of the school's plan (10 years), not a teacher's own
            # lesson plan (5): the longer reading, as a retention doubt is settled.
            RecordType.TEACHING_PLAN: 10,
            RecordType.ANNUAL_REPORT: 10,
            RecordType.SUMMARY_REPORT: PERMANENT,
            RecordType.TEACHER_BOOK: 5,
            RecordType.HEALTH_FILE: 10,
            RecordType.REWARD_DISCIPLINE: 10,
            RecordType.EXPULSION_DECISION: PERMANENT,
            RecordType.TEST_PAPERS: 1,
            RecordType.LIFELONG_RECORD: PERMANENT,
        }
    ),
)


def retention_for(
    record_type: RecordType, locked_at: datetime, table: RetentionTable = RETENTION_TABLE
) -> Retention:
    """The object lock of a record of ``record_type`` whose file was closed at ``locked_at``.

    A fixed period of N years ends at the start of 1 January of (closing year + N + 1) in
    ``locked_at``'s own time zone (the school's year, not UTC's): the closing year and N more.
    Permanent keeping is COMPLIANCE for the table's longest fixed period plus a legal hold,
    which keeps the record after that until an appraisal council (hội đồng xác định giá trị
    tài liệu) decides otherwise.
    """
    if locked_at.tzinfo is None:
        raise ValueError("locked_at must be an aware datetime")
    years = table.period(record_type)
    permanent = years is None
    span = table.longest_years if years is None else years
    until = datetime(locked_at.year + span + 1, 1, 1, tzinfo=locked_at.tzinfo)
    return Retention(LockMode.COMPLIANCE, until.astimezone(UTC), legal_hold=permanent)
