"""The roll call (R14): read the list, submit, amend under If-Match, history; amendments."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from attendance import idempotency
from attendance.api.deps import ActorDep, SettingsDep, UowDep
from attendance.domain.counting import Mark
from attendance.handlers import rollcalls as handlers
from attendance.models import AmendmentRow, RevisionRow
from common.errors import Problem, problem_responses
from common.events.attendance import Session

router = APIRouter(tags=["roll calls"])
ROUTE = handlers.ROUTE


def parse_if_match(header: str | None) -> int | None:
    """The revision an ``If-Match`` names; None without one; 412 for anything unreadable."""
    if header is None or not header.strip():
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise Problem(
            412, "precondition-failed", "Dữ liệu đã bị thay đổi", f"If-Match {header!r} is no ETag"
        )
    return int(text)


class MarkWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: uuid.UUID
    mark: Mark = Field(
        description="present, late (đi muộn), absent_excused (có phép), absent_unexcused"
    )
    reason: str | None = Field(default=None, max_length=200, description="Why absent or late.")


class RollCallWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marks: list[MarkWrite] = Field(
        min_length=1, max_length=200, description="Every student on the class list that day."
    )
    taken_at: AwareDatetime | None = Field(
        default=None, description="When the device took the roll (offline); kept beside ours."
    )
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why the roll changes; required for a change after the roll's day.",
    )


class MarkRead(BaseModel):
    student_id: uuid.UUID
    full_name: str
    mark: Mark | None = Field(description="Null until the roll is submitted.")
    reason: str | None


class RollCallRead(BaseModel):
    class_id: uuid.UUID
    class_label: str
    day: date
    session: Session
    deadline: datetime = Field(description="First period + the province's minutes (R14).")
    submitted: bool
    roll_call_id: uuid.UUID | None
    revision: int = Field(description="0 before the first submission; the ETag after.")
    on_time: bool | None = Field(description="Whether the first submission beat the deadline.")
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    submitted_by: uuid.UUID | None
    taken_at: datetime | None
    present: int
    late_arrivals: int
    absent_excused: int
    absent_unexcused: int
    pending_amendment_id: uuid.UUID | None
    students: list[MarkRead] = Field(description="In Vietnamese name order.")


def _read(view: handlers.RollCallView) -> RollCallRead:
    roll = view.roll
    return RollCallRead(
        class_id=view.class_.id,
        class_label=view.class_.label,
        day=roll.day if roll else date.min,
        session=Session(roll.session) if roll else Session.MORNING,
        deadline=view.deadline,
        submitted=roll is not None,
        roll_call_id=roll.id if roll else None,
        revision=roll.revision if roll else 0,
        on_time=roll.on_time if roll else None,
        first_submitted_at=roll.first_submitted_at if roll else None,
        submitted_at=roll.submitted_at if roll else None,
        submitted_by=roll.submitted_by if roll else None,
        taken_at=roll.taken_at if roll else None,
        present=roll.present if roll else 0,
        late_arrivals=roll.late_arrivals if roll else 0,
        absent_excused=roll.absent_excused if roll else 0,
        absent_unexcused=roll.absent_unexcused if roll else 0,
        pending_amendment_id=view.pending_amendment.id if view.pending_amendment else None,
        students=[
            MarkRead(
                student_id=e.student_id,
                full_name=e.full_name,
                mark=Mark(view.marks[e.student_id].mark) if e.student_id in view.marks else None,
                reason=view.marks[e.student_id].reason if e.student_id in view.marks else None,
            )
            for e in view.roster
        ],
    )


@router.get(
    ROUTE,
    response_model=RollCallRead,
    summary="A class's roll for a day and session, or the list to take it from",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def read_roll_call(
    class_id: uuid.UUID,
    day: date,
    session: Session,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    response: Response,
) -> RollCallRead:
    view = await handlers.read_roll_call(uow, actor, settings, class_id, day, session)
    read = _read(view).model_copy(update={"day": day, "session": session})
    if view.roll is not None:
        response.headers["ETag"] = handlers.etag(view.roll.revision)
    return read


class AmendmentRead(BaseModel):
    amendment_id: uuid.UUID
    roll_call_id: uuid.UUID
    class_id: uuid.UUID
    base_revision: int
    reason: str
    status: Literal["pending", "approved", "rejected"]
    requested_by: uuid.UUID
    requested_at: datetime
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_note: str | None
    marks: dict[str, Mark] = Field(description="Student id → the mark asked for.")


def _amendment(row: AmendmentRow) -> AmendmentRead:
    return AmendmentRead(
        amendment_id=row.id,
        roll_call_id=row.roll_call_id,
        class_id=row.class_id,
        base_revision=row.base_revision,
        reason=row.reason,
        status=row.status,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        marks={s: Mark(v[0]) for s, v in row.marks.items()},
    )


class SubmitOutcome(BaseModel):
    outcome: Literal["created", "amended", "pending"] = Field(
        description="created (201), amended (200) or pending the leader's approval (202)."
    )
    roll_call: RollCallRead
    amendment: AmendmentRead | None = None


STATUS = {"created": 201, "amended": 200, "pending": 202}


@router.put(
    ROUTE,
    response_model=SubmitOutcome,
    status_code=201,
    summary="Submit or amend a class's roll (homeroom teacher; Idempotency-Key, If-Match)",
    responses={
        200: {"model": SubmitOutcome, "description": "Amended"},
        202: {"model": SubmitOutcome, "description": "Waiting for the leader's approval"},
        **problem_responses(401, 403, 404, 409, 412, 422, 428),
    },
)
async def submit_roll_call(
    class_id: uuid.UUID,
    day: date,
    session: Session,
    body: RollCallWrite,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    if_match: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Every student on the list that day exactly once. A first submission after the deadline
    is accepted and marked late. With the roll in, send ``If-Match`` with its revision: on the
    roll's day the change applies at once; later it waits for the school leader (202) and
    needs a ``reason``. A retry with the same ``Idempotency-Key`` returns the first answer."""
    cmd = handlers.SubmitRollCall(
        class_id=class_id,
        day=day,
        session=session,
        marks=tuple(handlers.MarkInput(m.student_id, m.mark, m.reason) for m in body.marks),
        if_match=parse_if_match(if_match),
        taken_at=body.taken_at,
        reason=body.reason,
    )
    # Per caller and per person acted for: school software acting for two teachers has two
    # key spaces, and a replay answers only someone the route admits (checked first).
    owner = f"{actor.principal.kind}:{actor.principal.subject}:{actor.principal.acting_for or ''}"
    async with uow:
        if idempotency_key is not None:
            await handlers.authorize_submit(uow, actor, class_id)
            fingerprint = idempotency.request_fingerprint(
                "PUT", request.url.path, await request.body(), if_match
            )
            stored = await idempotency.claim(uow, owner, idempotency_key, fingerprint)
            if stored is not None:
                return Response(
                    stored.body,
                    stored.status,
                    headers={**stored.headers, "Idempotent-Replayed": "true"},
                )
        done = await handlers.submit_roll_call(uow, actor, settings, cmd)
        read = _read(done.view).model_copy(update={"day": day, "session": session})
        outcome = SubmitOutcome(
            outcome=done.outcome,
            roll_call=read,
            amendment=_amendment(done.amendment) if done.amendment else None,
        )
        headers = {"content-type": "application/json"}
        if done.view.roll is not None:
            headers["etag"] = handlers.etag(done.view.roll.revision)
        answer = idempotency.StoredResponse(
            STATUS[done.outcome], headers, outcome.model_dump_json().encode()
        )
        if idempotency_key is not None:
            await idempotency.store(uow, owner, idempotency_key, answer)
        await uow.commit()
    return Response(answer.body, answer.status, headers=answer.headers)


