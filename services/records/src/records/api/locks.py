"""Term locks, inspection windows and the snapshots taken when a term is locked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from common.errors import problem_responses
from common.events.records import Term
from records.api.deps import ActorDep, RuleOptionsDep, UowDep
from records.handlers import locks as handlers
from records.models import LockRow

router = APIRouter(tags=["locks"])

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class LockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    school_id: uuid.UUID
    school_year_id: uuid.UUID
    period: Term = Field(description="term_1, term_2 or year")
    class_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=200, description="Only these classes; the whole school if absent."
    )
    reason: Reason | None = None


class LockRead(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="term (a school's lock) or inspection (a window above it)")
    scope_unit_id: uuid.UUID
    school_id: uuid.UUID | None
    school_year_id: uuid.UUID | None
    period: str | None
    class_ids: list[uuid.UUID] | None
    reason: str | None
    created_by: uuid.UUID
    created_at: datetime
    starts_at: datetime
    ends_at: datetime | None
    snapshot: int | None
    audit_head: str | None = Field(description="The school's audit-chain head at the lock.")
    reopened_at: datetime | None
    reopened_by: uuid.UUID | None
    reopen_reason: str | None


def lock_read(row: LockRow) -> LockRead:
    return LockRead(
        id=row.id,
        kind=row.kind,
        scope_unit_id=row.scope_unit_id,
        school_id=row.school_id,
        school_year_id=row.school_year_id,
        period=row.period,
        class_ids=row.class_ids,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        snapshot=row.snapshot,
        audit_head=row.audit_head,
        reopened_at=row.reopened_at,
        reopened_by=row.reopened_by,
        reopen_reason=row.reopen_reason,
    )


@router.post(
    "/locks",
    status_code=201,
    response_model=LockRead,
    summary="Lock a term or the year for the school or chosen classes (khóa sổ)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def lock_term(
    body: LockCreate, uow: UowDep, actor: ActorDep, options: RuleOptionsDep
) -> LockRead:
    """R10, R37: once every class's results for the period are confirmed and approved. Takes a
    snapshot of each class and publishes ``records.term.locked`` with the audit-chain head."""
    row = await handlers.lock_term(
        uow,
        actor,
        handlers.LockTerm(
            school_id=body.school_id,
            school_year_id=body.school_year_id,
            period=body.period,
            class_ids=tuple(body.class_ids) if body.class_ids is not None else None,
            reason=body.reason,
        ),
        options,
    )
    return lock_read(row)


class Reopen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


@router.post(
    "/locks/{lock_id}/reopen",
    response_model=LockRead,
    summary="Reopen a locked term, with a reason",
    responses=problem_responses(401, 403, 404, 409),
)
async def reopen(lock_id: uuid.UUID, body: Reopen, uow: UowDep, actor: ActorDep) -> LockRead:
    row = await handlers.reopen_lock(uow, actor, lock_id, body.reason, kind="term")
    return lock_read(row)


@router.get(
    "/locks",
    response_model=list[LockRead],
    summary="A school's locks and the inspection windows over it, newest first",
    responses=problem_responses(401, 403, 404),
)
async def list_locks(
    uow: UowDep, actor: ActorDep, school_id: Annotated[uuid.UUID, Query()]
) -> list[LockRead]:
    _, rows = await handlers.locks_of(uow, actor, school_id)
    return [lock_read(r) for r in rows]


class WindowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: uuid.UUID = Field(description="The district office or the department.")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Reason


@router.post(
    "/inspection-windows",
    status_code=201,
    response_model=LockRead,
    summary="Make the data of every school under a unit read-only for an inspection (R31)",
    responses=problem_responses(401, 403, 404, 422),
)
async def open_window(body: WindowCreate, uow: UowDep, actor: ActorDep) -> LockRead:
    row = await handlers.open_inspection(
        uow,
        actor,
        handlers.OpenInspection(body.unit_id, body.starts_at, body.ends_at, body.reason),
    )
    return lock_read(row)


@router.post(
    "/inspection-windows/{lock_id}/close",
    response_model=LockRead,
    summary="End an inspection window early",
    responses=problem_responses(401, 403, 404, 409),
)
async def close_window(lock_id: uuid.UUID, body: Reopen, uow: UowDep, actor: ActorDep) -> LockRead:
    row = await handlers.reopen_lock(uow, actor, lock_id, body.reason, kind="inspection")
    return lock_read(row)


class SnapshotRead(BaseModel):
    class_id: uuid.UUID
    period: str
    version: int
    versions: list[int] = Field(description="Every version of this class and period.")
    lock_id: uuid.UUID | None
    correction_id: uuid.UUID | None
    created_at: datetime
    data_sha256: str
    data: dict[str, Any] = Field(
        description="Students, the period's cells and every computed finding, as locked."
    )


@router.get(
    "/classes/{class_id}/snapshots/{period}",
    response_model=SnapshotRead,
    summary="A class's results as locked (the latest version, or the one asked for)",
    responses=problem_responses(401, 403, 404),
)
async def read_snapshot(
    class_id: uuid.UUID,
    period: Term,
    uow: UowDep,
    actor: ActorDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> SnapshotRead:
    snapshot, versions = await handlers.snapshot_of(uow, actor, class_id, period.value, version)
    return SnapshotRead(
        class_id=snapshot.class_id,
        period=snapshot.period,
        version=snapshot.version,
        versions=versions,
        lock_id=snapshot.lock_id,
        correction_id=snapshot.correction_id,
        created_at=snapshot.created_at,
        data_sha256=snapshot.data_sha256,
        data=snapshot.data,
    )
