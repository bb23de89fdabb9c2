"""Signing requests: opened with a document and its chain, signed in order, refused and
restarted, completed as PAdES B-LTA.

Each signature is an incremental update of the latest revision and is stored as a new one; the
request row is locked (``FOR UPDATE``) while a signature is made, so two signers — or one signer
twice — never sign the same revision. An out-of-turn signer, a wrong second factor, a signer
without a usable certificate and a document changed since the caller saw it are refused before
anything is signed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.events.archive import DocumentKind
from common.events.identity import OrgLevel, Role
from common.events.records import Term
from common.events.signing import (
    DocumentSigned,
    PadesLevel,
    SignerRole,
    SigningRequestCompleted,
    SigningRequestRefused,
)
from signing.access import Actor, Forbidden, Owner, not_in_chain, rule
from signing.domain.chain import (
    DEFAULT_CHAINS,
    ROLE_LABELS_VI,
    ChainRule,
    PlannedSigner,
    RequestState,
    Step,
    StepState,
    TurnError,
    check_chain,
    turn_of,
)
from signing.engine import (
    CertificateRefused,
    NotAPdfError,
    SignatureTools,
    StepUpCheck,
    WrongSignatureError,
)
from signing.handlers.base import authorize, conflict, invalid, not_found, unit_of, utcnow
from signing.models import (
    CertificateRow,
    ExternalSessionRow,
    OrgUnitRow,
    RevisionRow,
    SigningRequestRow,
    SigningStepRow,
)
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork


@dataclass(frozen=True, slots=True)
class StepPlan:
    signer: PlannedSigner
    page: int
    box: tuple[int, int, int, int] | None


@dataclass(frozen=True, slots=True)
class NewRequest:
    document_id: uuid.UUID
    kind: DocumentKind
    title: str
    school_id: uuid.UUID
    school_year: str
    term: str | None
    class_id: uuid.UUID | None
    student_id: uuid.UUID | None
    document: bytes
    steps: Sequence[StepPlan]


@dataclass(frozen=True, slots=True)
class RequestView:
    request: SigningRequestRow
    steps: list[SigningStepRow]


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def domain_steps(steps: Sequence[SigningStepRow]) -> list[Step]:
    return [Step(s.position, SignerRole(s.role), s.user_id, StepState(s.state)) for s in steps]


def _check_document(tools: SignatureTools, settings: SigningSettings, document: bytes) -> None:
    if len(document) > settings.document_max_bytes:
        raise invalid(
            "document-too-large",
            "Tài liệu quá lớn",
            f"The document has {len(document)} bytes; at most {settings.document_max_bytes}",
        )
    try:
        tools.check_pdf(document)
    except NotAPdfError as error:
        raise invalid("not-a-pdf", "Tài liệu không phải tệp PDF hợp lệ", str(error)) from None


async def chain_rule_of(
    uow: SigningUnitOfWork, province_id: uuid.UUID, kind: DocumentKind
) -> ChainRule:
    row = await uow.repo.chain_rule(province_id, kind.value)
    if row is None:
        return DEFAULT_CHAINS[kind]
    return ChainRule.of([SignerRole(r) for r in row.roles])


async def open_request(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    settings: SigningSettings,
    new: NewRequest,
) -> RequestView:
    async with uow:
        school = await unit_of(uow, new.school_id, OrgLevel.SCHOOL)
        await authorize(uow, actor, rule("POST", "/signing-requests"), school)
        _check_document(tools, settings, new.document)
        chain = await chain_rule_of(uow, school.province_id, new.kind)
        issues = check_chain([p.signer for p in new.steps], chain)
        if issues:
            raise invalid(
                "chain-invalid",
                "Chuỗi người ký không đúng quy định của Sở",
                f"{len(issues)} problem(s) with the signers against the {new.kind} chain",
                issues=[
                    {"index": i.index, "code": i.code, "message": i.message_vi} for i in issues
                ],
                chain=[r.value for r in chain.roles],
            )
        existing = await uow.repo.open_request_for_document(new.document_id)
        if existing is not None:
            raise conflict(
                "request-exists",
                "Tài liệu đã có yêu cầu ký đang xử lý",
                f"Document {new.document_id} already has request {existing.id}",
                request_id=str(existing.id),
            )
        now = utcnow()
        person = actor.person()
        digest = sha256(new.document)
        request = SigningRequestRow(
            id=uuid.uuid4(),
            document_id=new.document_id,
            kind=new.kind.value,
            title=new.title,
            school_id=school.id,
            district_id=school.district_id,
            province_id=school.province_id,
            school_year=new.school_year,
            term=new.term,
            class_id=new.class_id,
            student_id=new.student_id,
            state=RequestState.OPEN.value,
            round=1,
            revisions=1,
            document_sha256=digest,
            owner_id=person,
            owner_client=actor.client_id,
            created_at=now,
            updated_at=now,
        )
        uow.repo.add(request)
        await uow.repo.flush()
        steps = [
            SigningStepRow(
                request_id=request.id,
                position=i,
                role=p.signer.role.value,
                user_id=p.signer.user_id,
                field=p.signer.field,
                page=p.page,
                box=list(p.box) if p.box else None,
                state=StepState.WAITING.value,
            )
            for i, p in enumerate(new.steps, start=1)
        ]
        for step in steps:
            uow.repo.add(step)
        uow.repo.add(
            RevisionRow(
                request_id=request.id,
                seq=1,
                what="original",
                position=None,
                sha256=digest,
                content=new.document,
                made_by=person,
                made_at=now,
            )
        )
        await uow.commit()
        return RequestView(request, steps)


async def _visible_request(
    uow: SigningUnitOfWork, actor: Actor, request_id: uuid.UUID, method: str, path: str
) -> tuple[SigningRequestRow, list[SigningStepRow], OrgUnitRow, frozenset[Role]]:
    request = await uow.repo.request(request_id)
    if request is None:
        raise not_found("Signing request", request_id)
    school = await unit_of(uow, request.school_id)
    endpoint = rule(method, path)
    held = await authorize(uow, actor, endpoint, school)
    steps = await uow.repo.steps(request.id)
    only_signer = endpoint.owner is Owner.IN_CHAIN and held <= {Role.TEACHER, Role.STAFF}
    if only_signer and (actor.user_id is None or all(s.user_id != actor.user_id for s in steps)):
        raise not_in_chain()
    return request, steps, school, held


async def get_request(uow: SigningUnitOfWork, actor: Actor, request_id: uuid.UUID) -> RequestView:
    async with uow:
        request, steps, _, _ = await _visible_request(
            uow, actor, request_id, "GET", "/signing-requests/{request_id}"
        )
        return RequestView(request, steps)


async def get_document(
    uow: SigningUnitOfWork, actor: Actor, request_id: uuid.UUID
) -> tuple[SigningRequestRow, RevisionRow]:
    async with uow:
        request, _, _, _ = await _visible_request(
            uow, actor, request_id, "GET", "/signing-requests/{request_id}/document"
        )
        return request, await uow.repo.latest_revision(request.id)


async def list_requests(
    uow: SigningUnitOfWork,
    actor: Actor,
    school_id: uuid.UUID,
    *,
    class_id: uuid.UUID | None,
    state: RequestState | None,
    waiting_for_me: bool,
    limit: int,
    after: uuid.UUID | None,
) -> list[RequestView]:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        held = await authorize(uow, actor, rule("GET", "/signing-requests"), school)
        only_signer = held <= {Role.TEACHER, Role.STAFF}
        if (only_signer or waiting_for_me) and actor.user_id is None:
            return []
        rows = await uow.repo.requests(
            school.id,
            class_id=class_id,
            state=RequestState.OPEN.value if waiting_for_me else (state.value if state else None),
            signer=actor.user_id if only_signer else None,
            limit=limit if not waiting_for_me else 10_000,
            after=after,
        )
        steps = await uow.repo.steps_of([r.id for r in rows])
        views = [RequestView(r, steps[r.id]) for r in rows]
        if waiting_for_me:
            assert actor.user_id is not None
            may_seal = Role.SCHOOL_LEADER in held
            views = [v for v in views if my_turn(v, actor.user_id, may_seal=may_seal)][:limit]
        return views


def my_turn(view: RequestView, user_id: uuid.UUID, *, may_seal: bool) -> bool:
    try:
        turn_of(
            RequestState(view.request.state), domain_steps(view.steps), user_id, may_seal=may_seal
        )
    except TurnError:
        return False
    return True


# --- signing


@dataclass(frozen=True, slots=True)
class Turn:
    request: SigningRequestRow
    steps: list[SigningStepRow]
    step: SigningStepRow
    school: OrgUnitRow
    certificate: CertificateRow


def _turn_problem(error: TurnError) -> Exception:
    status = 409 if error.code in {"request-refused", "request-closed", "not-your-turn"} else 403
    if status == 403:
        return Forbidden(error.detail, code=error.code, title=error.message_vi)
    return conflict(error.code, error.message_vi, error.detail)


async def take_turn(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    request_id: uuid.UUID,
    path: str,
    *,
    document_sha256: str | None,
    need_certificate: bool = True,
) -> Turn:
    """Lock the request and check the caller may act on its current step now."""
    request = await uow.repo.request(request_id, for_update=True)
    if request is None:
        raise not_found("Signing request", request_id)
    school = await unit_of(uow, request.school_id)
    held = await authorize(uow, actor, rule("POST", path), school)
    person = actor.person()
    steps = await uow.repo.steps(request.id)
    try:
        current = turn_of(
            RequestState(request.state),
            domain_steps(steps),
            person,
            may_seal=Role.SCHOOL_LEADER in held,
        )
    except TurnError as error:
        raise _turn_problem(error) from None
    step = next(s for s in steps if s.position == current.position)
    if document_sha256 is not None and document_sha256 != request.document_sha256:
        raise conflict(
            "document-changed",
            "Tài liệu đã thay đổi từ khi bạn xem",
            "The document is not the revision the caller saw; read it again",
            current_sha256=request.document_sha256,
        )
    certificate = None
    if need_certificate:
        certificate = await _certificate_for(uow, tools, step, request)
    return Turn(request, steps, step, school, certificate)  # type: ignore[arg-type]


async def _certificate_for(
    uow: SigningUnitOfWork, tools: SignatureTools, step: SigningStepRow, request: SigningRequestRow
) -> CertificateRow:
    seal = step.role == SignerRole.SCHOOL_SEAL
    holder = request.school_id if seal else step.user_id
    assert holder is not None
    row = await uow.repo.active_certificate("school" if seal else "person", holder)
    if row is None:
        raise invalid(
            "no-certificate",
            "Người ký chưa có chứng thư số",
            "The school has no organisation certificate" if seal else f"User {holder} has none",
        )
    try:
        await tools.check_usable(row.chain_pem, utcnow())
    except CertificateRefused as refused:
        raise invalid(refused.code, refused.message_vi, refused.detail) from None
    return row


def _stamp_role(step: SigningStepRow) -> str:
    return ROLE_LABELS_VI[SignerRole(step.role)]


async def sign(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    step_up: StepUpCheck,
    request_id: uuid.UUID,
    *,
    document_sha256: str,
    step_up_token: str,
) -> RequestView:
    """A server-side signature with the key in the token, confirmed with a second factor."""
    async with uow:
        turn = await take_turn(
            uow,
            actor,
            tools,
            request_id,
            "/signing-requests/{request_id}/sign",
            document_sha256=document_sha256,
        )
        if turn.certificate.key_label is None:
            raise conflict(
                "key-not-on-server",
                "Khóa của người ký nằm trên thiết bị ký của họ",
                "Sign with the client-side flow (external-signatures)",
            )
        await step_up(actor, step_up_token)
        await sign_current(uow, actor, tools, turn)
        await uow.commit()
        return RequestView(turn.request, turn.steps)


async def sign_current(
    uow: SigningUnitOfWork, actor: Actor, tools: SignatureTools, turn: Turn
) -> None:
    """Sign the current step with the token's key and record it (the caller commits)."""
    base = await uow.repo.latest_revision(turn.request.id)
    now = utcnow()
    assert turn.certificate.key_label is not None
    signed = await tools.sign(
        base.content,
        pem=turn.certificate.chain_pem,
        key_label=turn.certificate.key_label,
        field=turn.step.field,
        page=turn.step.page,
        box=tuple(turn.step.box) if turn.step.box else None,  # type: ignore[arg-type]
        stamp_name=turn.certificate.common_name,
        stamp_role=_stamp_role(turn.step),
        at=now,
    )
    await _record_signature(uow, actor, tools, turn, signed=signed, now=now)