class RevisionRead(BaseModel):
    revision: int
    submitted_at: datetime
    submitted_by: uuid.UUID
    client_id: str | None
    taken_at: datetime | None
    approved_by: uuid.UUID | None
    amendment_id: uuid.UUID | None
    marks: dict[str, Mark]


class HistoryRead(BaseModel):
    roll_call_id: uuid.UUID
    deadline: datetime
    on_time: bool
    revisions: list[RevisionRead]
    amendments: list[AmendmentRead]


def _revision(row: RevisionRow) -> RevisionRead:
    return RevisionRead(
        revision=row.revision,
        submitted_at=row.submitted_at,
        submitted_by=row.submitted_by,
        client_id=row.client_id,
        taken_at=row.taken_at,
        approved_by=row.approved_by,
        amendment_id=row.amendment_id,
        marks={s: Mark(v[0]) for s, v in row.marks.items()},
    )


@router.get(
    f"{ROUTE}/history",
    response_model=HistoryRead,
    summary="Every revision of a roll and every amendment asked for",
    responses=problem_responses(401, 403, 404, 422),
)
async def roll_call_history(
    class_id: uuid.UUID, day: date, session: Session, uow: UowDep, actor: ActorDep
) -> HistoryRead:
    roll, revisions, amendments = await handlers.roll_call_history(
        uow, actor, class_id, day, session
    )
    return HistoryRead(
        roll_call_id=roll.id,
        deadline=roll.deadline,
        on_time=roll.on_time,
        revisions=[_revision(r) for r in revisions],
        amendments=[_amendment(a) for a in amendments],
    )


