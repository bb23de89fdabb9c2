"""Corrections of locked entries (R27): file, attach evidence, permit or reject, witness,
withdraw; applied when the leader's permission and both witnesses are in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.errors import Problem, problem_responses
from records.api.deps import ActorDep, RuleOptionsDep, SettingsDep, UowDep
from records.domain.curriculum import Period
from records.handlers import corrections as handlers
from records.models import CorrectionRow
from records.rules import RuleOptions
from records.settings import RecordsSettings

router = APIRouter(tags=["corrections"])

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=1000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
CellValue = str | int | float | None


class CorrectionCellCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, max_length=24)
    new: CellValue = Field(description="The corrected value, as typed; null clears the cell.")
    old: CellValue = Field(
        default=None,
        description="The value the teacher sees now; when sent, it must match the stored one.",
    )


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class_id: uuid.UUID
    sheet: str = Field(pattern=r"^(?:_conduct|_qualities|[a-z][a-z0-9_]{0,39})$")
    period: Period
    student_id: uuid.UUID
    cells: list[CorrectionCellCreate] = Field(min_length=1, max_length=50)
    reason: Reason


class CorrectionCellRead(BaseModel):
    column: str
    old: str | None
    new: str | None


class CorrectionRead(BaseModel):
    id: uuid.UUID
    school_id: uuid.UUID
    class_id: uuid.UUID
    sheet: str
    period: str
    student_id: uuid.UUID
    cells: list[CorrectionCellRead]
    reason: str
    status: str = Field(description="pending, permitted, applied, rejected, withdrawn or expired")
    requested_by: uuid.UUID
    requested_at: datetime
    expires_at: datetime
    evidence_name: str | None
    evidence_type: str | None
    evidence_sha256: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_note: str | None
    board_witness_id: uuid.UUID | None
    board_witnessed_at: datetime | None
    homeroom_witness_id: uuid.UUID | None
    homeroom_witnessed_at: datetime | None
    applied_at: datetime | None
    applied_snapshot: int | None = Field(description="Snapshot version the correction made.")
    closed_by: uuid.UUID | None
    closed_at: datetime | None


def correction_read(row: CorrectionRow) -> CorrectionRead:
    return CorrectionRead(
        id=row.id,
        school_id=row.school_id,
        class_id=row.class_id,
        sheet=row.sheet,
        period=row.period,
        student_id=row.student_id,
        cells=[CorrectionCellRead(**c) for c in row.cells],
        reason=row.reason,
        status=row.status,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        evidence_name=row.evidence_name,
        evidence_type=row.evidence_type,
        evidence_sha256=row.evidence_sha256,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        board_witness_id=row.board_witness_id,
        board_witnessed_at=row.board_witnessed_at,
        homeroom_witness_id=row.homeroom_witness_id,
        homeroom_witnessed_at=row.homeroom_witnessed_at,
        applied_at=row.applied_at,
        applied_snapshot=row.applied_snapshot,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
    )


@router.post(
    "/corrections",
    status_code=201,
    response_model=CorrectionRead,
    summary="Ask to correct locked entries of one student (R27)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def file_correction(
    body: CorrectionCreate, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> CorrectionRead:
    """Only the teacher who writes the sheet; the entries must be under a live term lock
    (else 409 ``not-locked``). Old values are taken from the stored cells and echoed back; an
    ``old`` that differs from the stored value is refused (422 ``old-value-mismatch``)."""
    row = await handlers.file_correction(
        uow,
        actor,
        handlers.FileCorrection(
            class_id=body.class_id,
            sheet=body.sheet,
            period=body.period,
            student_id=body.student_id,
            cells=tuple(
                handlers.CorrectionCell(
                    column=c.column,
                    new=c.new,
                    old=c.old,
                    old_given="old" in c.model_fields_set,
                )
                for c in body.cells
            ),
            reason=body.reason,
        ),
        expiry_days=settings.correction_expiry_days,
    )
    return correction_read(row)


@router.get(
    "/corrections",
    response_model=list[CorrectionRead],
    summary="A school's correction requests, newest first",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_corrections(
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    school_id: Annotated[uuid.UUID, Query()],
    status: Annotated[handlers.Status | None, Query()] = None,
    class_id: Annotated[uuid.UUID | None, Query()] = None,
) -> list[CorrectionRead]:
    """School readers see every request; a teacher those they filed or must witness."""
    rows = await handlers.list_corrections(
        uow,
        actor,
        school_id,
        status.value if status else None,
        class_id,
        settings.max_page_size,
    )
    return [correction_read(r) for r in rows]


@router.get(
    "/corrections/{correction_id}",
    response_model=CorrectionRead,
    summary="One correction request with every step taken",
    responses=problem_responses(401, 403, 404),
)
async def read_correction(correction_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> CorrectionRead:
    return correction_read(await handlers.read_correction(uow, actor, correction_id))


@router.put(
    "/corrections/{correction_id}/evidence",
    response_model=CorrectionRead,
    summary="Attach the evidence file (PDF, JPEG or PNG, at most 5 MB)",
    responses=problem_responses(401, 403, 404, 409, 413, 422),
)
async def put_evidence(
    correction_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    file: Annotated[UploadFile, File(description="A PDF, JPEG or PNG of at most 5 MB.")],
) -> CorrectionRead:
    actor.person()
    data = await file.read(handlers.MAX_EVIDENCE_BYTES + 1)
    if len(data) > handlers.MAX_EVIDENCE_BYTES:
        raise Problem(413, "payload-too-large", "Tệp quá lớn", "at most 5 MB")
    row = await handlers.set_evidence(uow, actor, correction_id, file.filename or "evidence", data)
    return correction_read(row)


@router.get(
    "/corrections/{correction_id}/evidence",
    summary="The evidence file of a request",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}},
        **problem_responses(401, 403, 404),
    },
)
async def get_evidence(correction_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> Response:
    row = await handlers.read_correction(
        uow, actor, correction_id, ("GET", "/corrections/{correction_id}/evidence")
    )
    if row.evidence is None or row.evidence_type is None:
        raise Problem(404, "no-evidence", "Yêu cầu không có minh chứng", str(correction_id))
    return Response(
        row.evidence,
        media_type=row.evidence_type,
        headers={
            "Content-Disposition": f'attachment; filename="minh-chung-{row.id}"',
            "X-Content-SHA256": row.evidence_sha256 or "",
        },
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note


def _ctx(settings: RecordsSettings, options: RuleOptions) -> handlers.ApplyContext:
    return handlers.ApplyContext(options=options, grace_days=settings.entry_grace_days)


@router.post(
    "/corrections/{correction_id}/permit",
    response_model=CorrectionRead,
    summary="The school leader permits the correction (once)",
    responses=problem_responses(401, 403, 404, 409, 422, 423),
)
async def permit(
    correction_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    options: RuleOptionsDep,
    body: Decision | None = None,
) -> CorrectionRead:
    """Applies the edit when both witnesses have confirmed already."""
    row = await handlers.decide(
        uow, actor, correction_id, True, body.note if body else None, _ctx(settings, options)
    )
    return correction_read(row)


@router.post(
    "/corrections/{correction_id}/reject",
    response_model=CorrectionRead,
    summary="The school leader rejects the correction, with a note",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reject(
    correction_id: uuid.UUID,
    body: Rejection,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    options: RuleOptionsDep,
) -> CorrectionRead:
    row = await handlers.decide(
        uow, actor, correction_id, False, body.note, _ctx(settings, options)
    )
    return correction_read(row)


@router.post(
    "/corrections/{correction_id}/witness",
    response_model=CorrectionRead,
    summary="Confirm as witness: an admin-board member, or the class's homeroom teacher",
    responses=problem_responses(401, 403, 404, 409, 422, 423),
)
async def witness(
    correction_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    options: RuleOptionsDep,
) -> CorrectionRead:
    """The homeroom teacher of the class fills the homeroom slot; anyone else holding
    school_admin or school_leader at the school the board slot. Applies the edit when this
    completes the leader's permission and both witnesses."""
    row = await handlers.witness(uow, actor, correction_id, _ctx(settings, options))
    return correction_read(row)


@router.post(
    "/corrections/{correction_id}/withdraw",
    response_model=CorrectionRead,
    summary="The requester withdraws a request not yet applied",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def withdraw(
    correction_id: uuid.UUID, uow: UowDep, actor: ActorDep, body: Decision | None = None
) -> CorrectionRead:
    row = await handlers.withdraw(uow, actor, correction_id, body.note if body else None)
    return correction_read(row)