async def _record_signature(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    turn: Turn,
    *,
    signed: bytes,
    now: datetime,
) -> None:
    request, step = turn.request, turn.step
    person = actor.person()
    seq = await uow.repo.next_revision_seq(request.id)
    digest = sha256(signed)
    uow.repo.add(
        RevisionRow(
            request_id=request.id,
            seq=seq,
            what="signature",
            position=step.position,
            sha256=digest,
            content=signed,
            made_by=person,
            made_at=now,
        )
    )
    step.state = StepState.SIGNED.value
    step.signed_at = now
    step.signed_by = person
    step.certificate_sha256 = turn.certificate.sha256
    step.level = PadesLevel.B_T.value
    request.document_sha256 = digest
    request.revisions = seq
    request.updated_at = now
    uow.emit(
        DocumentSigned(
            signing_request_id=request.id,
            document_id=request.document_id,
            document_kind=DocumentKind(request.kind),
            school_id=request.school_id,
            district_id=request.district_id,
            province_id=request.province_id,
            school_year=request.school_year,
            term=Term(request.term) if request.term else None,
            class_id=request.class_id,
            student_id=request.student_id,
            signer_role=SignerRole(step.role),
            signer_user_id=person,
            signature_index=step.position,
            signatures_required=len(turn.steps),
            level=PadesLevel.B_T,
            certificate_sha256=turn.certificate.sha256,
            document_sha256=digest,
            signed_at=now,
        )
    )
    if all(s.state == StepState.SIGNED for s in turn.steps):
        await _complete(uow, tools, request, signed=signed, signatures=len(turn.steps), now=now)


