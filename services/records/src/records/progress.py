"""Progress of entry (tiến độ cập nhật, R11, R26; roll-ups for districts R7 and the province R6).

The figures are kept as entries change, never counted on a request: ``sheet_progress`` holds one
row per class × sheet × period, ``progress_monthly`` one per month of entry on top of it, so a
province-wide figure is a sum over an index whatever the number of entries.

Definitions (the brute-force recount in the tests uses the same words, not this code):

- **required**: students in the class at any day of the period × the sheet's required columns
  (``domain.sheets.required_columns``: everything but comments and summer retests);
- **entered**: non-empty required cells of those students;
- **late**: entered cells whose current value was first entered (the last time the cell went
  from empty to a value, ``entry_changes``) on a school day after the period's last day;
- **month**: the calendar month (Việt Nam time) of that first entry.

Summer (kiểm tra lại, rèn luyện lại) is not tracked: it concerns only the students who need it,
so "every student × every column" would report it as mostly missing.

Who moves the figures: ``sheet_saved`` (every save through ``save_sheet``: the API, the Excel
import, an applied correction) adjusts them by the cells that changed; ``recount_class``
recomputes one class from its entries and roster (a new class, a roster change, a bulk load, or
a sheet whose row is missing because its subject was added to the curriculum afterwards);
``teacher_changed`` follows assignments and homeroom teachers.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Date,
    String,
    Uuid,
    and_,
    bindparam,
    delete,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from records.domain.curriculum import Level, Period, level_of_grade, periods_for, term_of
from records.domain.sheets import (
    CONDUCT_SHEET,
    HOMEROOM_SHEETS,
    QUALITIES_SHEET,
    Column,
    homeroom_columns,
    required_columns,
    subject_columns,
)
from records.handlers.base import SCHOOL_TIME_ZONE
from records.handlers.calendar import spec_of, window_of
from records.models import (
    ClassRow,
    CurriculumSubjectRow,
    EnrolmentRow,
    EntryChangeRow,
    MonthlyProgressRow,
    OrgUnitRow,
    PeriodWindowRow,
    ResultReviewRow,
    SchoolYearRow,
    SheetProgressRow,
)

if TYPE_CHECKING:
    from records.handlers.sheets import SheetView
    from records.uow import RecordsUnitOfWork

# --- pure counting ------------------------------------------------------------------------------


def tracked_periods(level: Level) -> tuple[Period, ...]:
    """Periods whose sheets every student must have filled in: not summer."""
    return tuple(p for p in periods_for(level) if p is not Period.SUMMER)


def required_codes(columns: Iterable[Column]) -> frozenset[str]:
    return frozenset(c.code for c in required_columns(tuple(columns)))


@dataclass(frozen=True, slots=True)
class SheetCounts:
    required: int
    entered: int


def sheet_counts(
    roster: Collection[uuid.UUID],
    columns: Sequence[Column],
    filled: Iterable[tuple[uuid.UUID, str]],
) -> SheetCounts:
    """Required and entered cells of one sheet: ``roster`` the students in the class during the
    period, ``filled`` the (student, column) of every non-empty cell."""
    codes = required_codes(columns)
    students = set(roster)
    entered = {(s, c) for s, c in filled if s in students and c in codes}
    return SheetCounts(required=len(students) * len(codes), entered=len(entered))


def entered_delta(old: str | None, new: str | None) -> int:
    """+1 when a cell gets its first value, -1 when it is cleared, 0 when a value changes."""
    return (new is not None) - (old is not None)


def school_date(at: datetime) -> date:
    return at.astimezone(SCHOOL_TIME_ZONE).date()


def is_late(first_entered_at: datetime, period_end: date) -> bool:
    return school_date(first_entered_at) > period_end


def month_of(at: datetime) -> date:
    return school_date(at).replace(day=1)


def in_roster(enrolments: Iterable[EnrolmentRow], start: date, end: date) -> set[uuid.UUID]:
    """Students with an enrolment overlapping [start, end] (``class_roster``'s rule)."""
    return {
        e.student_id
        for e in enrolments
        if e.starts_on <= end and (e.ends_on is None or e.ends_on >= start)
    }


# --- layouts of a class --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SheetLayout:
    sheet: str
    period: Period
    columns: tuple[Column, ...]


def class_layouts(grade: int, subjects: Iterable[CurriculumSubjectRow]) -> list[SheetLayout]:
    """Every tracked sheet of a class of ``grade``: its subjects and its homeroom sheet."""
    level = level_of_grade(grade)
    homeroom = QUALITIES_SHEET if level is Level.PRIMARY else CONDUCT_SHEET
    layouts: list[SheetLayout] = []
    specs = [spec_of(s) for s in subjects]
    for period in tracked_periods(level):
        layouts.extend(SheetLayout(s.code, period, subject_columns(s, period)) for s in specs)
        layouts.append(SheetLayout(homeroom, period, homeroom_columns(homeroom, level, period)))
    return layouts


def _teacher(
    row: ClassRow, sheet: str, period: Period, assigned: Mapping[tuple[str, str], uuid.UUID]
) -> uuid.UUID | None:
    if sheet in HOMEROOM_SHEETS:
        return row.homeroom_teacher_id
    return assigned.get((sheet, term_of(period).value))


def _dates(
    windows: Mapping[str, PeriodWindowRow], period: Period, year: SchoolYearRow
) -> tuple[date, date]:
    """The period's first and last day (the year's when the calendar has none, as ``_view``)."""
    return window_of(dict(windows), period) or (year.starts_on, year.ends_on)


# --- keeping the aggregates ----------------------------------------------------------------------


# Entered and late cells of one class per sheet, period and month of first entry, counted by
# the database: the class's required columns and rosters come in as arrays. A cell's first
# entry is the last time it went from empty to a value (``entry_changes``, by its index).
_CLASS_COUNTS: Final = text(
    """
    WITH layout AS (
        SELECT * FROM unnest(:l_sheet, :l_period, :l_column, :l_end)
            AS l(sheet, period, "column", period_end)
    ), roster AS (
        SELECT * FROM unnest(:r_period, :r_student) AS r(period, student_id)
    )
    SELECT s.sheet, s.period,
           date_trunc('month', f.first_at AT TIME ZONE :zone)::date AS month,
           count(*) AS entered,
           count(*) FILTER (WHERE (f.first_at AT TIME ZONE :zone)::date > l.period_end) AS late
    FROM sheets s
    JOIN entries e ON e.sheet_id = s.id
    JOIN layout l ON l.sheet = s.sheet AND l.period = s.period AND l."column" = e."column"
    JOIN roster r ON r.period = s.period AND r.student_id = e.student_id
    LEFT JOIN LATERAL (
        SELECT max(c.changed_at) AS first_at FROM entry_changes c
        WHERE c.sheet_id = e.sheet_id AND c.student_id = e.student_id AND c."column" = e."column"
          AND c.old_value IS NULL AND c.new_value IS NOT NULL
    ) f ON true
    WHERE s.class_id = :class_id
    GROUP BY s.sheet, s.period, month
    """
).bindparams(
    bindparam("l_sheet", type_=ARRAY(String)),
    bindparam("l_period", type_=ARRAY(String)),
    bindparam("l_column", type_=ARRAY(String)),
    bindparam("l_end", type_=ARRAY(Date)),
    bindparam("r_period", type_=ARRAY(String)),
    bindparam("r_student", type_=ARRAY(Uuid)),
    bindparam("zone", value=str(SCHOOL_TIME_ZONE)),
)


async def recount_class(uow: RecordsUnitOfWork, class_id: uuid.UUID) -> None:
    """Recompute every progress row of one class from its entries, roster and assignments."""
    session = uow.records.session
    await session.flush()
    row = await session.get(ClassRow, class_id)
    assert row is not None
    school = await uow.records.org_unit(row.school_id)
    year = await uow.records.school_year(row.school_year_id)
    assert school is not None
    assert year is not None
    windows = await uow.records.period_windows(year.id)
    layouts = class_layouts(row.grade, await uow.records.curriculum(year.id, row.grade))
    enrolments = (
        await session.scalars(select(EnrolmentRow).where(EnrolmentRow.class_id == class_id))
    ).all()
    assigned = {
        (a.subject_code, a.term): a.teacher_id for a in await uow.records.assignments(class_id)
    }
    rosters: dict[Period, set[uuid.UUID]] = {}
    ends: dict[Period, date] = {}
    for period in dict.fromkeys(layout.period for layout in layouts):
        start, ends[period] = _dates(windows, period, year)
        rosters[period] = in_roster(enrolments, start, ends[period])
    counted: dict[tuple[str, str], list[int]] = {}
    monthly: list[dict[str, Any]] = []
    base = {
        "class_id": row.id,
        "school_id": school.id,
        "district_id": school.district_id,
        "province_id": school.province_id,
    }
    if any(rosters.values()):
        flat = [(lay, code) for lay in layouts for code in sorted(required_codes(lay.columns))]
        found = await session.execute(
            _CLASS_COUNTS,
            {
                "class_id": class_id,
                "l_sheet": [lay.sheet for lay, _ in flat],
                "l_period": [lay.period.value for lay, _ in flat],
                "l_column": [code for _, code in flat],
                "l_end": [ends[lay.period] for lay, _ in flat],
                "r_period": [p.value for p, students in rosters.items() for _ in students],
                "r_student": [s for students in rosters.values() for s in students],
            },
        )
        for sheet, period, month, entered, late in found:
            total = counted.setdefault((sheet, period), [0, 0])
            total[0] += entered
            total[1] += late
            if month is not None:  # a value with no recorded first entry: counted, never late
                monthly.append(
                    base
                    | {
                        "sheet": sheet,
                        "period": period,
                        "month": month,
                        "entered": entered,
                        "late": late,
                    }
                )
    progress = [
        base
        | {
            "sheet": layout.sheet,
            "period": layout.period.value,
            "school_year_id": year.id,
            "teacher_id": _teacher(row, layout.sheet, layout.period, assigned),
            "required": len(rosters[layout.period]) * len(required_codes(layout.columns)),
            "entered": counted.get((layout.sheet, layout.period.value), [0, 0])[0],
            "late": counted.get((layout.sheet, layout.period.value), [0, 0])[1],
        }
        for layout in layouts
    ]
    await session.execute(delete(SheetProgressRow).where(SheetProgressRow.class_id == class_id))
    await session.execute(delete(MonthlyProgressRow).where(MonthlyProgressRow.class_id == class_id))
    if progress:
        await session.execute(pg_insert(SheetProgressRow), progress)
    if monthly:
        await session.execute(pg_insert(MonthlyProgressRow), monthly)


async def roster_changed(uow: RecordsUnitOfWork, *class_ids: uuid.UUID | None) -> None:
    """Students joined or left: the required cells (and which cells count) of these classes."""
    for class_id in dict.fromkeys(c for c in class_ids if c is not None):
        await recount_class(uow, class_id)


_UPSERT_MONTH: Final = pg_insert(MonthlyProgressRow)
_ADD_MONTH: Final = _UPSERT_MONTH.on_conflict_do_update(
    index_elements=[
        MonthlyProgressRow.class_id,
        MonthlyProgressRow.sheet,
        MonthlyProgressRow.period,
        MonthlyProgressRow.month,
    ],
    set_={
        "entered": MonthlyProgressRow.entered + _UPSERT_MONTH.excluded.entered,
        "late": MonthlyProgressRow.late + _UPSERT_MONTH.excluded.late,
    },
)


async def sheet_saved(
    uow: RecordsUnitOfWork,
    view: SheetView,
    changes: Sequence[Mapping[str, Any]],
    *,
    windows: Mapping[str, PeriodWindowRow],
    at: datetime,
) -> None:
    """Adjust the figures of one saved sheet by its changed cells (``entry_changes`` rows:
    student_id, column, old_value, new_value), after they were written."""
    level = level_of_grade(view.class_.grade)
    if view.period not in tracked_periods(level):
        return
    codes = required_codes(view.columns)
    roster = {s.id for s, _ in view.roster}
    relevant = [c for c in changes if c["column"] in codes and c["student_id"] in roster]
    added = [c for c in relevant if entered_delta(c["old_value"], c["new_value"]) > 0]
    cleared = [c for c in relevant if entered_delta(c["old_value"], c["new_value"]) < 0]
    if not added and not cleared:
        return
    _, end = _dates(windows, view.period, view.year)
    session = uow.records.session
    months: dict[date, list[int]] = {}
    now_late = is_late(at, end)
    if added:
        slot = months.setdefault(month_of(at), [0, 0])
        slot[0] += len(added)
        slot[1] += len(added) if now_late else 0
    late = len(added) if now_late else 0
    if cleared:
        sheet_id = cleared[0]["sheet_id"]
        keys = [(c["student_id"], c["column"]) for c in cleared]
        firsts = await session.execute(
            select(
                EntryChangeRow.student_id,
                EntryChangeRow.column,
                func.max(EntryChangeRow.changed_at),
            )
            .where(
                EntryChangeRow.sheet_id == sheet_id,
                tuple_(EntryChangeRow.student_id, EntryChangeRow.column).in_(keys),
                EntryChangeRow.old_value.is_(None),
                EntryChangeRow.new_value.is_not(None),
            )
            .group_by(EntryChangeRow.student_id, EntryChangeRow.column)
        )
        for _, _, first in firsts:
            cell_late = is_late(first, end)
            late -= cell_late
            slot = months.setdefault(month_of(first), [0, 0])
            slot[0] -= 1
            slot[1] -= cell_late
    key = (
        SheetProgressRow.class_id == view.class_.id,
        SheetProgressRow.sheet == view.sheet,
        SheetProgressRow.period == view.period.value,
    )
    updated = await session.execute(
        update(SheetProgressRow)
        .where(*key)
        .values(
            entered=SheetProgressRow.entered + len(added) - len(cleared),
            late=SheetProgressRow.late + late,
        )
        .returning(SheetProgressRow.class_id)
    )
    if updated.first() is None:
        # A sheet the class had no row for (its subject came into the curriculum later).
        await recount_class(uow, view.class_.id)
        return
    school = view.school
    rows = [
        {
            "class_id": view.class_.id,
            "sheet": view.sheet,
            "period": view.period.value,
            "month": month,
            "school_id": school.id,
            "district_id": school.district_id,
            "province_id": school.province_id,
            "entered": entered,
            "late": late_n,
        }
        for month, (entered, late_n) in sorted(months.items())
        if entered or late_n
    ]
    if rows:
        await session.execute(_ADD_MONTH, rows)


async def teacher_changed(
    uow: RecordsUnitOfWork,
    class_id: uuid.UUID,
    *,
    subject: str | None,
    term: str | None,
    teacher_id: uuid.UUID | None,
) -> None:
    """A subject's assignment for a term (``subject`` and ``term``), or the homeroom teacher
    (both None), changed: the teacher the class's sheets are counted against."""
    where: ColumnElement[bool]
    if subject is None:
        where = SheetProgressRow.sheet.in_(HOMEROOM_SHEETS)
    else:
        periods = [p.value for p in Period if term is not None and term_of(p).value == term]
        where = and_(SheetProgressRow.sheet == subject, SheetProgressRow.period.in_(periods))
    await uow.records.session.execute(
        update(SheetProgressRow)
        .where(SheetProgressRow.class_id == class_id, where)
        .values(teacher_id=teacher_id)
    )


# --- reading -------------------------------------------------------------------------------------


class GroupBy(StrEnum):
    SCHOOL = "school"
    DISTRICT = "district"
    CLASS = "class"
    TEACHER = "teacher"
    SUBJECT = "subject"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class ProgressLine:
    key: str
    label: str
    required: int
    entered: int
    late: int
    classes_confirmed: int | None
    classes_approved: int | None

    @property
    def percent(self) -> float:
        return round(100 * self.entered / self.required, 1) if self.required else 0.0


UNASSIGNED_VI: Final = "Chưa phân công"
UNDER_DEPARTMENT_VI: Final = "Trực thuộc Sở"
_HOMEROOM_LABELS_VI: Final = {CONDUCT_SHEET: "Rèn luyện", QUALITIES_SHEET: "Phẩm chất, năng lực"}


def review_period(period: Period | None) -> str:
    """Which confirmation (R17) and approval (R12) the class counts stand for: the term of the
    period asked for, or the year's when no period is given."""
    return "year" if period is None else term_of(period).value


def _scope(unit: OrgUnitRow, table: type[SheetProgressRow | MonthlyProgressRow]) -> Any:
    if unit.kind == "school":
        return table.school_id == unit.id
    if unit.kind == "district":
        return table.district_id == unit.id
    return table.province_id == unit.province_id


async def progress_lines(
    uow: RecordsUnitOfWork,
    unit: OrgUnitRow,
    school_year_id: uuid.UUID,
    period: Period | None,
    by: GroupBy,
) -> list[ProgressLine]:
    """The figures of every school, district, class, teacher, subject or month under ``unit``."""
    session = uow.records.session
    sp = SheetProgressRow
    where = [_scope(unit, sp), sp.school_year_id == school_year_id]
    if period is not None:
        where.append(sp.period == period.value)
    if by is GroupBy.MONTH:
        mp = MonthlyProgressRow
        total = await session.scalar(select(func.coalesce(func.sum(sp.required), 0)).where(*where))
        # The year through the class (thousands of rows), not through sheet_progress.
        in_year = [_scope(unit, mp), ClassRow.school_year_id == school_year_id]
        if period is not None:
            in_year.append(mp.period == period.value)
        months = await session.execute(
            select(mp.month, func.sum(mp.entered), func.sum(mp.late))
            .join(ClassRow, ClassRow.id == mp.class_id)
            .where(*in_year)
            .group_by(mp.month)
            .order_by(mp.month)
        )
        return [
            ProgressLine(
                month.strftime("%Y-%m"),
                f"Tháng {month.month}/{month.year}",
                int(total or 0),
                int(entered),
                int(late),
                None,
                None,
            )
            for month, entered, late in months
        ]
    group = {
        GroupBy.SCHOOL: sp.school_id,
        GroupBy.DISTRICT: sp.district_id,
        GroupBy.CLASS: sp.class_id,
        GroupBy.TEACHER: sp.teacher_id,
        GroupBy.SUBJECT: sp.sheet,
    }[by]
    # Per group and class first, so a class counts once per group in the review counts.
    per_class = (
        select(
            group.label("key"),
            sp.class_id.label("class_id"),
            func.sum(sp.required).label("required"),
            func.sum(sp.entered).label("entered"),
            func.sum(sp.late).label("late"),
        )
        .where(*where)
        .group_by(group, sp.class_id)
        .subquery()
    )
    rr = ResultReviewRow
    rows = await session.execute(
        select(
            per_class.c.key,
            func.sum(per_class.c.required),
            func.sum(per_class.c.entered),
            func.sum(per_class.c.late),
            func.count(rr.id),
            func.count(rr.approved_at),
        )
        .select_from(per_class)
        .outerjoin(
            rr,
            and_(
                rr.class_id == per_class.c.class_id,
                rr.period == review_period(period),
                rr.voided_at.is_(None),
            ),
        )
        .group_by(per_class.c.key)
    )
    found = [(k, int(r), int(e), int(la), int(c), int(a)) for k, r, e, la, c, a in rows]
    labels = await _labels(uow, by, [f[0] for f in found], school_year_id)
    lines = [
        ProgressLine(
            "" if key is None else str(key),
            labels.get(key, str(key)),
            required,
            entered,
            late,
            confirmed,
            approved,
        )
        for key, required, entered, late, confirmed, approved in found
    ]
    return sorted(lines, key=lambda line: (line.label, line.key))


async def _labels(
    uow: RecordsUnitOfWork, by: GroupBy, keys: Sequence[Any], school_year_id: uuid.UUID
) -> dict[Any, str]:
    session = uow.records.session
    present = [k for k in keys if k is not None]
    labels: dict[Any, str] = {}
    if by is GroupBy.TEACHER:
        labels[None] = UNASSIGNED_VI
        labels |= {k: str(k) for k in present}
    elif by is GroupBy.DISTRICT:
        labels[None] = UNDER_DEPARTMENT_VI
        labels |= {u.id: u.code for u in (await uow.records.org_units(present)).values()}
    elif by is GroupBy.SCHOOL:
        labels |= {u.id: u.code for u in (await uow.records.org_units(present)).values()}
    elif by is GroupBy.CLASS and present:
        rows = await session.execute(
            select(ClassRow.id, ClassRow.name, OrgUnitRow.code)
            .join(OrgUnitRow, OrgUnitRow.id == ClassRow.school_id)
            .where(ClassRow.id.in_(present))
        )
        labels |= {cid: f"{name} – {code}" for cid, name, code in rows}
    elif by is GroupBy.SUBJECT:
        labels |= dict(_HOMEROOM_LABELS_VI)
        names = await session.execute(
            select(CurriculumSubjectRow.code, func.min(CurriculumSubjectRow.name_vi))
            .where(
                CurriculumSubjectRow.school_year_id == school_year_id,
                CurriculumSubjectRow.code.in_(present),
            )
            .group_by(CurriculumSubjectRow.code)
        )
        labels |= dict(names.all())
    return labels


__all__ = [
    "GroupBy",
    "ProgressLine",
    "SheetCounts",
    "entered_delta",
    "in_roster",
    "is_late",
    "month_of",
    "progress_lines",
    "recount_class",
    "roster_changed",
    "sheet_counts",
    "sheet_saved",
    "teacher_changed",
]
