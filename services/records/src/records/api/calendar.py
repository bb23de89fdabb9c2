"""School years, their periods and curricula; the rule sets records knows."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from common.errors import problem_responses
from common.events.records import SchoolYear
from records.api.deps import ActorDep, UowDep
from records.domain.curriculum import AssessmentForm, Period
from records.handlers import calendar as handlers
from records.models import CurriculumSubjectRow, PeriodWindowRow, SchoolYearRow
from records.rules import rule_sets

router = APIRouter(tags=["calendar"])

SubjectCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Grade = Annotated[int, Path(ge=1, le=12)]


class PeriodDates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Period = Field(description="term_1, term_2 or summer")
    starts_on: date
    ends_on: date
    mid_term_from: date | None = None
    mid_term_to: date | None = None


class SchoolYearCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    province_id: uuid.UUID = Field(description="Org unit id of the department (Sở GDĐT).")
    code: SchoolYear
    starts_on: date
    ends_on: date
    periods: list[PeriodDates] = Field(min_length=2, max_length=3)


class SchoolYearRead(BaseModel):
    id: uuid.UUID
    province_id: uuid.UUID
    code: str
    starts_on: date
    ends_on: date
    periods: list[PeriodDates]


def _year_read(year: SchoolYearRow, windows: list[PeriodWindowRow]) -> SchoolYearRead:
    return SchoolYearRead(
        id=year.id,
        province_id=year.province_id,
        code=year.code,
        starts_on=year.starts_on,
        ends_on=year.ends_on,
        periods=[
            PeriodDates(
                period=Period(w.period),
                starts_on=w.starts_on,
                ends_on=w.ends_on,
                mid_term_from=w.mid_term_from,
                mid_term_to=w.mid_term_to,
            )
            for w in sorted(windows, key=lambda w: w.starts_on)
        ],
    )


@router.post(
    "/school-years",
    status_code=201,
    response_model=SchoolYearRead,
    summary="Open a school year in a province, with its term dates",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_school_year(
    body: SchoolYearCreate, uow: UowDep, actor: ActorDep
) -> SchoolYearRead:
    """The department sets its calendar (DOMAIN §7.1); schools inherit it. Curricula of every
    grade are seeded from the rule sets' catalogue and can be changed per year."""
    cmd = handlers.CreateSchoolYear(
        province_id=body.province_id,
        code=body.code,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        periods=tuple(
            handlers.PeriodDates(p.period, p.starts_on, p.ends_on, p.mid_term_from, p.mid_term_to)
            for p in body.periods
        ),
    )
    year = await handlers.create_school_year(uow, actor, cmd)
    async with uow:
        windows = await uow.records.period_windows(year.id)
    return _year_read(year, list(windows.values()))


@router.get(
    "/school-years",
    response_model=list[SchoolYearRead],
    summary="School years of the provinces the caller works in",
    responses=problem_responses(401),
)
async def list_school_years(uow: UowDep, actor: ActorDep) -> list[SchoolYearRead]:
    async with uow:
        provinces = await handlers.provinces_of(uow, actor)
        years = await uow.records.school_years(provinces)
        return [
            _year_read(y, list((await uow.records.period_windows(y.id)).values())) for y in years
        ]


@router.get(
    "/school-years/{year_id}",
    response_model=SchoolYearRead,
    summary="A school year with its periods",
    responses=problem_responses(401, 403, 404),
)
async def read_school_year(year_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> SchoolYearRead:
    async with uow:
        year = await handlers.readable_year(uow, actor, year_id)
        return _year_read(year, list((await uow.records.period_windows(year.id)).values()))


class SubjectRead(BaseModel):
    grade: int
    code: str
    name_vi: str
    form: AssessmentForm
    periods_per_year: int | None
    regular_count: int = Field(description="ĐĐGtx per term this subject needs (DOMAIN §1.3).")
    tested_at: list[Period]
    elective: bool


def _subject_read(row: CurriculumSubjectRow) -> SubjectRead:
    return SubjectRead(
        grade=row.grade,
        code=row.code,
        name_vi=row.name_vi,
        form=AssessmentForm(row.form),
        periods_per_year=row.periods_per_year,
        regular_count=row.regular_count,
        tested_at=[Period(p) for p in row.tested_at],
        elective=row.elective,
    )


@router.get(
    "/school-years/{year_id}/curriculum",
    response_model=list[SubjectRead],
    summary="Subjects per grade of the school year",
    responses=problem_responses(401, 403, 404),
)
async def read_curriculum(
    year_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
) -> list[SubjectRead]:
    async with uow:
        year = await handlers.readable_year(uow, actor, year_id)
        return [_subject_read(r) for r in await uow.records.curriculum(year.id, grade)]


class SubjectWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_vi: str = Field(min_length=1, max_length=120)
    form: AssessmentForm
    periods_per_year: int | None = Field(default=None, ge=1, le=400)
    topic_cluster: bool = Field(
        default=False, description="THPT: one extra ĐĐGtx for the subject's topic cluster."
    )
    tested_at: list[Period] = Field(default_factory=list, max_length=4)
    elective: bool = False


@router.put(
    "/school-years/{year_id}/curriculum/{grade}/{code}",
    response_model=SubjectRead,
    summary="Add or change a subject of a grade for the school year",
    responses=problem_responses(401, 403, 404, 422),
)
async def put_subject(
    year_id: uuid.UUID,
    grade: Grade,
    code: SubjectCode,
    body: SubjectWrite,
    uow: UowDep,
    actor: ActorDep,
) -> SubjectRead:
    """R32: when the Ministry changes a programme, the department updates the year's
    curriculum; the required number of regular assessments follows from the periods."""
    row = await handlers.put_curriculum_subject(
        uow,
        actor,
        handlers.UpdateSubject(
            year_id=year_id,
            grade=grade,
            code=code,
            name_vi=body.name_vi,
            form=body.form,
            periods_per_year=body.periods_per_year,
            topic_cluster=body.topic_cluster,
            tested_at=frozenset(body.tested_at),
            elective=body.elective,
        ),
    )
    return _subject_read(row)


class RuleSetRead(BaseModel):
    id: str
    version: str
    title_vi: str


@router.get(
    "/rule-sets",
    response_model=list[RuleSetRead],
    summary="The assessment rule sets records computes with (R32)",
    responses=problem_responses(401),
)
async def list_rule_sets(actor: ActorDep) -> list[RuleSetRead]:
    return [RuleSetRead(id=r.id, version=r.version, title_vi=r.title_vi) for r in rule_sets()]