async def _complete(
    uow: SigningUnitOfWork,
    tools: SignatureTools,
    request: SigningRequestRow,
    *,
    signed: bytes,
    signatures: int,
    now: datetime,
) -> None:
    """The last signature is in: embed revocation data and a document timestamp (B-LTA)."""
    archived = await tools.extend_to_lta(signed)
    seq = await uow.repo.next_revision_seq(request.id)
    digest = sha256(archived)
    uow.repo.add(
        RevisionRow(
            request_id=request.id,
            seq=seq,
            what="lta",
            position=None,
            sha256=digest,
            content=archived,
            made_by=None,
            made_at=now,
        )
    )
    request.state = RequestState.COMPLETED.value
    request.document_sha256 = digest
    request.revisions = seq
    request.completed_at = now
    uow.emit(
        SigningRequestCompleted(
            signing_request_id=request.id,
            document_id=request.document_id,
            document_kind=DocumentKind(request.kind),
            school_id=request.school_id,
            district_id=request.district_id,
            province_id=request.province_id,
            school_year=request.school_year,
            term=Term(request.term) if request.term else None,
            class_id=request.class_id,
            student_id=request.student_id,
            signature_count=signatures,
            document_sha256=digest,
            completed_at=now,
        )
    )


# --- the client-side flow: the key stays on the signer's USB token