class RollCallSummary(BaseModel):
    roll_call_id: uuid.UUID
    day: date
    session: Session
    on_time: bool
    revision: int
    present: int
    absent_excused: int
    absent_unexcused: int
    late_arrivals: int


@router.get(
    "/classes/{class_id}/roll-calls",
    response_model=list[RollCallSummary],
    summary="A class's rolls over a range of days",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_roll_calls(
    class_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    from_: Annotated[date, Query(alias="from")],
    to: date,
) -> list[RollCallSummary]:
    _, rolls = await handlers.list_roll_calls(uow, actor, class_id, from_, to)
    return [
        RollCallSummary(
            roll_call_id=r.id,
            day=r.day,
            session=Session(r.session),
            on_time=r.on_time,
            revision=r.revision,
            present=r.present,
            absent_excused=r.absent_excused,
            absent_unexcused=r.absent_unexcused,
            late_arrivals=r.late_arrivals,
        )
        for r in rolls
    ]


@router.get(
    "/schools/{school_id}/amendments",
    response_model=list[AmendmentRead],
    summary="Amendments of a school's rolls, by status",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_amendments(
    school_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    status: Literal["pending", "approved", "rejected"] | None = None,
) -> list[AmendmentRead]:
    return [_amendment(a) for a in await handlers.list_amendments(uow, actor, school_id, status)]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


@router.post(
    "/amendments/{amendment_id}/approve",
    response_model=AmendmentRead,
    summary="The school leader approves an amendment; the roll takes it as a new revision",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def approve_amendment(
    amendment_id: uuid.UUID, body: Decision, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> AmendmentRead:
    row = await handlers.decide_amendment(
        uow, actor, settings, amendment_id, approve=True, note=body.note
    )
    return _amendment(row)


@router.post(
    "/amendments/{amendment_id}/reject",
    response_model=AmendmentRead,
    summary="The school leader rejects an amendment; the roll stays as it is",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def reject_amendment(
    amendment_id: uuid.UUID, body: Decision, uow: UowDep, actor: ActorDep, settings: SettingsDep
) -> AmendmentRead:
    row = await handlers.decide_amendment(
        uow, actor, settings, amendment_id, approve=False, note=body.note
    )
    return _amendment(row)
