"""School years, their periods and curricula (R32, R35), and records' copy of the org tree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from common.events.identity import OrgLevel, OrgUnitCreated
from common.events.records import SchoolYearScheduled, Term, TermDates
from records.access import Actor, rule
from records.domain.curriculum import (
    AssessmentForm,
    Period,
    SubjectSpec,
    required_regular_count,
    term_of,
)
from records.domain.errors import DomainError
from records.handlers.base import conflict, province_unit, utcnow, year_of
from records.models import (
    CurriculumSubjectRow,
    OrgUnitRow,
    PeriodWindowRow,
    SchoolYearRow,
)
from records.rules import default_curriculum
from records.uow import RecordsUnitOfWork


async def record_org_unit(event: OrgUnitCreated, uow: RecordsUnitOfWork) -> None:
    """Consumer of ``identity.orgunit.created``: keep the copy of the tree (idempotent)."""
    async with uow:
        await uow.records.upsert_org_unit(
            OrgUnitRow(
                id=event.unit_id,
                kind=event.kind.value,
                code=event.code,
                parent_id=event.parent_id,
                # The department is its own province; a district office its own district.
                province_id=event.province_id or event.unit_id,
                district_id=event.unit_id if event.kind is OrgLevel.DISTRICT else event.district_id,
                levels=list(event.levels),
            )
        )
        await uow.commit()


@dataclass(frozen=True, slots=True)
class PeriodDates:
    period: Period
    starts_on: date
    ends_on: date
    mid_term_from: date | None = None
    mid_term_to: date | None = None


@dataclass(frozen=True, slots=True)
class CreateSchoolYear:
    province_id: uuid.UUID
    code: str  # "2025-2026"
    starts_on: date
    ends_on: date
    periods: tuple[PeriodDates, ...]


def _invalid(detail: str) -> DomainError:
    return DomainError("calendar-invalid", "Lịch năm học không hợp lệ", detail)


def check_calendar(cmd: CreateSchoolYear) -> None:
    """Pure checks of a school year's dates (DOMAIN §7.1: each province sets its calendar)."""
    first, second = (int(part) for part in cmd.code.split("-"))
    if second != first + 1:
        raise _invalid("a school year spans two consecutive years")
    if not cmd.starts_on < cmd.ends_on or cmd.starts_on.year != first:
        raise _invalid("the year must start in its first calendar year and end after it starts")
    by_period = {p.period: p for p in cmd.periods}
    if len(by_period) != len(cmd.periods):
        raise _invalid("each period appears once")
    if set(by_period) - {Period.TERM_1, Period.TERM_2, Period.SUMMER}:
        raise _invalid("periods are term_1, term_2 and optionally summer")
    term_1, term_2 = by_period.get(Period.TERM_1), by_period.get(Period.TERM_2)
    if term_1 is None or term_2 is None:
        raise _invalid("both terms need their dates")
    for p in cmd.periods:
        if not p.starts_on <= p.ends_on:
            raise _invalid(f"{p.period} ends before it starts")
        if (p.mid_term_from is None) != (p.mid_term_to is None):
            raise _invalid(f"{p.period}: give both ends of the mid-term window or neither")
        if (
            p.mid_term_from is not None
            and p.mid_term_to is not None
            and not (p.starts_on <= p.mid_term_from <= p.mid_term_to <= p.ends_on)
        ):
            raise _invalid(f"{p.period}: the mid-term window lies inside the term")
    if not (cmd.starts_on <= term_1.starts_on and term_1.ends_on < term_2.starts_on):
        raise _invalid("term 1 starts with the year and ends before term 2 starts")
    if term_2.ends_on > cmd.ends_on:
        raise _invalid("term 2 ends by the end of the year")
    summer = by_period.get(Period.SUMMER)
    if summer is not None and summer.starts_on <= term_2.ends_on:
        raise _invalid("summer work comes after term 2")


def subject_rows(
    year_id: uuid.UUID, grade: int, subjects: tuple[SubjectSpec, ...]
) -> list[CurriculumSubjectRow]:
    return [
        CurriculumSubjectRow(
            school_year_id=year_id,
            grade=grade,
            ordinal=i,
            code=s.code,
            name_vi=s.name_vi,
            form=s.form.value,
            periods_per_year=s.periods_per_year,
            regular_count=s.regular_count,
            tested_at=sorted(p.value for p in s.tested_at),
            elective=s.elective,
        )
        for i, s in enumerate(subjects, start=1)
    ]


async def create_school_year(
    uow: RecordsUnitOfWork, actor: Actor, cmd: CreateSchoolYear
) -> SchoolYearRow:
    check_calendar(cmd)
    async with uow:
        province = await province_unit(uow, cmd.province_id)
        actor.check(rule("POST", "/school-years"), province)
        if await uow.records.school_year_by_code(province.id, cmd.code) is not None:
            raise conflict(
                "school-year-exists",
                "Năm học đã có",
                f"{cmd.code} already exists in this province",
            )
        year = SchoolYearRow(
            id=uuid.uuid4(),
            province_id=province.id,
            code=cmd.code,
            starts_on=cmd.starts_on,
            ends_on=cmd.ends_on,
            created_by=actor.person(),
            created_at=utcnow(),
        )
        uow.records.add(year)
        await uow.records.flush()
        for p in cmd.periods:
            uow.records.add(
                PeriodWindowRow(
                    school_year_id=year.id,
                    period=p.period.value,
                    starts_on=p.starts_on,
                    ends_on=p.ends_on,
                    mid_term_from=p.mid_term_from,
                    mid_term_to=p.mid_term_to,
                )
            )
        # Curricula seeded from the rule sets' catalogue; a grade whose rules are not
        # implemented for that year (primary before TT 27) gets no subjects.
        for grade in range(1, 13):
            try:
                subjects = default_curriculum(grade, cmd.code)
            except DomainError:
                continue
            for row in subject_rows(year.id, grade, subjects):
                uow.records.add(row)
        await emit_schedule(uow, year)
        await uow.commit()
        return year


