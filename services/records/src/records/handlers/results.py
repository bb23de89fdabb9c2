"""Computed results with their explanations, absence totals, confirmation and approval.

Results are computed when read, from the entries as they are, by the rule set that governs the
class's grade and school year (R32); nothing computed is stored, so a result can never disagree
with its inputs. What is stored is the homeroom teacher's confirmation (R17) and the leader's
approval (R12) of one *data version* of the class: any later change of an input voids them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from common.errors import Problem
from common.events.records import ResultPeriod, ResultsApproved
from records.access import Actor, rule
from records.domain.curriculum import Level, level_of_grade
from records.domain.errors import DomainError
from records.handlers.base import (
    audit,
    authorize_class,
    authorize_student,
    class_of,
    conflict,
    student_of,
    utcnow,
    year_of,
)
from records.handlers.calendar import spec_of
from records.handlers.locks import ensure_class_writable
from records.models import ClassRow, EnrolmentRow, ResultReviewRow, SchoolYearRow, StudentRow
from records.rules import Finding, RuleOptions, StudentInputs, StudentResults, rule_set_for
from records.uow import RecordsUnitOfWork

_TERM_1_MARKS: Final = frozenset({"term_1", "mid_term_1", "end_term_1"})
_TERM_2_MARKS: Final = frozenset({"term_2", "mid_term_2"})


def period_of_finding(key: str) -> ResultPeriod:
    parts = set(key.split("."))
    if parts & _TERM_1_MARKS:
        return ResultPeriod.TERM_1
    if parts & _TERM_2_MARKS:
        return ResultPeriod.TERM_2
    return ResultPeriod.YEAR


def required_findings(level: Level, period: ResultPeriod, results: StudentResults) -> list[str]:
    """Keys that must have a value before a class's results for ``period`` can be confirmed."""
    if level is Level.PRIMARY:
        if period is ResultPeriod.YEAR:
            return ["education_result"]
        marks = {"end_term_1"} if period is ResultPeriod.TERM_1 else {"mid_term_2"}
        return [f.key for f in results.findings if set(f.key.split(".")) & marks]
    return [f"learning.{period.value}", f"conduct.{period.value}"]


@dataclass(frozen=True, slots=True)
class StudentOutcome:
    student: StudentRow
    enrolled_at_end: bool
    results: StudentResults
    findings: tuple[Finding, ...]
    missing: tuple[str, ...]
    cells: Mapping[tuple[str, str, str], str]


@dataclass(frozen=True, slots=True)
class ClassResults:
    class_: ClassRow
    year: SchoolYearRow
    period: ResultPeriod
    data_version: int
    students: tuple[StudentOutcome, ...]
    review: ResultReviewRow | None

    @property
    def complete(self) -> bool:
        return all(not s.missing for s in self.students if s.enrolled_at_end)


def _end_of(year: SchoolYearRow, windows_end: dict[str, date], period: ResultPeriod) -> date:
    if period is ResultPeriod.YEAR:
        return windows_end.get("term_2", year.ends_on)
    return windows_end.get(period.value, year.ends_on)


async def compute_class_results(
    uow: RecordsUnitOfWork, row: ClassRow, period: ResultPeriod, options: RuleOptions
) -> ClassResults:
    year = await year_of(uow, row.school_year_id)
    windows = await uow.records.period_windows(year.id)
    ends = {name: w.ends_on for name, w in windows.items()}
    start = windows["term_1"].starts_on if "term_1" in windows else year.starts_on
    end = _end_of(year, ends, period)
    if period is ResultPeriod.TERM_2 and "term_2" in windows:
        start = windows["term_2"].starts_on
    roster = await uow.records.class_roster(row.id, start, end)
    subjects = tuple(spec_of(s) for s in await uow.records.curriculum(year.id, row.grade))
    rules = rule_set_for(row.grade, year.code)
    ids = [s.id for s, _ in roster]
    cells = await _cells_by_student(uow, year.id, row.id, ids)
    absences = await uow.records.absence_totals(year.id, ids)
    enrolments = await uow.records.enrolments_in_class(row.id, ids)
    level = level_of_grade(row.grade)
    outcomes: list[StudentOutcome] = []
    for student, _ in roster:
        total = absences.get(student.id)
        results = rules.compute(
            StudentInputs(
                grade=row.grade,
                school_year=year.code,
                subjects=subjects,
                cells=cells.get(student.id, {}),
                absence_days=None if total is None else total.excused_days + total.unexcused_days,
            ),
            options,
        )
        findings = tuple(f for f in results.findings if period_of_finding(f.key) is period)
        required = set(required_findings(level, period, results))
        missing = tuple(
            sorted(k for k in required if (f := results.get(k)) is None or f.value is None)
        )
        outcomes.append(
            StudentOutcome(
                student=student,
                enrolled_at_end=_enrolled_at(enrolments.get(student.id, []), end),
                results=results,
                findings=findings,
                missing=missing,
                cells=cells.get(student.id, {}),
            )
        )
    review = await uow.records.live_review(row.id, period.value)
    return ClassResults(row, year, period, row.data_version, tuple(outcomes), review)


