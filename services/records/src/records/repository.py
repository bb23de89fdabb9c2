"""Every query of the records service."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from records.models import (
    AbsenceTotalRow,
    ClassRow,
    CurriculumSubjectRow,
    EnrolmentRow,
    EntryChangeRow,
    EntryRow,
    MonthAbsenceRow,
    MovementRow,
    OrgUnitRow,
    PeriodWindowRow,
    ResultReviewRow,
    SchoolYearRow,
    SheetRow,
    StudentRow,
    TeachingAssignmentRow,
)

_ENTRY_INSERT = pg_insert(EntryRow)
_UPSERT_ENTRY = _ENTRY_INSERT.on_conflict_do_update(
    index_elements=[EntryRow.sheet_id, EntryRow.student_id, EntryRow.column],
    set_={
        "value": _ENTRY_INSERT.excluded.value,
        "assessed_on": _ENTRY_INSERT.excluded.assessed_on,
        "entered_by": _ENTRY_INSERT.excluded.entered_by,
        "entered_at": _ENTRY_INSERT.excluded.entered_at,
    },
)


class RecordsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    # --- org tree (copy)

    async def upsert_org_unit(self, row: OrgUnitRow) -> None:
        values = {
            "id": row.id,
            "kind": row.kind,
            "code": row.code,
            "parent_id": row.parent_id,
            "province_id": row.province_id,
            "district_id": row.district_id,
            "levels": row.levels,
        }
        statement = pg_insert(OrgUnitRow).values(values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[OrgUnitRow.id],
                set_={k: statement.excluded[k] for k in values if k != "id"},
            )
        )

    async def org_unit(self, unit_id: uuid.UUID) -> OrgUnitRow | None:
        return await self.session.get(OrgUnitRow, unit_id)

    async def org_units(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, OrgUnitRow]:
        wanted = set(ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(select(OrgUnitRow).where(OrgUnitRow.id.in_(wanted)))
        return {row.id: row for row in rows}

    # --- calendar and curriculum

    async def school_year(self, year_id: uuid.UUID) -> SchoolYearRow | None:
        return await self.session.get(SchoolYearRow, year_id)

    async def school_year_by_code(self, province_id: uuid.UUID, code: str) -> SchoolYearRow | None:
        return await self.session.scalar(
            select(SchoolYearRow).where(
                SchoolYearRow.province_id == province_id, SchoolYearRow.code == code
            )
        )

    async def school_years(self, province_ids: Iterable[uuid.UUID]) -> Sequence[SchoolYearRow]:
        rows = await self.session.scalars(
            select(SchoolYearRow)
            .where(SchoolYearRow.province_id.in_(set(province_ids)))
            .order_by(SchoolYearRow.code.desc())
        )
        return rows.all()

    async def period_windows(self, year_id: uuid.UUID) -> dict[str, PeriodWindowRow]:
        rows = await self.session.scalars(
            select(PeriodWindowRow).where(PeriodWindowRow.school_year_id == year_id)
        )
        return {row.period: row for row in rows}

    async def curriculum(
        self, year_id: uuid.UUID, grade: int | None = None
    ) -> Sequence[CurriculumSubjectRow]:
        query = select(CurriculumSubjectRow).where(CurriculumSubjectRow.school_year_id == year_id)
        if grade is not None:
            query = query.where(CurriculumSubjectRow.grade == grade)
        rows = await self.session.scalars(
            query.order_by(CurriculumSubjectRow.grade, CurriculumSubjectRow.ordinal)
        )
        return rows.all()

    async def curriculum_subject(
        self, year_id: uuid.UUID, grade: int, code: str
    ) -> CurriculumSubjectRow | None:
        return await self.session.scalar(
            select(CurriculumSubjectRow).where(
                CurriculumSubjectRow.school_year_id == year_id,
                CurriculumSubjectRow.grade == grade,
                CurriculumSubjectRow.code == code,
            )
        )

    # --- classes

    async def class_(self, class_id: uuid.UUID, *, for_update: bool = False) -> ClassRow | None:
        if for_update:
            return await self.session.scalar(
                select(ClassRow).where(ClassRow.id == class_id).with_for_update()
            )
        return await self.session.get(ClassRow, class_id)

    async def classes(
        self,
        school_id: uuid.UUID,
        year_id: uuid.UUID | None,
        only_for_teacher: uuid.UUID | None,
    ) -> Sequence[ClassRow]:
        query = select(ClassRow).where(ClassRow.school_id == school_id)
        if year_id is not None:
            query = query.where(ClassRow.school_year_id == year_id)
        if only_for_teacher is not None:
            taught = select(TeachingAssignmentRow.class_id).where(
                TeachingAssignmentRow.teacher_id == only_for_teacher
            )
            query = query.where(
                or_(ClassRow.homeroom_teacher_id == only_for_teacher, ClassRow.id.in_(taught))
            )
        rows = await self.session.scalars(query.order_by(ClassRow.grade, ClassRow.name))
        return rows.all()

    async def classes_of_grade(self, year_id: uuid.UUID, grade: int) -> Sequence[ClassRow]:
        rows = await self.session.scalars(
            select(ClassRow).where(ClassRow.school_year_id == year_id, ClassRow.grade == grade)
        )
        return rows.all()

    async def teaches_in(self, teacher_id: uuid.UUID, class_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(TeachingAssignmentRow.id)
            .where(
                TeachingAssignmentRow.class_id == class_id,
                TeachingAssignmentRow.teacher_id == teacher_id,
            )
            .limit(1)
        )
        return found is not None

    async def bump_class_version(self, class_id: uuid.UUID) -> int:
        version = await self.session.scalar(
            update(ClassRow)
            .where(ClassRow.id == class_id)
            .values(data_version=ClassRow.data_version + 1)
            .returning(ClassRow.data_version)
        )
        assert version is not None
        return int(version)

    # --- students and enrolments

    async def student(
        self, student_id: uuid.UUID, *, for_update: bool = False
    ) -> StudentRow | None:
        if for_update:
            return await self.session.scalar(
                select(StudentRow).where(StudentRow.id == student_id).with_for_update()
            )
        return await self.session.get(StudentRow, student_id)

    async def student_id_by_digest(self, digest: str) -> uuid.UUID | None:
        return await self.session.scalar(
            select(StudentRow.id).where(StudentRow.national_id_digest == digest)
        )

    async def student_id_by_code(self, code: str) -> uuid.UUID | None:
        return await self.session.scalar(
            select(StudentRow.id).where(StudentRow.student_code == code)
        )

    async def class_roster(
        self, class_id: uuid.UUID, start: date, end: date
    ) -> Sequence[tuple[StudentRow, EnrolmentRow]]:
        """Students in the class at any day of [start, end], in Vietnamese name order."""
        rows = await self.session.execute(
            select(StudentRow, EnrolmentRow)
            .join(EnrolmentRow, EnrolmentRow.student_id == StudentRow.id)
            .where(
                EnrolmentRow.class_id == class_id,
                EnrolmentRow.starts_on <= end,
                or_(EnrolmentRow.ends_on.is_(None), EnrolmentRow.ends_on >= start),
            )
            .order_by(StudentRow.sort_key, StudentRow.id, EnrolmentRow.starts_on)
        )
        seen: set[uuid.UUID] = set()
        roster: list[tuple[StudentRow, EnrolmentRow]] = []
        for student, enrolment in rows:
            if student.id not in seen:
                seen.add(student.id)
                roster.append((student, enrolment))
        return roster

    async def enrolments_of(self, student_id: uuid.UUID) -> Sequence[EnrolmentRow]:
        rows = await self.session.scalars(
            select(EnrolmentRow)
            .where(EnrolmentRow.student_id == student_id)
            .order_by(EnrolmentRow.starts_on)
        )
        return rows.all()

    async def enrolments_in_class(
        self, class_id: uuid.UUID, student_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[EnrolmentRow]]:
        rows = await self.session.scalars(
            select(EnrolmentRow).where(
                EnrolmentRow.class_id == class_id, EnrolmentRow.student_id.in_(set(student_ids))
            )
        )
        found: dict[uuid.UUID, list[EnrolmentRow]] = {}
        for row in rows:
            found.setdefault(row.student_id, []).append(row)
        return found

    async def open_enrolment(self, student_id: uuid.UUID) -> EnrolmentRow | None:
        return await self.session.scalar(
            select(EnrolmentRow)
            .where(EnrolmentRow.student_id == student_id, EnrolmentRow.ends_on.is_(None))
            .with_for_update()
        )

    async def movements_of(self, student_id: uuid.UUID) -> Sequence[MovementRow]:
        rows = await self.session.scalars(
            select(MovementRow)
            .where(MovementRow.student_id == student_id)
            .order_by(MovementRow.effective_on, MovementRow.recorded_at)
        )
        return rows.all()

    async def last_movement(self, student_id: uuid.UUID) -> MovementRow | None:
        return await self.session.scalar(
            select(MovementRow)
            .where(MovementRow.student_id == student_id)
            .order_by(MovementRow.recorded_at.desc())
            .limit(1)
        )

    # --- teaching assignments

    async def assignments(self, class_id: uuid.UUID) -> Sequence[TeachingAssignmentRow]:
        rows = await self.session.scalars(
            select(TeachingAssignmentRow)
            .where(TeachingAssignmentRow.class_id == class_id)
            .order_by(TeachingAssignmentRow.subject_code, TeachingAssignmentRow.term)
        )
        return rows.all()

    async def assignment(
        self, class_id: uuid.UUID, subject: str, term: str
    ) -> TeachingAssignmentRow | None:
        return await self.session.scalar(
            select(TeachingAssignmentRow).where(
                TeachingAssignmentRow.class_id == class_id,
                TeachingAssignmentRow.subject_code == subject,
                TeachingAssignmentRow.term == term,
            )
        )

    async def assignments_of_teacher(
        self, teacher_id: uuid.UUID
    ) -> Sequence[tuple[TeachingAssignmentRow, ClassRow]]:
        rows = await self.session.execute(
            select(TeachingAssignmentRow, ClassRow)
            .join(ClassRow, ClassRow.id == TeachingAssignmentRow.class_id)
            .where(TeachingAssignmentRow.teacher_id == teacher_id)
            .order_by(ClassRow.grade, ClassRow.name, TeachingAssignmentRow.subject_code)
        )
        return rows.all()

    async def homeroom_classes_of(self, teacher_id: uuid.UUID) -> Sequence[ClassRow]:
        rows = await self.session.scalars(
            select(ClassRow)
            .where(ClassRow.homeroom_teacher_id == teacher_id)
            .order_by(ClassRow.grade, ClassRow.name)
        )
        return rows.all()

    async def delete_assignment(self, class_id: uuid.UUID, subject: str, term: str) -> bool:
        result = await self.session.execute(
            delete(TeachingAssignmentRow)
            .where(
                TeachingAssignmentRow.class_id == class_id,
                TeachingAssignmentRow.subject_code == subject,
                TeachingAssignmentRow.term == term,
            )
            .returning(TeachingAssignmentRow.id)
        )
        return result.first() is not None

    # --- sheets and entries

    async def sheet(self, class_id: uuid.UUID, sheet: str, period: str) -> SheetRow | None:
        return await self.session.scalar(
            select(SheetRow).where(
                SheetRow.class_id == class_id, SheetRow.sheet == sheet, SheetRow.period == period
            )
        )

    async def sheet_for_update(self, class_id: uuid.UUID, sheet: str, period: str) -> SheetRow:
        """The sheet's row, created at version 0 if new, locked until the transaction ends."""
        await self.session.execute(
            pg_insert(SheetRow)
            .values(id=uuid.uuid4(), class_id=class_id, sheet=sheet, period=period, version=0)
            .on_conflict_do_nothing(index_elements=["class_id", "sheet", "period"])
        )
        row = await self.session.scalar(
            select(SheetRow)
            .where(
                SheetRow.class_id == class_id, SheetRow.sheet == sheet, SheetRow.period == period
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def entries(self, sheet_id: uuid.UUID) -> dict[tuple[uuid.UUID, str], EntryRow]:
        rows = await self.session.scalars(select(EntryRow).where(EntryRow.sheet_id == sheet_id))
        return {(row.student_id, row.column): row for row in rows}

    async def write_cells(
        self,
        sheet_id: uuid.UUID,
        upserts: Sequence[dict[str, object]],
        deletions: Sequence[tuple[uuid.UUID, str]],
        changes: Sequence[dict[str, object]],
    ) -> None:
        """Many cells in three statements: the hot path of a grade sheet (FACTS: batch rows)."""
        if upserts:
            # One statement executed with many parameter sets: compiled once and cached, where
            # a fresh multi-row VALUES would be compiled on every save (bench.records).
            await self.session.execute(_UPSERT_ENTRY, list(upserts))
        if deletions:
            await self.session.execute(
                delete(EntryRow).where(
                    EntryRow.sheet_id == sheet_id,
                    or_(
                        *(
                            and_(EntryRow.student_id == student, EntryRow.column == column)
                            for student, column in deletions
                        )
                    ),
                )
            )
        if changes:
            await self.session.execute(insert(EntryChangeRow), list(changes))

    async def set_sheet_version(
        self, sheet_id: uuid.UUID, version: int, at: datetime, by: uuid.UUID
    ) -> None:
        await self.session.execute(
            update(SheetRow)
            .where(SheetRow.id == sheet_id)
            .values(version=version, updated_at=at, updated_by=by)
        )

    async def year_cells(
        self, year_id: uuid.UUID, student_ids: Iterable[uuid.UUID]
    ) -> Sequence[tuple[uuid.UUID, uuid.UUID, str, str, str, str]]:
        """(class_id, student_id, sheet, period, column, value) of the students' year, in every
        class they were in: a transferred student's first term stays with the first school."""
        rows = await self.session.execute(
            select(
                SheetRow.class_id,
                EntryRow.student_id,
                SheetRow.sheet,
                SheetRow.period,
                EntryRow.column,
                EntryRow.value,
            )
            .join(SheetRow, SheetRow.id == EntryRow.sheet_id)
            .join(ClassRow, ClassRow.id == SheetRow.class_id)
            .where(ClassRow.school_year_id == year_id, EntryRow.student_id.in_(set(student_ids)))
        )
        return rows.all()

    async def cell_history(
        self, student_id: uuid.UUID
    ) -> Sequence[tuple[EntryChangeRow, SheetRow]]:
        rows = await self.session.execute(
            select(EntryChangeRow, SheetRow)
            .join(SheetRow, SheetRow.id == EntryChangeRow.sheet_id)
            .where(EntryChangeRow.student_id == student_id)
            .order_by(EntryChangeRow.id)
        )
        return rows.all()

    # --- absences

    async def absence_totals(
        self, year_id: uuid.UUID, student_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, AbsenceTotalRow]:
        rows = await self.session.scalars(
            select(AbsenceTotalRow)
            .where(
                AbsenceTotalRow.school_year_id == year_id,
                AbsenceTotalRow.student_id.in_(set(student_ids)),
            )
            # ``set_absence_total`` upserts with a Core statement: refresh rows already loaded.
            .execution_options(populate_existing=True)
        )
        return {row.student_id: row for row in rows}

    async def set_absence_total(self, values: dict[str, object]) -> None:
        statement = pg_insert(AbsenceTotalRow).values(values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[AbsenceTotalRow.student_id, AbsenceTotalRow.school_year_id],
                set_={
                    k: statement.excluded[k]
                    for k in ("excused_days", "unexcused_days", "source", "updated_by")
                }
                | {"updated_at": func.now()},
            )
        )

    async def month_sequences(self, class_id: uuid.UUID, month: str) -> dict[uuid.UUID, int]:
        """The students of the class's stored month, each with the sequence that wrote it.

        Columns, not rows: the month is rewritten by Core statements, and a consumer batch may
        read it again in the same session, where ORM rows would come back stale.
        """
        rows = await self.session.execute(
            select(MonthAbsenceRow.student_id, MonthAbsenceRow.sequence).where(
                MonthAbsenceRow.class_id == class_id, MonthAbsenceRow.month == month
            )
        )
        return {student: int(sequence) for student, sequence in rows}

    async def replace_month_absences(
        self, class_id: uuid.UUID, month: str, rows: Sequence[dict[str, object]]
    ) -> None:
        """The class's month as closed by its newest revision: every student's row at once."""
        await self.session.execute(
            delete(MonthAbsenceRow).where(
                MonthAbsenceRow.class_id == class_id, MonthAbsenceRow.month == month
            )
        )
        if rows:
            await self.session.execute(insert(MonthAbsenceRow), list(rows))

    async def month_absence_sums(
        self, year_id: uuid.UUID, student_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[int, int]]:
        """Each student's (excused, unexcused) days over the closed months of the year."""
        rows = await self.session.execute(
            select(
                MonthAbsenceRow.student_id,
                func.sum(MonthAbsenceRow.excused_days),
                func.sum(MonthAbsenceRow.unexcused_days),
            )
            .where(
                MonthAbsenceRow.school_year_id == year_id,
                MonthAbsenceRow.student_id.in_(set(student_ids)),
            )
            .group_by(MonthAbsenceRow.student_id)
        )
        return {student: (int(excused), int(unexcused)) for student, excused, unexcused in rows}

    async def students_with_months(
        self, year_id: uuid.UUID, school_id: uuid.UUID, class_ids: Iterable[uuid.UUID] | None
    ) -> list[uuid.UUID]:
        """Students with closed months in the school's classes (or the given ones) that year."""
        query = (
            select(MonthAbsenceRow.student_id)
            .join(ClassRow, ClassRow.id == MonthAbsenceRow.class_id)
            .where(MonthAbsenceRow.school_year_id == year_id, ClassRow.school_id == school_id)
            .distinct()
        )
        if class_ids is not None:
            query = query.where(MonthAbsenceRow.class_id.in_(set(class_ids)))
        return list(await self.session.scalars(query))

    async def year_classes_of_students(
        self, year_id: uuid.UUID, student_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[ClassRow]]:
        """The classes each student was enrolled in during the school year."""
        rows = await self.session.execute(
            select(EnrolmentRow.student_id, ClassRow)
            .join(ClassRow, ClassRow.id == EnrolmentRow.class_id)
            .where(
                ClassRow.school_year_id == year_id,
                EnrolmentRow.student_id.in_(set(student_ids)),
            )
            .order_by(EnrolmentRow.starts_on)
        )
        found: dict[uuid.UUID, list[ClassRow]] = {}
        for student_id, class_row in rows:
            found.setdefault(student_id, []).append(class_row)
        return found

    async def existing_students(self, student_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        wanted = set(student_ids)
        if not wanted:
            return set()
        found = await self.session.scalars(select(StudentRow.id).where(StudentRow.id.in_(wanted)))
        return set(found)

    # --- confirmations and approvals

    async def live_review(self, class_id: uuid.UUID, period: str) -> ResultReviewRow | None:
        return await self.session.scalar(
            select(ResultReviewRow)
            .where(
                ResultReviewRow.class_id == class_id,
                ResultReviewRow.period == period,
                ResultReviewRow.voided_at.is_(None),
            )
            .with_for_update()
        )

    async def reviews(self, class_id: uuid.UUID) -> Sequence[ResultReviewRow]:
        rows = await self.session.scalars(
            select(ResultReviewRow)
            .where(ResultReviewRow.class_id == class_id)
            .order_by(ResultReviewRow.confirmed_at)
        )
        return rows.all()

    async def void_reviews(
        self, class_id: uuid.UUID, periods: Iterable[str], at: datetime, reason: str
    ) -> int:
        result = await self.session.execute(
            update(ResultReviewRow)
            .where(
                ResultReviewRow.class_id == class_id,
                ResultReviewRow.period.in_(set(periods)),
                ResultReviewRow.voided_at.is_(None),
            )
            .values(voided_at=at, void_reason=reason)
            .returning(ResultReviewRow.id)
        )
        return len(result.all())
