"""Batch signing: a teacher or leader signs everything waiting for them in a class or a school
in one confirmed action (term end: thousands of documents a school).

The second factor is checked once, when the batch is queued, and the list of requests is fixed
then; the worker signs them one transaction each, so a failure (a request refused meanwhile, a
certificate revoked) costs that request only and is reported in the batch.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from common.auth import Grant, Principal
from common.errors import Problem
from common.events.identity import OrgLevel, Role
from common.events.signing import SignerRole
from signing.access import Actor, Forbidden, rule
from signing.domain.chain import RequestState, current_step
from signing.engine import SignatureTools, StepUpCheck
from signing.handlers import requests
from signing.handlers.base import authorize, not_found, unit_of, utcnow
from signing.models import BatchRow
from signing.uow import SigningUnitOfWork

logger = logging.getLogger(__name__)


async def queue_batch(
    uow: SigningUnitOfWork,
    actor: Actor,
    step_up: StepUpCheck,
    *,
    school_id: uuid.UUID,
    class_id: uuid.UUID | None,
    include_seal: bool,
    step_up_token: str,
) -> BatchRow:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        held = await authorize(uow, actor, rule("POST", "/signing-batches"), school)
        person = actor.person()
        await step_up(actor, step_up_token)
        may_seal = include_seal and Role.SCHOOL_LEADER in held
        rows = await uow.repo.requests(
            school.id, class_id=class_id, state=RequestState.OPEN.value, limit=100_000
        )
        steps = await uow.repo.steps_of([r.id for r in rows])
        waiting = [
            r.id
            for r in rows
            if requests.my_turn(requests.RequestView(r, steps[r.id]), person, may_seal=may_seal)
        ]
        batch = BatchRow(
            id=uuid.uuid4(),
            user_id=person,
            school_id=school.id,
            class_id=class_id,
            include_seal=may_seal,
            state="queued" if waiting else "done",
            request_ids=waiting,
            signed=0,
            failed=0,
            failures=[],
            created_at=utcnow(),
            finished_at=None if waiting else utcnow(),
        )
        uow.repo.add(batch)
        await uow.commit()
        return batch


async def get_batch(uow: SigningUnitOfWork, actor: Actor, batch_id: uuid.UUID) -> BatchRow:
    endpoint = rule("GET", "/signing-batches/{batch_id}")
    held = {g.role for g in actor.principal.grants} & {r.value for r in endpoint.roles}
    if not held:
        raise Forbidden(f"No role among {sorted(endpoint.roles)}")
    async with uow:
        batch = await uow.repo.batch(batch_id)
        if batch is None or batch.user_id != actor.user_id:
            # Someone else's batch is as good as absent: its list names their documents.
            raise not_found("Batch", batch_id)
        return batch


def _actor_for(batch: BatchRow) -> Actor:
    """The batch's signer as the handlers see a caller: their roles at the school, nothing more.

    The grants were checked when the batch was queued; the worker acts on that confirmation.
    """
    roles = [Role.TEACHER.value] + ([Role.SCHOOL_LEADER.value] if batch.include_seal else [])
    principal = Principal(
        subject=str(batch.user_id),
        kind="user",
        grants=tuple(Grant(r, str(batch.school_id)) for r in roles),
        token_id=f"batch:{batch.id}",
        expires_at=utcnow(),
    )
    return Actor.of(principal)


async def run_next_batch(
    uow_factory: Callable[[], SigningUnitOfWork], tools: SignatureTools
) -> uuid.UUID | None:
    """Sign one queued batch to the end; its id, or None when none was waiting."""
    claim = uow_factory()
    async with claim:
        batch = await claim.repo.next_queued_batch()
        if batch is None:
            return None
        batch.state = "running"
        batch_id, request_ids = batch.id, list(batch.request_ids)
        actor = _actor_for(batch)
        await claim.commit()
    signed = failed = 0
    failures: list[dict[str, str]] = []
    try:
        for request_id in request_ids:
            # The leader's own place and then the seal may both be theirs: sign while it is.
            again = True
            while again:
                try:
                    again = await _sign_one(uow_factory(), actor, tools, request_id)
                except Problem as problem:
                    if problem.code not in {"not-your-turn", "not-a-signer", "request-closed"}:
                        failed += 1
                        failures.append({"request_id": str(request_id), "code": problem.code})
                    break
                except Exception as error:
                    logger.exception("batch %s: signing %s failed", batch_id, request_id)
                    failed += 1
                    failures.append({"request_id": str(request_id), "code": type(error).__name__})
                    break
                signed += 1
    finally:
        # Whatever happened, the batch says what it did; a crash of the process itself is
        # the one case that leaves it running (docs/signing.md, known limits).
        await _finish(uow_factory, batch_id, signed, failed, failures)
    return batch_id


async def _finish(
    uow_factory: Callable[[], SigningUnitOfWork],
    batch_id: uuid.UUID,
    signed: int,
    failed: int,
    failures: list[dict[str, str]],
) -> None:
    done = uow_factory()
    async with done:
        batch = await done.repo.batch(batch_id, for_update=True)
        assert batch is not None
        batch.state = "done"
        batch.signed = signed
        batch.failed = failed
        batch.failures = failures
        batch.finished_at = utcnow()
        await done.commit()


async def _sign_one(
    uow: SigningUnitOfWork, actor: Actor, tools: SignatureTools, request_id: uuid.UUID
) -> bool:
    """Sign the request's current place; whether the next place is the same person's too."""
    async with uow:
        turn = await requests.take_turn(
            uow,
            actor,
            tools,
            request_id,
            "/signing-requests/{request_id}/sign",
            document_sha256=None,
        )
        if turn.certificate.key_label is None:
            raise Problem(409, "key-not-on-server", "Khóa nằm trên thiết bị ký", "Sign it yourself")
        await requests.sign_current(uow, actor, tools, turn)
        await uow.commit()
    following = current_step(requests.domain_steps(turn.steps))
    if following is None:
        return False
    return following.user_id == actor.user_id or (
        following.role is SignerRole.SCHOOL_SEAL
        and Role.SCHOOL_LEADER.value in {g.role for g in actor.principal.grants}
    )


async def run_batches(
    uow_factory: Callable[[], SigningUnitOfWork],
    tools: SignatureTools,
    every_seconds: float,
    stop: asyncio.Event,
) -> None:
    """The worker's loop: batches are shared between replicas with SKIP LOCKED."""
    while not stop.is_set():
        try:
            while await run_next_batch(uow_factory, tools) is not None:
                if stop.is_set():
                    return
        except Exception:  # a bad batch must not stop the loop; it is logged and retried
            logger.exception("batch signing failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
        except TimeoutError:
            continue