def _enrolled_at(enrolments: Sequence[EnrolmentRow], on: date) -> bool:
    return any(e.starts_on <= on and (e.ends_on is None or on <= e.ends_on) for e in enrolments)


async def _cells_by_student(
    uow: RecordsUnitOfWork, year_id: uuid.UUID, class_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[tuple[str, str, str], str]]:
    """Each student's cells of the year from every class they were in; where two classes hold
    the same cell (a class change mid-term), this class's value wins."""
    found: dict[uuid.UUID, dict[tuple[str, str, str], str]] = {}
    own: dict[uuid.UUID, dict[tuple[str, str, str], str]] = {}
    for cell_class, student, sheet, period, column, value in await uow.records.year_cells(
        year_id, ids
    ):
        target = own if cell_class == class_id else found
        target.setdefault(student, {})[(sheet, period, column)] = value
    for student, cells in own.items():
        found.setdefault(student, {}).update(cells)
    return found


async def read_class_results(
    uow: RecordsUnitOfWork,
    actor: Actor,
    class_id: uuid.UUID,
    period: ResultPeriod,
    options: RuleOptions,
) -> ClassResults:
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", "/classes/{class_id}/results/{period}"), row)
        return await compute_class_results(uow, row, period, options)


async def read_student_results(
    uow: RecordsUnitOfWork,
    actor: Actor,
    student_id: uuid.UUID,
    year_id: uuid.UUID,
    options: RuleOptions,
) -> tuple[StudentRow, ClassRow, StudentResults]:
    """A student's whole year, computed in the class they were last in that year."""
    async with uow:
        student = await student_of(uow, student_id)
        await authorize_student(uow, actor, rule("GET", "/students/{student_id}/results"), student)
        year = await year_of(uow, year_id)
        enrolments = list(await uow.records.enrolments_of(student.id))
        classes = [await class_of(uow, e.class_id) for e in enrolments]
        in_year = [c for c in classes if c.school_year_id == year.id]
        if not in_year:
            raise Problem(404, "not-enrolled", "Học sinh không học năm học này", str(year.code))
        row = in_year[-1]
        subjects = tuple(spec_of(s) for s in await uow.records.curriculum(year.id, row.grade))
        cells = await _cells_by_student(uow, year.id, row.id, [student.id])
        total = (await uow.records.absence_totals(year.id, [student.id])).get(student.id)
        results = rule_set_for(row.grade, year.code).compute(
            StudentInputs(
                grade=row.grade,
                school_year=year.code,
                subjects=subjects,
                cells=cells.get(student.id, {}),
                absence_days=None if total is None else total.excused_days + total.unexcused_days,
            ),
            options,
        )
        return student, row, results


@dataclass(frozen=True, slots=True)
class SetAbsences:
    class_id: uuid.UUID
    student_id: uuid.UUID
    excused_days: int
    unexcused_days: int


