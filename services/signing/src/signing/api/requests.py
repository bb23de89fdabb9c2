"""Signing requests: open, read, sign (server key or the signer's own token), refuse, restart."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Base64Bytes, BaseModel, Field, StringConstraints, model_validator

from common.errors import problem_responses
from common.events.archive import DocumentKind
from common.events.records import SCHOOL_YEAR_PATTERN, SHA256_PATTERN, Term
from common.events.signing import SignerRole
from signing.api.deps import ActorDep, SettingsDep, StepUpDep, ToolsDep, UowDep
from signing.domain.chain import ROLE_LABELS_VI, PlannedSigner, RequestState, StepState
from signing.handlers import requests as handlers

router = APIRouter(tags=["signing requests"])

FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
WRITE_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422)


class SignerPlan(BaseModel):
    role: SignerRole
    user_id: uuid.UUID | None = Field(
        default=None, description="The person; null for the school's seal (school_seal)."
    )
    field: FieldName = Field(description="Name of the signature field in the document.")
    page: int = Field(default=0, ge=0, le=10_000, description="Page of a visible stamp, from 0.")
    box: tuple[int, int, int, int] | None = Field(
        default=None,
        description="Visible stamp [x1, y1, x2, y2] in PDF points; null: invisible signature.",
    )

    @model_validator(mode="after")
    def _box_is_a_box(self) -> SignerPlan:
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            if not (0 <= x1 < x2 <= 20_000 and 0 <= y1 < y2 <= 20_000):
                raise ValueError("box must be [x1, y1, x2, y2] with x1 < x2 and y1 < y2")
        return self


class RequestCreate(BaseModel):
    document_id: uuid.UUID = Field(description="Id of the document in archive.")
    kind: DocumentKind
    title: str = Field(min_length=1, max_length=300)
    school_id: uuid.UUID
    school_year: Annotated[str, StringConstraints(pattern=SCHOOL_YEAR_PATTERN)]
    term: Term | None = None
    class_id: uuid.UUID | None = None
    student_id: uuid.UUID | None = None
    document: Base64Bytes = Field(description="The PDF, base64.")
    signers: list[SignerPlan] = Field(min_length=1, max_length=100)


class StepRead(BaseModel):
    position: int
    role: SignerRole
    role_label: str = Field(description="The role in Vietnamese, as the stamp shows it.")
    user_id: uuid.UUID | None
    field: str
    state: StepState
    signed_at: datetime | None
    signed_by: uuid.UUID | None
    certificate_sha256: str | None
    level: str | None
    refused_reason: str | None
    refused_at: datetime | None


class RequestRead(BaseModel):
    id: uuid.UUID
    document_id: uuid.UUID
    kind: DocumentKind
    title: str
    school_id: uuid.UUID
    school_year: str
    term: str | None
    class_id: uuid.UUID | None
    student_id: uuid.UUID | None
    state: RequestState
    round: int
    revisions: int
    document_sha256: str = Field(description="SHA-256 of the current revision; sign against it.")
    current_position: int | None = Field(description="Whose turn: the position, null when done.")
    steps: list[StepRead]
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, view: handlers.RequestView) -> RequestRead:
        r = view.request
        waiting = [s.position for s in view.steps if s.state != StepState.SIGNED]
        return cls(
            id=r.id,
            document_id=r.document_id,
            kind=DocumentKind(r.kind),
            title=r.title,
            school_id=r.school_id,
            school_year=r.school_year,
            term=r.term,
            class_id=r.class_id,
            student_id=r.student_id,
            state=RequestState(r.state),
            round=r.round,
            revisions=r.revisions,
            document_sha256=r.document_sha256,
            current_position=min(waiting) if waiting else None,
            steps=[
                StepRead(
                    position=s.position,
                    role=SignerRole(s.role),
                    role_label=ROLE_LABELS_VI[SignerRole(s.role)],
                    user_id=s.user_id,
                    field=s.field,
                    state=StepState(s.state),
                    signed_at=s.signed_at,
                    signed_by=s.signed_by,
                    certificate_sha256=s.certificate_sha256,
                    level=s.level,
                    refused_reason=s.refused_reason,
                    refused_at=s.refused_at,
                )
                for s in view.steps
            ],
            created_at=r.created_at,
            completed_at=r.completed_at,
        )


class RequestPage(BaseModel):
    requests: list[RequestRead]
    next_after: uuid.UUID | None


@router.post(
    "/signing-requests",
    status_code=201,
    response_model=RequestRead,
    summary="Open a signing request: a PDF and its ordered signers",
    responses=WRITE_PROBLEMS,
)
async def open_request(
    body: RequestCreate, uow: UowDep, actor: ActorDep, tools: ToolsDep, settings: SettingsDep
) -> RequestRead:
    view = await handlers.open_request(
        uow,
        actor,
        tools,
        settings,
        handlers.NewRequest(
            document_id=body.document_id,
            kind=body.kind,
            title=body.title,
            school_id=body.school_id,
            school_year=body.school_year,
            term=body.term.value if body.term else None,
            class_id=body.class_id,
            student_id=body.student_id,
            document=body.document,
            steps=[
                handlers.StepPlan(PlannedSigner(s.role, s.user_id, s.field), s.page, s.box)
                for s in body.signers
            ],
        ),
    )
    return RequestRead.of(view)


@router.get(
    "/signing-requests",
    response_model=RequestPage,
    summary="A school's signing requests; waiting_for_me: those whose turn is the caller's",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_requests(
    uow: UowDep,
    actor: ActorDep,
    school_id: uuid.UUID,
    class_id: uuid.UUID | None = None,
    state: RequestState | None = None,
    waiting_for_me: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: uuid.UUID | None = None,
) -> RequestPage:
    views = await handlers.list_requests(
        uow,
        actor,
        school_id,
        class_id=class_id,
        state=state,
        waiting_for_me=waiting_for_me,
        limit=limit,
        after=after,
    )
    last = views[-1].request.id if len(views) == limit and not waiting_for_me else None
    return RequestPage(requests=[RequestRead.of(v) for v in views], next_after=last)


@router.get(
    "/signing-requests/{request_id}",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404),
)
async def get_request(request_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> RequestRead:
    return RequestRead.of(await handlers.get_request(uow, actor, request_id))


@router.get(
    "/signing-requests/{request_id}/document",
    summary="The current revision of the document (PDF)",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF"},
        **problem_responses(401, 403, 404),
    },
)
async def get_document(request_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> Response:
    request, revision = await handlers.get_document(uow, actor, request_id)
    return Response(
        revision.content,
        media_type="application/pdf",
        headers={
            "ETag": f'"{revision.sha256}"',
            "Content-Disposition": f'inline; filename="{request.document_id}.pdf"',
        },
    )


class SignBody(BaseModel):
    document_sha256: Sha256 = Field(description="SHA-256 of the revision the signer read.")
    step_up_token: str = Field(
        min_length=1, max_length=4096, description="From identity's POST /auth/step-up (TOTP)."
    )


@router.post(
    "/signing-requests/{request_id}/sign",
    response_model=RequestRead,
    summary="Sign at your turn with your key in the server's token (needs a TOTP step-up)",
    responses=WRITE_PROBLEMS,
)
async def sign(
    request_id: uuid.UUID,
    body: SignBody,
    uow: UowDep,
    actor: ActorDep,
    tools: ToolsDep,
    step_up: StepUpDep,
) -> RequestRead:
    view = await handlers.sign(
        uow,
        actor,
        tools,
        step_up,
        request_id,
        document_sha256=body.document_sha256,
        step_up_token=body.step_up_token,
    )
    return RequestRead.of(view)


class ExternalStartBody(BaseModel):
    document_sha256: Sha256


class ExternalStartRead(BaseModel):
    session_id: uuid.UUID
    to_sign: str = Field(description="Base64 DER of the signed attributes to sign.")
    digest: str = Field(description="Base64 SHA-256 of to_sign (what a raw signer signs).")
    algorithm: str
    expires_at: datetime


@router.post(
    "/signing-requests/{request_id}/external-signatures",
    status_code=201,
    response_model=ExternalStartRead,
    summary="Client-side signing, step 1: the digest for the signer's USB token",
    responses=WRITE_PROBLEMS,
)
async def start_external(
    request_id: uuid.UUID,
    body: ExternalStartBody,
    uow: UowDep,
    actor: ActorDep,
    tools: ToolsDep,
    settings: SettingsDep,
) -> ExternalStartRead:
    started = await handlers.start_external(
        uow, actor, tools, settings, request_id, document_sha256=body.document_sha256
    )
    return ExternalStartRead(
        session_id=started.session_id,
        to_sign=base64.b64encode(started.to_sign).decode(),
        digest=base64.b64encode(started.digest).decode(),
        algorithm=started.algorithm,
        expires_at=started.expires_at,
    )


class ExternalFinishBody(BaseModel):
    signature: Base64Bytes = Field(description="The token's signature value, base64.")


@router.post(
    "/signing-requests/{request_id}/external-signatures/{session_id}",
    response_model=RequestRead,
    summary="Client-side signing, step 2: the signature value; the service embeds it",
    responses=WRITE_PROBLEMS,
)
async def finish_external(
    request_id: uuid.UUID,
    session_id: uuid.UUID,
    body: ExternalFinishBody,
    uow: UowDep,
    actor: ActorDep,
    tools: ToolsDep,
) -> RequestRead:
    view = await handlers.finish_external(
        uow, actor, tools, request_id, session_id, signature=body.signature
    )
    return RequestRead.of(view)


class RefuseBody(BaseModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


@router.post(
    "/signing-requests/{request_id}/refuse",
    response_model=RequestRead,
    summary="Refuse to sign at your turn, with a reason; the request waits for its owner",
    responses=WRITE_PROBLEMS,
)
async def refuse(
    request_id: uuid.UUID, body: RefuseBody, uow: UowDep, actor: ActorDep, tools: ToolsDep
) -> RequestRead:
    return RequestRead.of(await handlers.refuse(uow, actor, tools, request_id, reason=body.reason))


class RestartBody(BaseModel):
    document: Base64Bytes | None = Field(
        default=None, description="A corrected PDF (every signature again); null: same document."
    )


@router.post(
    "/signing-requests/{request_id}/restart",
    response_model=RequestRead,
    summary="Restart a refused request, with a corrected document or the same one",
    responses=WRITE_PROBLEMS,
)
async def restart(
    request_id: uuid.UUID,
    body: RestartBody,
    uow: UowDep,
    actor: ActorDep,
    tools: ToolsDep,
    settings: SettingsDep,
) -> RequestRead:
    view = await handlers.restart(uow, actor, tools, settings, request_id, document=body.document)
    return RequestRead.of(view)