@dataclass(frozen=True, slots=True)
class ExternalStart:
    session_id: uuid.UUID
    to_sign: bytes
    digest: bytes
    algorithm: str
    expires_at: datetime


async def start_external(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    settings: SigningSettings,
    request_id: uuid.UUID,
    *,
    document_sha256: str,
) -> ExternalStart:
    async with uow:
        turn = await take_turn(
            uow,
            actor,
            tools,
            request_id,
            "/signing-requests/{request_id}/external-signatures",
            document_sha256=document_sha256,
        )
        base = await uow.repo.latest_revision(turn.request.id)
        now = utcnow()
        prepared = await tools.prepare(
            base.content,
            pem=turn.certificate.chain_pem,
            field=turn.step.field,
            page=turn.step.page,
            box=tuple(turn.step.box) if turn.step.box else None,  # type: ignore[arg-type]
            stamp_name=turn.certificate.common_name,
            stamp_role=_stamp_role(turn.step),
            at=now,
        )
        session = ExternalSessionRow(
            id=uuid.uuid4(),
            request_id=turn.request.id,
            position=turn.step.position,
            round=turn.request.round,
            base_sha256=turn.request.document_sha256,
            user_id=actor.person(),
            certificate_sha256=turn.certificate.sha256,
            state=prepared.state,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.external_session_minutes),
        )
        uow.repo.add(session)
        await uow.commit()
        return ExternalStart(
            session.id, prepared.to_sign, prepared.digest, prepared.algorithm, session.expires_at
        )