async def set_absences(uow: RecordsUnitOfWork, actor: Actor, cmd: SetAbsences) -> None:
    """The year's absence days, kept by the homeroom teacher until attendance sends them.

    Once attendance has closed a month for the student (``source = 'attendance'``), refused.
    """
    if not (0 <= cmd.excused_days <= 366 and 0 <= cmd.unexcused_days <= 366):
        raise DomainError("absences-invalid", "Số ngày nghỉ không hợp lệ", "0..366 days each")
    async with uow:
        row = await class_of(uow, cmd.class_id, for_update=True)
        await authorize_class(
            uow, actor, rule("PUT", "/classes/{class_id}/absences/{student_id}"), row
        )
        await ensure_class_writable(uow, row, ["year"])
        if cmd.student_id not in {
            s.id for s, _ in await uow.records.class_roster(row.id, date.min, date.max)
        }:
            raise Problem(
                404, "student-not-in-class", "Học sinh không thuộc lớp", str(cmd.student_id)
            )
        kept = (await uow.records.absence_totals(row.school_year_id, [cmd.student_id])).get(
            cmd.student_id
        )
        if kept is not None and kept.source == "attendance":
            # Attendance's closed months are the record now; a hand-typed figure would hide them.
            raise conflict(
                "absences-from-attendance",
                "Số ngày nghỉ được tổng hợp từ điểm danh, không nhập tay",
                "this student's absence days come from attendance's closed months",
            )
        await uow.records.set_absence_total(
            {
                "student_id": cmd.student_id,
                "school_year_id": row.school_year_id,
                "excused_days": cmd.excused_days,
                "unexcused_days": cmd.unexcused_days,
                "source": "manual",
                "updated_by": actor.person(),
            }
        )
        await uow.records.bump_class_version(row.id)
        await uow.records.void_reviews(row.id, ("year",), utcnow(), "input_changed")
        await audit(
            uow,
            actor,
            row.school_id,
            "absences.set",
            cmd.student_id,
            {"excused": cmd.excused_days, "unexcused": cmd.unexcused_days, "class_id": row.id},
        )
        await uow.commit()


async def confirm_results(
    uow: RecordsUnitOfWork,
    actor: Actor,
    class_id: uuid.UUID,
    period: ResultPeriod,
    options: RuleOptions,
) -> ResultReviewRow:
    """The homeroom teacher confirms the class's results as computed now (R17)."""
    async with uow:
        row = await class_of(uow, class_id, for_update=True)
        await authorize_class(
            uow, actor, rule("POST", "/classes/{class_id}/results/{period}/confirm"), row
        )
        await ensure_class_writable(uow, row, [period.value])
        results = await compute_class_results(uow, row, period, options)
        if results.review is not None:
            raise conflict(
                "already-confirmed",
                "Kết quả của lớp đã được xác nhận",
                f"confirmed at version {results.review.data_version}",
            )
        incomplete = {
            str(s.student.id): list(s.missing)
            for s in results.students
            if s.enrolled_at_end and s.missing
        }
        if incomplete:
            raise conflict(
                "results-incomplete",
                "Chưa đủ dữ liệu để xác nhận kết quả",
                f"{len(incomplete)} student(s) lack results",
                missing=incomplete,
            )
        review = ResultReviewRow(
            id=uuid.uuid4(),
            class_id=row.id,
            period=period.value,
            data_version=row.data_version,
            confirmed_by=actor.person(),
            confirmed_at=utcnow(),
        )
        uow.records.add(review)
        await audit(
            uow,
            actor,
            row.school_id,
            "results.confirmed",
            row.id,
            {"period": period.value, "data_version": row.data_version, "review_id": review.id},
            at=review.confirmed_at,
        )
        await uow.commit()
        return review


async def approve_results(
    uow: RecordsUnitOfWork, actor: Actor, class_id: uuid.UUID, period: ResultPeriod
) -> ResultReviewRow:
    """The school leader approves confirmed results of the same data version (R12)."""
    async with uow:
        row = await class_of(uow, class_id, for_update=True)
        school = await authorize_class(
            uow, actor, rule("POST", "/classes/{class_id}/results/{period}/approve"), row
        )
        await ensure_class_writable(uow, row, [period.value])
        review = await uow.records.live_review(row.id, period.value)
        if review is None:
            raise conflict(
                "not-confirmed",
                "Giáo viên chủ nhiệm chưa xác nhận kết quả",
                "the homeroom teacher has not confirmed these results",
            )
        if review.approved_at is not None:
            raise conflict("already-approved", "Kết quả đã được phê duyệt", "approved before")
        assert review.data_version == row.data_version  # a change would have voided it
        year = await year_of(uow, row.school_year_id)
        review.approved_by = actor.person()
        review.approved_at = utcnow()
        await audit(
            uow,
            actor,
            row.school_id,
            "results.approved",
            row.id,
            {"period": period.value, "data_version": review.data_version, "review_id": review.id},
            at=review.approved_at,
        )
        uow.emit(
            ResultsApproved(
                review_id=review.id,
                class_id=row.id,
                school_id=school.id,
                district_id=school.district_id,
                province_id=school.province_id,
                school_year=year.code,
                period=period,
                data_version=review.data_version,
                confirmed_by=review.confirmed_by,
                approved_by=review.approved_by,
                approved_at=review.approved_at,
            )
        )
        await uow.commit()
        return review
