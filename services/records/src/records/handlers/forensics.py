"""Edit forensics: the history of every cell and what each change did to the computed results.

``entry_changes`` keeps every change of every cell (who, when, through which path, under which
correction request). To answer "did this edit change a result?" the student's year is replayed:
the cells as they were before the first change, then each change in order, computing the
student's results once after each change; a change's impact is the list of findings whose value
differs before and after it. The replay (``replay``) is pure: it takes the ordered changes, the
starting cells and the rule set, so it is unit-tested without a database.

Absence days are taken as they are now (they are not cells and have no history here), so a
change of absences shows in no change's impact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select

from common.errors import Problem
from records.access import Actor, rule
from records.handlers.base import (
    authorize_class,
    authorize_student,
    class_of,
    student_of,
    year_of,
)
from records.handlers.calendar import spec_of
from records.handlers.results import _cells_by_student
from records.models import ClassRow, EntryChangeRow, SheetRow, StudentRow
from records.rules import RuleOptions, StudentInputs, StudentResults, rule_set_for
from records.uow import RecordsUnitOfWork

CellKey = tuple[str, str, str]  # (sheet, period, column)
MAX_CLASS_CHANGES: Final = 1000


@dataclass(frozen=True, slots=True)
class CellChange:
    """One row of ``entry_changes`` with its sheet's code and period."""

    id: int
    student_id: uuid.UUID
    class_id: uuid.UUID
    sheet: str
    period: str
    column: str
    old: str | None
    new: str | None
    sheet_version: int
    changed_by: uuid.UUID
    client_id: str | None
    via: str
    changed_at: datetime
    correction_id: uuid.UUID | None

    @property
    def key(self) -> CellKey:
        return (self.sheet, self.period, self.column)


@dataclass(frozen=True, slots=True)
class ResultChange:
    """A computed result (finding) whose value a change moved."""

    key: str
    before: str | None
    after: str | None
    label_before_vi: str | None
    label_after_vi: str | None


@dataclass(frozen=True, slots=True)
class ChangeImpact:
    change: CellChange
    results: tuple[ResultChange, ...]

    @property
    def alters_results(self) -> bool:
        return bool(self.results)


def cells_before(
    current: Mapping[CellKey, str], changes: Sequence[CellChange]
) -> dict[CellKey, str]:
    """The cells as they were before the first of ``changes``: undo them from the last."""
    cells = dict(current)
    for change in reversed(changes):
        if change.old is None:
            cells.pop(change.key, None)
        else:
            cells[change.key] = change.old
    return cells


def result_diff(before: StudentResults, after: StudentResults) -> tuple[ResultChange, ...]:
    """Findings whose value differs, in the order the rule set reports them (new ones last)."""
    old = {f.key: f for f in before.findings}
    new = {f.key: f for f in after.findings}
    keys = [f.key for f in after.findings] + [k for k in old if k not in new]
    diff: list[ResultChange] = []
    for key in keys:
        b, a = old.get(key), new.get(key)
        if (b.value if b else None) == (a.value if a else None):
            continue
        diff.append(
            ResultChange(
                key=key,
                before=b.value if b else None,
                after=a.value if a else None,
                label_before_vi=b.label_vi if b else None,
                label_after_vi=a.label_vi if a else None,
            )
        )
    return tuple(diff)


def replay(
    initial: Mapping[CellKey, str],
    changes: Sequence[CellChange],
    compute: Callable[[Mapping[CellKey, str]], StudentResults],
) -> list[ChangeImpact]:
    """Each change with the results it moved; one computation per change (and one to start)."""
    cells = dict(initial)
    results = compute(cells)
    impacts: list[ChangeImpact] = []
    for change in changes:
        if change.new is None:
            cells.pop(change.key, None)
        else:
            cells[change.key] = change.new
        after = compute(cells)
        impacts.append(ChangeImpact(change, result_diff(results, after)))
        results = after
    return impacts


# --- reading the history


@dataclass(frozen=True, slots=True)
class StudentForensics:
    student: StudentRow
    class_: ClassRow
    school_year: str
    rule_set: str
    impacts: list[ChangeImpact]


@dataclass(frozen=True, slots=True)
class ClassForensics:
    class_: ClassRow
    school_year: str
    students: dict[uuid.UUID, StudentRow]
    impacts: list[ChangeImpact]
    next_after: int | None


async def _year_changes(
    uow: RecordsUnitOfWork, year_id: uuid.UUID, student_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CellChange]]:
    """Every change of the students' cells in the year, in every class, oldest first."""
    rows = await uow.records.session.execute(
        select(EntryChangeRow, SheetRow)
        .join(SheetRow, SheetRow.id == EntryChangeRow.sheet_id)
        .join(ClassRow, ClassRow.id == SheetRow.class_id)
        .where(
            ClassRow.school_year_id == year_id,
            EntryChangeRow.student_id.in_(set(student_ids)),
        )
        .order_by(EntryChangeRow.id)
    )
    found: dict[uuid.UUID, list[CellChange]] = {s: [] for s in student_ids}
    for change, sheet in rows.all():
        found[change.student_id].append(
            CellChange(
                id=change.id,
                student_id=change.student_id,
                class_id=sheet.class_id,
                sheet=sheet.sheet,
                period=sheet.period,
                column=change.column,
                old=change.old_value,
                new=change.new_value,
                sheet_version=change.sheet_version,
                changed_by=change.changed_by,
                client_id=change.client_id,
                via=change.via,
                changed_at=change.changed_at,
                correction_id=change.correction_id,
            )
        )
    return found