async def finish_external(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    request_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    signature: bytes,
) -> RequestView:
    async with uow:
        turn = await take_turn(
            uow,
            actor,
            tools,
            request_id,
            "/signing-requests/{request_id}/external-signatures/{session_id}",
            document_sha256=None,
        )
        session = await uow.repo.external_session(session_id)
        if session is None or session.request_id != turn.request.id:
            raise not_found("Signing session", session_id)
        now = utcnow()
        stale = (
            session.user_id != actor.person()
            or session.position != turn.step.position
            or session.round != turn.request.round
            or session.base_sha256 != turn.request.document_sha256
            or session.certificate_sha256 != turn.certificate.sha256
        )
        if stale or session.expires_at <= now:
            raise conflict(
                "session-stale",
                "Phiên ký đã hết hạn hoặc không còn phù hợp",
                "Start a new client-side signature: the session expired or the request moved on",
            )
        try:
            signed = await tools.finish(session.state, signature)
        except WrongSignatureError as error:
            raise invalid(
                "signature-mismatch",
                "Chữ ký không khớp với chứng thư số của người ký",
                str(error) or "The signature does not verify with the signer's certificate",
            ) from None
        await uow.repo.delete(session)
        await _record_signature(uow, actor, tools, turn, signed=signed, now=now)
        await uow.commit()
        return RequestView(turn.request, turn.steps)


# --- refusal and restart


async def refuse(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    request_id: uuid.UUID,
    *,
    reason: str,
) -> RequestView:
    async with uow:
        turn = await take_turn(
            uow,
            actor,
            tools,
            request_id,
            "/signing-requests/{request_id}/refuse",
            document_sha256=None,
            need_certificate=False,
        )
        now = utcnow()
        person = actor.person()
        turn.step.state = StepState.REFUSED.value
        turn.step.refused_reason = reason
        turn.step.refused_at = now
        turn.step.signed_by = person
        turn.request.state = RequestState.REFUSED.value
        turn.request.updated_at = now
        request = turn.request
        uow.emit(
            SigningRequestRefused(
                signing_request_id=request.id,
                document_id=request.document_id,
                document_kind=DocumentKind(request.kind),
                school_id=request.school_id,
                district_id=request.district_id,
                province_id=request.province_id,
                class_id=request.class_id,
                student_id=request.student_id,
                signer_role=SignerRole(turn.step.role),
                refused_by=person,
                position=turn.step.position,
                refused_at=now,
            )
        )
        await uow.commit()
        return RequestView(turn.request, turn.steps)


async def restart(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    settings: SigningSettings,
    request_id: uuid.UUID,
    *,
    document: bytes | None,
) -> RequestView:
    """The owner fixed what the refusal was about: the chain starts again.

    With a new document every signature is collected again (the old ones signed other bytes);
    without one, the refused place waits again and the signatures before it stand.
    """
    async with uow:
        request = await uow.repo.request(request_id, for_update=True)
        if request is None:
            raise not_found("Signing request", request_id)
        school = await unit_of(uow, request.school_id)
        await authorize(uow, actor, rule("POST", "/signing-requests/{request_id}/restart"), school)
        if request.state != RequestState.REFUSED:
            raise conflict(
                "not-refused",
                "Chỉ khởi động lại yêu cầu ký đã bị từ chối",
                f"The request is {request.state}",
            )
        steps = await uow.repo.steps(request.id)
        now = utcnow()
        person = actor.person()
        if document is not None:
            _check_document(tools, settings, document)
            seq = await uow.repo.next_revision_seq(request.id)
            digest = sha256(document)
            uow.repo.add(
                RevisionRow(
                    request_id=request.id,
                    seq=seq,
                    what="restart",
                    position=None,
                    sha256=digest,
                    content=document,
                    made_by=person,
                    made_at=now,
                )
            )
            request.document_sha256 = digest
            request.revisions = seq
        for step in steps:
            if document is not None or step.state == StepState.REFUSED:
                step.state = StepState.WAITING.value
                step.signed_at = None
                step.signed_by = None
                step.certificate_sha256 = None
                step.level = None
        request.state = RequestState.OPEN.value
        request.round += 1
        request.updated_at = now
        await uow.commit()
        return RequestView(request, steps)