async def emit_schedule(uow: RecordsUnitOfWork, year: SchoolYearRow) -> None:
    """Emit ``SchoolYearScheduled`` with the year's dates and its two terms as stored now.

    Every write of a year's dates or of its term windows calls this in its transaction; today
    only the opening of a year writes them (no route changes them afterwards).
    """
    await uow.records.flush()
    windows = await uow.records.period_windows(year.id)
    uow.emit(
        SchoolYearScheduled(
            school_year_id=year.id,
            province_id=year.province_id,
            school_year=year.code,
            starts_on=year.starts_on,
            ends_on=year.ends_on,
            terms=tuple(
                TermDates(term=term, starts_on=w.starts_on, ends_on=w.ends_on)
                for term in (Term.TERM_1, Term.TERM_2)
                if (w := windows.get(term.value)) is not None
            ),
            scheduled_at=utcnow(),
        )
    )


def window_of(windows: dict[str, PeriodWindowRow], period: Period) -> tuple[date, date] | None:
    """Dates of a sheet's period: primary checkpoints fall in their term's dates."""
    own = windows.get(period.value)
    if own is None and period is not Period.SUMMER:
        own = windows.get(term_of(period).value)
    return None if own is None else (own.starts_on, own.ends_on)


def entry_window(
    windows: dict[str, PeriodWindowRow], period: Period, grace_days: int
) -> tuple[date, date] | None:
    dates = window_of(windows, period)
    return None if dates is None else (dates[0], dates[1] + timedelta(days=grace_days))


@dataclass(frozen=True, slots=True)
class UpdateSubject:
    year_id: uuid.UUID
    grade: int
    code: str
    name_vi: str
    form: AssessmentForm
    periods_per_year: int | None
    topic_cluster: bool = False
    tested_at: frozenset[Period] = frozenset()
    elective: bool = False


async def put_curriculum_subject(
    uow: RecordsUnitOfWork, actor: Actor, cmd: UpdateSubject
) -> CurriculumSubjectRow:
    """Add or change a subject of a grade's curriculum for one school year (R32)."""
    regular = required_regular_count(
        cmd.form, cmd.periods_per_year, topic_cluster=cmd.topic_cluster
    )
    primary = 1 <= cmd.grade <= 5
    if primary != (cmd.form is AssessmentForm.PRIMARY):
        raise DomainError(
            "subject-form-invalid",
            "Hình thức đánh giá không phù hợp với cấp học",
            "grades 1-5 use the primary form; grades 6-12 score or comment",
        )
    async with uow:
        year = await year_of(uow, cmd.year_id)
        province = await province_unit(uow, year.province_id)
        actor.check(rule("PUT", "/school-years/{year_id}/curriculum/{grade}/{code}"), province)
        row = await uow.records.curriculum_subject(year.id, cmd.grade, cmd.code)
        if row is None:
            existing = await uow.records.curriculum(year.id, cmd.grade)
            row = CurriculumSubjectRow(
                school_year_id=year.id,
                grade=cmd.grade,
                ordinal=len(existing) + 1,
                code=cmd.code,
            )
            uow.records.add(row)
        row.name_vi = cmd.name_vi
        row.form = cmd.form.value
        row.periods_per_year = cmd.periods_per_year
        row.regular_count = regular
        row.tested_at = sorted(p.value for p in cmd.tested_at)
        row.elective = cmd.elective
        await uow.records.flush()
        # The grade's classes now need other cells: their progress figures follow (R26).
        from records import progress  # noqa: PLC0415 - progress builds on this module

        for school_class in await uow.records.classes_of_grade(year.id, cmd.grade):
            await progress.recount_class(uow, school_class.id)
        await uow.commit()
        return row


def spec_of(row: CurriculumSubjectRow) -> SubjectSpec:
    return SubjectSpec(
        code=row.code,
        name_vi=row.name_vi,
        form=AssessmentForm(row.form),
        periods_per_year=row.periods_per_year,
        regular_count=row.regular_count,
        tested_at=frozenset(Period(p) for p in row.tested_at),
        elective=row.elective,
    )


async def provinces_of(uow: RecordsUnitOfWork, actor: Actor) -> set[uuid.UUID]:
    """Provinces the caller holds any grant in: whoever works there reads its calendar."""
    ids: set[uuid.UUID] = set()
    for grant in actor.principal.grants:
        try:
            ids.add(uuid.UUID(grant.unit_id))
        except ValueError:
            continue
    units = await uow.records.org_units(ids)
    return {unit.province_id for unit in units.values()}


async def readable_year(uow: RecordsUnitOfWork, actor: Actor, year_id: uuid.UUID) -> SchoolYearRow:
    year = await year_of(uow, year_id)
    if year.province_id not in await provinces_of(uow, actor):
        from records.access import Forbidden  # noqa: PLC0415

        raise Forbidden("The school year belongs to a province you hold no grant in")
    return year