async def _impacts(
    uow: RecordsUnitOfWork,
    row: ClassRow,
    school_year: str,
    student_ids: Sequence[uuid.UUID],
    options: RuleOptions,
) -> tuple[str, dict[uuid.UUID, list[ChangeImpact]]]:
    subjects = tuple(
        spec_of(s) for s in await uow.records.curriculum(row.school_year_id, row.grade)
    )
    rules = rule_set_for(row.grade, school_year)
    current = await _cells_by_student(uow, row.school_year_id, row.id, list(student_ids))
    absences = await uow.records.absence_totals(row.school_year_id, student_ids)
    changes = await _year_changes(uow, row.school_year_id, student_ids)
    found: dict[uuid.UUID, list[ChangeImpact]] = {}
    for student_id in student_ids:
        total = absences.get(student_id)
        days = None if total is None else total.excused_days + total.unexcused_days

        def compute(cells: Mapping[CellKey, str], days: int | None = days) -> StudentResults:
            return rules.compute(
                StudentInputs(
                    grade=row.grade,
                    school_year=school_year,
                    subjects=subjects,
                    cells=cells,
                    absence_days=days,
                ),
                options,
            )

        mine = changes[student_id]
        found[student_id] = replay(cells_before(current.get(student_id, {}), mine), mine, compute)
    return rules.id, found


@dataclass(frozen=True, slots=True)
class Narrow:
    """Which changes to report: a sheet, a period, a column (each optional)."""

    sheet: str | None = None
    period: str | None = None
    column: str | None = None

    def admits(self, change: CellChange) -> bool:
        return (
            (self.sheet is None or change.sheet == self.sheet)
            and (self.period is None or change.period == self.period)
            and (self.column is None or change.column == self.column)
        )


async def student_forensics(  # noqa: PLR0917 - the query's parameters
    uow: RecordsUnitOfWork,
    actor: Actor,
    student_id: uuid.UUID,
    year_id: uuid.UUID,
    narrow: Narrow,
    options: RuleOptions,
) -> StudentForensics:
    """A student's changes of a year, each with the results it moved; computed in the class
    they were last in that year, as their results are."""
    async with uow:
        student = await student_of(uow, student_id)
        await authorize_student(
            uow, actor, rule("GET", "/students/{student_id}/forensics"), student
        )
        year = await year_of(uow, year_id)
        classes = [
            await class_of(uow, e.class_id) for e in await uow.records.enrolments_of(student.id)
        ]
        in_year = [c for c in classes if c.school_year_id == year.id]
        if not in_year:
            raise Problem(404, "not-enrolled", "Học sinh không học năm học này", str(year.code))
        row = in_year[-1]
        rule_set, impacts = await _impacts(uow, row, year.code, [student.id], options)
        return StudentForensics(
            student=student,
            class_=row,
            school_year=year.code,
            rule_set=rule_set,
            impacts=[i for i in impacts[student.id] if narrow.admits(i.change)],
        )


async def class_forensics(
    uow: RecordsUnitOfWork,
    actor: Actor,
    class_id: uuid.UUID,
    narrow: Narrow,
    options: RuleOptions,
    *,
    after: int = 0,
    limit: int = 200,
    route: tuple[str, str] = ("GET", "/classes/{class_id}/forensics"),
) -> ClassForensics:
    """Changes of the class's own sheets, oldest first, a page at a time (``after`` = the last
    change id already seen); each with the results it moved for its student."""
    limit = max(1, min(limit, MAX_CLASS_CHANGES))
    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule(*route), row)
        year = await year_of(uow, row.school_year_id)
        statement = (
            select(EntryChangeRow.id, EntryChangeRow.student_id)
            .join(SheetRow, SheetRow.id == EntryChangeRow.sheet_id)
            .where(SheetRow.class_id == row.id, EntryChangeRow.id > after)
            .order_by(EntryChangeRow.id)
            .limit(limit + 1)
        )
        if narrow.sheet is not None:
            statement = statement.where(SheetRow.sheet == narrow.sheet)
        if narrow.period is not None:
            statement = statement.where(SheetRow.period == narrow.period)
        if narrow.column is not None:
            statement = statement.where(EntryChangeRow.column == narrow.column)
        page = list((await uow.records.session.execute(statement)).all())
        more = len(page) > limit
        page = page[:limit]
        ids = {change_id for change_id, _ in page}
        student_ids = list(dict.fromkeys(s for _, s in page))
        students = {
            s.id: s
            for s in (
                await uow.records.session.scalars(
                    select(StudentRow).where(StudentRow.id.in_(student_ids))
                )
            ).all()
        }
        _, impacts = await _impacts(uow, row, year.code, student_ids, options)
        chosen = sorted(
            (i for found in impacts.values() for i in found if i.change.id in ids),
            key=lambda i: i.change.id,
        )
        return ClassForensics(
            class_=row,
            school_year=year.code,
            students=students,
            impacts=chosen,
            next_after=page[-1][0] if more and page else None,
        )
