"""Every query of the attendance service, on the unit of work's session.

The roll call is the hot path of the morning peak: its rows go in with one multi-row
``INSERT`` each (Core, not the ORM), as FACTS.md measured single-row ORM writes to bound a
process near 2,300 rows a second.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from attendance.models import (
    AmendmentRow,
    BellScheduleRow,
    CalendarDayRow,
    ClassRow,
    EnrolmentRow,
    MarkRow,
    MissingRollCallRow,
    MonthCloseRow,
    OrgUnitRow,
    PeriodAttendanceRow,
    ProvinceSettingsRow,
    RevisionRow,
    RollCallRow,
    SchoolYearRow,
    SweptSessionRow,
    TimetableSlotRow,
)


class AttendanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    # --- copies of identity's and records' state

    async def org_unit(self, unit_id: uuid.UUID) -> OrgUnitRow | None:
        return await self.session.get(OrgUnitRow, unit_id)

    async def upsert_org_unit(self, row: OrgUnitRow) -> None:
        values = {c.key: getattr(row, c.key) for c in OrgUnitRow.__table__.columns}
        statement = pg_insert(OrgUnitRow).values(values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[OrgUnitRow.id],
                set_={k: statement.excluded[k] for k in values if k != "id"},
            )
        )

    async def school_year(self, year_id: uuid.UUID) -> SchoolYearRow | None:
        return await self.session.get(SchoolYearRow, year_id)

    async def year_of_province(self, province_id: uuid.UUID, code: str) -> SchoolYearRow | None:
        return (
            await self.session.execute(
                select(SchoolYearRow).where(
                    SchoolYearRow.province_id == province_id, SchoolYearRow.code == code
                )
            )
        ).scalar_one_or_none()

    async def years_covering(self, day: date) -> list[SchoolYearRow]:
        return list(
            (
                await self.session.execute(
                    select(SchoolYearRow).where(
                        SchoolYearRow.starts_on <= day, SchoolYearRow.ends_on >= day
                    )
                )
            ).scalars()
        )

    async def class_(self, class_id: uuid.UUID, *, for_update: bool = False) -> ClassRow | None:
        return await self.session.get(ClassRow, class_id, with_for_update=for_update)

    async def classes_of_school(self, school_id: uuid.UUID, school_year: str) -> list[ClassRow]:
        return list(
            (
                await self.session.execute(
                    select(ClassRow)
                    .where(ClassRow.school_id == school_id, ClassRow.school_year == school_year)
                    .order_by(ClassRow.grade, ClassRow.label)
                )
            ).scalars()
        )

    async def replace_roster(self, class_id: uuid.UUID, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(delete(EnrolmentRow).where(EnrolmentRow.class_id == class_id))
        if rows:
            await self.session.execute(insert(EnrolmentRow), list(rows))

    async def roster_on(self, class_id: uuid.UUID, day: date) -> list[EnrolmentRow]:
        """The class list on ``day``, in Vietnamese name order."""
        return list(
            (
                await self.session.execute(
                    select(EnrolmentRow)
                    .where(
                        EnrolmentRow.class_id == class_id,
                        EnrolmentRow.starts_on <= day,
                        or_(EnrolmentRow.ends_on.is_(None), EnrolmentRow.ends_on >= day),
                    )
                    .order_by(EnrolmentRow.sort_key, EnrolmentRow.student_id)
                )
            ).scalars()
        )

    async def enrolments(self, class_ids: Iterable[uuid.UUID]) -> list[EnrolmentRow]:
        return list(
            (
                await self.session.execute(
                    select(EnrolmentRow)
                    .where(EnrolmentRow.class_id.in_(list(class_ids)))
                    .order_by(EnrolmentRow.sort_key, EnrolmentRow.student_id)
                )
            ).scalars()
        )

    # --- settings, bells, calendar days, timetable

    async def province_settings(self, province_id: uuid.UUID) -> ProvinceSettingsRow | None:
        return await self.session.get(ProvinceSettingsRow, province_id)

    async def bell_schedule(self, school_id: uuid.UUID) -> BellScheduleRow | None:
        return await self.session.get(BellScheduleRow, school_id)

    async def bell_schedules(
        self, school_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, BellScheduleRow]:
        rows = (
            await self.session.execute(
                select(BellScheduleRow).where(BellScheduleRow.school_id.in_(list(school_ids)))
            )
        ).scalars()
        return {row.school_id: row for row in rows}

    async def calendar_days(
        self, unit_ids: Iterable[uuid.UUID], first: date, last: date
    ) -> list[CalendarDayRow]:
        return list(
            (
                await self.session.execute(
                    select(CalendarDayRow)
                    .where(
                        CalendarDayRow.unit_id.in_(list(unit_ids)),
                        CalendarDayRow.day >= first,
                        CalendarDayRow.day <= last,
                    )
                    .order_by(CalendarDayRow.day)
                )
            ).scalars()
        )

    async def calendar_day(self, unit_id: uuid.UUID, day: date) -> CalendarDayRow | None:
        return await self.session.get(CalendarDayRow, (unit_id, day))

    async def delete_calendar_day(self, unit_id: uuid.UUID, day: date) -> bool:
        result = await self.session.execute(
            delete(CalendarDayRow)
            .where(CalendarDayRow.unit_id == unit_id, CalendarDayRow.day == day)
            .returning(CalendarDayRow.day)
        )
        return result.first() is not None

    async def timetable(self, class_id: uuid.UUID) -> list[TimetableSlotRow]:
        return list(
            (
                await self.session.execute(
                    select(TimetableSlotRow)
                    .where(TimetableSlotRow.class_id == class_id)
                    .order_by(TimetableSlotRow.weekday, TimetableSlotRow.period)
                )
            ).scalars()
        )

    async def replace_timetable(self, class_id: uuid.UUID, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(
            delete(TimetableSlotRow).where(TimetableSlotRow.class_id == class_id)
        )
        if rows:
            await self.session.execute(insert(TimetableSlotRow), list(rows))

    async def slot(self, class_id: uuid.UUID, weekday: int, period: int) -> TimetableSlotRow | None:
        return await self.session.get(TimetableSlotRow, (class_id, weekday, period))

    async def teaches_in(self, teacher_id: uuid.UUID, class_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            select(
                exists().where(
                    TimetableSlotRow.class_id == class_id,
                    TimetableSlotRow.teacher_id == teacher_id,
                )
            )
        )
        return bool(found.scalar())

    async def classes_taught_by(self, teacher_id: uuid.UUID) -> set[uuid.UUID]:
        rows = await self.session.execute(
            select(TimetableSlotRow.class_id).where(TimetableSlotRow.teacher_id == teacher_id)
        )
        return set(rows.scalars())

    # --- roll calls

    async def roll_call(
        self, class_id: uuid.UUID, day: date, session: str, *, for_update: bool = False
    ) -> RollCallRow | None:
        statement = select(RollCallRow).where(
            RollCallRow.class_id == class_id, RollCallRow.day == day, RollCallRow.session == session
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def roll_call_by_id(
        self, roll_call_id: uuid.UUID, *, for_update: bool = False
    ) -> RollCallRow | None:
        return await self.session.get(RollCallRow, roll_call_id, with_for_update=for_update)

    async def insert_roll_call(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(RollCallRow), [values])

    async def update_roll_call(self, roll_call_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(RollCallRow).where(RollCallRow.id == roll_call_id).values(values)
        )

    async def replace_marks(self, roll_call_id: uuid.UUID, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(delete(MarkRow).where(MarkRow.roll_call_id == roll_call_id))
        await self.insert_marks(rows)

    async def insert_marks(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            # One cached statement run for many rows (asyncpg pipelines them): a multi-row
            # VALUES would be a new SQL text for every class size, compiled and prepared anew.
            await self.session.execute(insert(MarkRow), list(rows))

    async def insert_revision(self, values: dict[str, Any]) -> None:
        await self.session.execute(insert(RevisionRow), [values])

    async def marks(self, roll_call_id: uuid.UUID) -> list[MarkRow]:
        return list(
            (
                await self.session.execute(
                    select(MarkRow).where(MarkRow.roll_call_id == roll_call_id)
                )
            ).scalars()
        )

    async def revisions(self, roll_call_id: uuid.UUID) -> list[RevisionRow]:
        return list(
            (
                await self.session.execute(
                    select(RevisionRow)
                    .where(RevisionRow.roll_call_id == roll_call_id)
                    .order_by(RevisionRow.revision)
                )
            ).scalars()
        )

    async def roll_calls_of_class(
        self, class_id: uuid.UUID, first: date, last: date
    ) -> list[RollCallRow]:
        return list(
            (
                await self.session.execute(
                    select(RollCallRow)
                    .where(
                        RollCallRow.class_id == class_id,
                        RollCallRow.day >= first,
                        RollCallRow.day <= last,
                    )
                    .order_by(RollCallRow.day, RollCallRow.session)
                )
            ).scalars()
        )

    async def absent_marks(
        self, class_ids: Sequence[uuid.UUID], first: date, last: date
    ) -> list[tuple[uuid.UUID, date, str, uuid.UUID, str]]:
        """(class, day, session, student, mark) of every absence in the range."""
        rows = await self.session.execute(
            select(
                RollCallRow.class_id,
                RollCallRow.day,
                RollCallRow.session,
                MarkRow.student_id,
                MarkRow.mark,
            )
            .join(MarkRow, MarkRow.roll_call_id == RollCallRow.id)
            .where(
                RollCallRow.class_id.in_(list(class_ids)),
                RollCallRow.day >= first,
                RollCallRow.day <= last,
                MarkRow.mark.in_(("absent_excused", "absent_unexcused")),
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def sessions_held(
        self, class_ids: Sequence[uuid.UUID], first: date, last: date
    ) -> list[tuple[uuid.UUID, date, str]]:
        rows = await self.session.execute(
            select(RollCallRow.class_id, RollCallRow.day, RollCallRow.session).where(
                RollCallRow.class_id.in_(list(class_ids)),
                RollCallRow.day >= first,
                RollCallRow.day <= last,
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    # --- amendments

    async def amendment(
        self, amendment_id: uuid.UUID, *, for_update: bool = False
    ) -> AmendmentRow | None:
        return await self.session.get(AmendmentRow, amendment_id, with_for_update=for_update)

    async def pending_amendment(self, roll_call_id: uuid.UUID) -> AmendmentRow | None:
        return (
            await self.session.execute(
                select(AmendmentRow).where(
                    AmendmentRow.roll_call_id == roll_call_id, AmendmentRow.status == "pending"
                )
            )
        ).scalar_one_or_none()

    async def amendments_of_school(
        self, school_id: uuid.UUID, status: str | None
    ) -> list[AmendmentRow]:
        statement = select(AmendmentRow).where(AmendmentRow.school_id == school_id)
        if status is not None:
            statement = statement.where(AmendmentRow.status == status)
        return list(
            (await self.session.execute(statement.order_by(AmendmentRow.requested_at))).scalars()
        )

    # --- period attendance

    async def period_attendance(
        self, class_id: uuid.UUID, day: date, period: int, *, for_update: bool = False
    ) -> PeriodAttendanceRow | None:
        statement = select(PeriodAttendanceRow).where(
            PeriodAttendanceRow.class_id == class_id,
            PeriodAttendanceRow.day == day,
            PeriodAttendanceRow.period == period,
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    # --- the deadline sweep

    async def try_sweep_lock(self, key: int) -> bool:
        """A transaction-level advisory lock: one sweeper at a time, released at commit."""
        got = await self.session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
        return bool(got.scalar())

    async def swept(self, day: date) -> set[tuple[uuid.UUID, str]]:
        rows = await self.session.execute(
            select(SweptSessionRow.school_id, SweptSessionRow.session).where(
                SweptSessionRow.day == day
            )
        )
        return {(r[0], r[1]) for r in rows}

    async def mark_swept(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(
                pg_insert(SweptSessionRow).values(list(rows)).on_conflict_do_nothing()
            )

    async def schools_with_classes(
        self, school_year: str
    ) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
        """(school, district, province) of every school with a class in ``school_year``."""
        rows = await self.session.execute(
            select(ClassRow.school_id, ClassRow.district_id, ClassRow.province_id)
            .where(ClassRow.school_year == school_year)
            .distinct()
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def classes_without_roll(
        self, school_ids: Sequence[uuid.UUID], school_year: str, day: date, session: str
    ) -> list[ClassRow]:
        """Classes of the schools with somebody on their list that day and no roll."""
        on_list = exists().where(
            EnrolmentRow.class_id == ClassRow.id,
            EnrolmentRow.starts_on <= day,
            or_(EnrolmentRow.ends_on.is_(None), EnrolmentRow.ends_on >= day),
        )
        has_roll = exists().where(
            RollCallRow.class_id == ClassRow.id,
            RollCallRow.day == day,
            RollCallRow.session == session,
        )
        return list(
            (
                await self.session.execute(
                    select(ClassRow).where(
                        ClassRow.school_id.in_(list(school_ids)),
                        ClassRow.school_year == school_year,
                        on_list,
                        ~has_roll,
                    )
                )
            ).scalars()
        )

    async def insert_missing(self, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
        """Record missing rolls; returns the classes recorded now (not by an earlier sweep)."""
        if not rows:
            return set()
        result = await self.session.execute(
            pg_insert(MissingRollCallRow)
            .values(list(rows))
            .on_conflict_do_nothing()
            .returning(MissingRollCallRow.class_id)
        )
        return set(result.scalars())

    async def was_reported_missing(self, class_id: uuid.UUID, day: date, session: str) -> bool:
        return await self.session.get(MissingRollCallRow, (class_id, day, session)) is not None

    # --- months

    async def month_close(
        self, class_id: uuid.UUID, month: str, *, for_update: bool = False
    ) -> MonthCloseRow | None:
        return await self.session.get(MonthCloseRow, (class_id, month), with_for_update=for_update)

    async def classes_without_close(self, school_year: str, month: str) -> list[ClassRow]:
        closed = exists().where(MonthCloseRow.class_id == ClassRow.id, MonthCloseRow.month == month)
        return list(
            (
                await self.session.execute(
                    select(ClassRow).where(ClassRow.school_year == school_year, ~closed)
                )
            ).scalars()
        )

    # --- reports

    async def roll_counts(
        self, school_ids: Sequence[uuid.UUID], first: date, last: date
    ) -> list[tuple[uuid.UUID, uuid.UUID, bool, int]]:
        """(school, class, on_time, rolls) over the range."""
        rows = await self.session.execute(
            select(RollCallRow.school_id, RollCallRow.class_id, RollCallRow.on_time, func.count())
            .where(
                RollCallRow.school_id.in_(list(school_ids)),
                RollCallRow.day >= first,
                RollCallRow.day <= last,
            )
            .group_by(RollCallRow.school_id, RollCallRow.class_id, RollCallRow.on_time)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def roll_totals(
        self, class_ids: Sequence[uuid.UUID], first: date, last: date
    ) -> dict[uuid.UUID, tuple[int, int]]:
        """Per class: student-sessions on the rolls, and absences among them."""
        absent = RollCallRow.absent_excused + RollCallRow.absent_unexcused
        rows = await self.session.execute(
            select(
                RollCallRow.class_id,
                func.sum(RollCallRow.present + absent),
                func.sum(absent),
            )
            .where(
                RollCallRow.class_id.in_(list(class_ids)),
                RollCallRow.day >= first,
                RollCallRow.day <= last,
            )
            .group_by(RollCallRow.class_id)
        )
        return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in rows}

    async def classes_in(
        self, unit_column: str, unit_id: uuid.UUID, school_year: str
    ) -> list[ClassRow]:
        column = {
            "school": ClassRow.school_id,
            "district": ClassRow.district_id,
            "province": ClassRow.province_id,
        }[unit_column]
        return list(
            (
                await self.session.execute(
                    select(ClassRow)
                    .where(and_(column == unit_id, ClassRow.school_year == school_year))
                    .order_by(ClassRow.grade, ClassRow.label)
                )
            ).scalars()
        )

    async def org_units(self, unit_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, OrgUnitRow]:
        rows = (
            await self.session.execute(select(OrgUnitRow).where(OrgUnitRow.id.in_(list(unit_ids))))
        ).scalars()
        return {row.id: row for row in rows}

    async def prune_idempotency_keys(self, before: datetime) -> int:
        result = await self.session.execute(
            text("DELETE FROM idempotency_keys WHERE created_at < :before"), {"before": before}
        )
        return int(getattr(result, "rowcount", 0) or 0)
