"""Batch signing: everything waiting for the caller in a class or a school, confirmed once."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from common.errors import problem_responses
from signing.api.deps import ActorDep, StepUpDep, UowDep
from signing.handlers import batches as handlers
from signing.models import BatchRow

router = APIRouter(tags=["batch signing"])


class BatchCreate(BaseModel):
    school_id: uuid.UUID
    class_id: uuid.UUID | None = Field(default=None, description="Null: the whole school.")
    include_seal: bool = Field(
        default=False, description="A school leader also applies the school's seal."
    )
    step_up_token: str = Field(min_length=1, max_length=4096)


class BatchRead(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    class_id: uuid.UUID | None
    state: str = Field(description="queued, running or done.")
    requests: int
    signed: int
    failed: int
    failures: list[dict[str, str]]
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: BatchRow) -> BatchRead:
        return cls(
            id=row.id,
            school_id=row.school_id,
            class_id=row.class_id,
            state=row.state,
            requests=len(row.request_ids),
            signed=row.signed,
            failed=row.failed,
            failures=row.failures,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


@router.post(
    "/signing-batches",
    status_code=202,
    response_model=BatchRead,
    summary="Sign everything waiting for you in a class or school (one TOTP step-up)",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def queue_batch(
    body: BatchCreate, uow: UowDep, actor: ActorDep, step_up: StepUpDep
) -> BatchRead:
    row = await handlers.queue_batch(
        uow,
        actor,
        step_up,
        school_id=body.school_id,
        class_id=body.class_id,
        include_seal=body.include_seal,
        step_up_token=body.step_up_token,
    )
    return BatchRead.of(row)


@router.get(
    "/signing-batches/{batch_id}",
    response_model=BatchRead,
    responses=problem_responses(401, 403, 404),
)
async def get_batch(batch_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> BatchRead:
    return BatchRead.of(await handlers.get_batch(uow, actor, batch_id))
