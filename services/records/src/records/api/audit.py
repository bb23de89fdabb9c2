"""A school's audit chain (R5): its records page by page, and their verification."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from common.errors import problem_responses
from records.api.deps import ActorDep, SettingsDep, UowDep
from records.handlers import audit as handlers

router = APIRouter(tags=["audit"])


class AuditRecordRead(BaseModel):
    seq: int
    at: datetime
    actor_id: uuid.UUID | None
    client_id: str | None
    action: str
    target: str
    content: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    school_id: uuid.UUID
    head_seq: int
    head_hash: str
    records: list[AuditRecordRead]
    next_after_seq: int | None = Field(description="Pass as after_seq for the next page.")


class ChainBreakRead(BaseModel):
    seq: int
    problem: handlers.Problem
    expected: str
    found: str


class VerificationRead(BaseModel):
    school_id: uuid.UUID
    records: int = Field(description="Records read before the verification ended.")
    head_seq: int
    head_hash: str
    ok: bool
    first_break: ChainBreakRead | None


@router.get(
    "/schools/{school_id}/audit",
    response_model=AuditPage,
    summary="A page of a school's audit chain, in sequence order",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_audit(
    school_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> AuditPage:
    size = min(limit or settings.max_page_size, settings.max_page_size)
    rows, head_seq, head_hash = await handlers.audit_page(
        uow, actor, school_id, after_seq=after_seq, limit=size
    )
    return AuditPage(
        school_id=school_id,
        head_seq=head_seq,
        head_hash=head_hash,
        records=[
            AuditRecordRead(
                seq=r.seq,
                at=r.at,
                actor_id=r.actor_id,
                client_id=r.client_id,
                action=r.action,
                target=r.target,
                content=r.content,
                prev_hash=r.prev_hash,
                hash=r.hash,
            )
            for r in rows
        ],
        next_after_seq=rows[-1].seq if len(rows) == size else None,
    )


@router.get(
    "/schools/{school_id}/audit/verify",
    response_model=VerificationRead,
    summary="Recompute a school's audit chain and report the first break",
    responses=problem_responses(401, 403, 404),
)
async def verify_audit(school_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> VerificationRead:
    result = await handlers.verify_school(uow, actor, school_id)
    found = result.first_break
    return VerificationRead(
        school_id=result.school_id,
        records=result.records,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        ok=result.ok,
        first_break=None
        if found is None
        else ChainBreakRead(
            seq=found.seq, problem=found.problem, expected=found.expected, found=found.found
        ),
    )
