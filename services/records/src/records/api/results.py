"""Computed results with their explanations; absences; confirmation and approval."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from common.errors import problem_responses
from common.events.records import ResultPeriod
from records.api.deps import ActorDep, RuleOptionsDep, UowDep
from records.handlers import results as handlers
from records.models import ResultReviewRow
from records.rules import Finding

router = APIRouter(tags=["results"])


class FindingRead(BaseModel):
    """One computed result that explains itself (R32): the rule set and clause that decided it,
    the inputs it used, and why, in Vietnamese."""

    key: str
    value: str | None = Field(description="Result code; null while inputs are missing.")
    label_vi: str
    rule_set: str
    rule_version: str
    clause: str
    inputs: dict[str, str | None]
    reason_vi: str


def _finding(f: Finding) -> FindingRead:
    return FindingRead(
        key=f.key,
        value=f.value,
        label_vi=f.label_vi,
        rule_set=f.rule_set,
        rule_version=f.rule_version,
        clause=f.clause,
        inputs=dict(f.inputs),
        reason_vi=f.reason_vi,
    )


class ReviewRead(BaseModel):
    id: uuid.UUID
    period: ResultPeriod
    data_version: int
    confirmed_by: uuid.UUID
    confirmed_at: datetime
    approved_by: uuid.UUID | None
    approved_at: datetime | None


def _review(r: ResultReviewRow | None) -> ReviewRead | None:
    if r is None:
        return None
    return ReviewRead(
        id=r.id,
        period=ResultPeriod(r.period),
        data_version=r.data_version,
        confirmed_by=r.confirmed_by,
        confirmed_at=r.confirmed_at,
        approved_by=r.approved_by,
        approved_at=r.approved_at,
    )


class StudentResultRead(BaseModel):
    student_id: uuid.UUID
    full_name: str
    in_class_at_end: bool
    missing: list[str] = Field(description="Results that cannot be computed yet.")
    findings: list[FindingRead]


class ClassResultsRead(BaseModel):
    class_id: uuid.UUID
    period: ResultPeriod
    school_year: str
    rule_set: str | None
    data_version: int
    complete: bool
    review: ReviewRead | None = Field(description="The live confirmation and approval, if any.")
    students: list[StudentResultRead]


@router.get(
    "/classes/{class_id}/results/{period}",
    response_model=ClassResultsRead,
    summary="The class's computed results for a term or the year, with explanations",
    responses=problem_responses(401, 403, 404, 422),
)
async def class_results(
    class_id: uuid.UUID, period: ResultPeriod, uow: UowDep, actor: ActorDep, options: RuleOptionsDep
) -> ClassResultsRead:
    results = await handlers.read_class_results(uow, actor, class_id, period, options)
    return ClassResultsRead(
        class_id=results.class_.id,
        period=period,
        school_year=results.year.code,
        rule_set=results.students[0].results.rule_set if results.students else None,
        data_version=results.data_version,
        complete=results.complete,
        review=_review(results.review),
        students=[
            StudentResultRead(
                student_id=s.student.id,
                full_name=s.student.full_name,
                in_class_at_end=s.enrolled_at_end,
                missing=list(s.missing),
                findings=[_finding(f) for f in s.findings],
            )
            for s in results.students
        ],
    )


class StudentYearRead(BaseModel):
    student_id: uuid.UUID
    class_id: uuid.UUID
    rule_set: str
    rule_version: str
    findings: list[FindingRead]


@router.get(
    "/students/{student_id}/results",
    response_model=StudentYearRead,
    summary="A student's computed results of a school year, every one explained",
    responses=problem_responses(401, 403, 404, 422),
)
async def student_results(
    student_id: uuid.UUID,
    school_year_id: Annotated[uuid.UUID, Query()],
    uow: UowDep,
    actor: ActorDep,
    options: RuleOptionsDep,
) -> StudentYearRead:
    student, row, results = await handlers.read_student_results(
        uow, actor, student_id, school_year_id, options
    )
    return StudentYearRead(
        student_id=student.id,
        class_id=row.id,
        rule_set=results.rule_set,
        rule_version=results.rule_version,
        findings=[_finding(f) for f in results.findings],
    )


class AbsencesWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    excused_days: int = Field(ge=0, le=366, description="Nghỉ có phép, days in the year.")
    unexcused_days: int = Field(ge=0, le=366, description="Nghỉ không phép, days in the year.")


@router.put(
    "/classes/{class_id}/absences/{student_id}",
    status_code=204,
    summary="Set a student's absence days of the year (until attendance sends them)",
    responses=problem_responses(401, 403, 404, 422),
)
async def put_absences(
    class_id: uuid.UUID, student_id: uuid.UUID, body: AbsencesWrite, uow: UowDep, actor: ActorDep
) -> None:
    await handlers.set_absences(
        uow,
        actor,
        handlers.SetAbsences(class_id, student_id, body.excused_days, body.unexcused_days),
    )


@router.post(
    "/classes/{class_id}/results/{period}/confirm",
    status_code=201,
    response_model=ReviewRead,
    summary="The homeroom teacher confirms the class's results (R17)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def confirm(
    class_id: uuid.UUID, period: ResultPeriod, uow: UowDep, actor: ActorDep, options: RuleOptionsDep
) -> ReviewRead:
    review = await handlers.confirm_results(uow, actor, class_id, period, options)
    read = _review(review)
    assert read is not None
    return read


@router.post(
    "/classes/{class_id}/results/{period}/approve",
    response_model=ReviewRead,
    summary="The school leader approves confirmed results (R12)",
    responses=problem_responses(401, 403, 404, 409),
)
async def approve(
    class_id: uuid.UUID, period: ResultPeriod, uow: UowDep, actor: ActorDep
) -> ReviewRead:
    review = await handlers.approve_results(uow, actor, class_id, period)
    read = _review(review)
    assert read is not None
    return read
