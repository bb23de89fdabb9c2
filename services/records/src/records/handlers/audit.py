"""Reading and verifying a school's audit chain (R5).

Verification recomputes every record's hash with ``records.audit.record_hash`` (the one
definition the writer uses too), in sequence order, a batch at a time, and reports the first
record where the chain breaks:

- ``gap``: a sequence number is missing (a record was deleted): expected the next number;
- ``prev-hash-mismatch``: a record does not name the previous record's hash (records removed,
  reordered, or one rewritten with its hash recomputed);
- ``hash-mismatch``: a record's stored hash is not the hash of its fields (its content, time,
  actor or target changed in place);
- ``head-mismatch``: the school's head (what lock events publish and archives pin) is not the
  last record, e.g. records cut off the end, or the head rewritten.

One read transaction at ``REPEATABLE READ``: the head and the records are read from the same
snapshot, so appends made meanwhile neither break nor join the verification.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from records.access import Actor, rule
from records.audit import GENESIS, record_hash
from records.handlers.base import school_unit
from records.models import AuditHeadRow, AuditRecordRow
from records.uow import RecordsUnitOfWork

BATCH: Final = 2000


class Problem(StrEnum):
    HASH_MISMATCH = "hash-mismatch"
    PREV_HASH_MISMATCH = "prev-hash-mismatch"
    GAP = "gap"
    HEAD_MISMATCH = "head-mismatch"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    problem: Problem
    expected: str
    found: str


@dataclass(frozen=True, slots=True)
class Verification:
    school_id: uuid.UUID
    records: int  # records read
    head_seq: int  # the stored head
    head_hash: str
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def recompute(record: AuditRecordRow) -> str:
    return record_hash(
        school_id=record.school_id,
        seq=record.seq,
        at=record.at,
        actor_id=record.actor_id,
        client_id=record.client_id,
        action=record.action,
        target=record.target,
        content=record.content,
        prev_hash=record.prev_hash,
    )


def check_record(record: AuditRecordRow, seq: int, prev_hash: str) -> ChainBreak | None:
    """The first problem of ``record`` read after (``seq``, ``prev_hash``)."""
    if record.seq != seq + 1:
        return ChainBreak(seq + 1, Problem.GAP, str(seq + 1), str(record.seq))
    if record.prev_hash != prev_hash:
        return ChainBreak(record.seq, Problem.PREV_HASH_MISMATCH, prev_hash, record.prev_hash)
    digest = recompute(record)
    if digest != record.hash:
        return ChainBreak(record.seq, Problem.HASH_MISMATCH, digest, record.hash)
    return None


async def _records(
    session: AsyncSession, school_id: uuid.UUID, batch: int
) -> AsyncIterator[AuditRecordRow]:
    after = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditRecordRow)
                .where(AuditRecordRow.school_id == school_id, AuditRecordRow.seq > after)
                .order_by(AuditRecordRow.seq)
                .limit(batch)
            )
        ).all()
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1].seq
        session.expunge_all()  # a long chain is streamed, not kept


async def verify_chain(
    session: AsyncSession, school_id: uuid.UUID, *, batch: int = BATCH
) -> Verification:
    """Verify one school's chain in the session's transaction (see the module docstring)."""
    head = await session.get(AuditHeadRow, school_id)
    head_seq, head_hash = (0, GENESIS) if head is None else (head.seq, head.hash)
    seq, prev, count = 0, GENESIS, 0
    async for record in _records(session, school_id, batch):
        count += 1
        found = check_record(record, seq, prev)
        if found is not None:
            return Verification(school_id, count, head_seq, head_hash, found)
        seq, prev = record.seq, record.hash
    if (head_seq, head_hash) != (seq, prev):
        return Verification(
            school_id,
            count,
            head_seq,
            head_hash,
            ChainBreak(
                max(seq, head_seq),
                Problem.HEAD_MISMATCH,
                f"{seq}:{prev}",
                f"{head_seq}:{head_hash}",
            ),
        )
    return Verification(school_id, count, head_seq, head_hash, None)


async def snapshot_read(session: AsyncSession) -> None:
    """Make the session's (new) transaction one snapshot: call before its first query."""
    await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


async def verify_school(uow: RecordsUnitOfWork, actor: Actor, school_id: uuid.UUID) -> Verification:
    async with uow:
        await snapshot_read(uow.records.session)
        school = await school_unit(uow, school_id)
        actor.check(rule("GET", "/schools/{school_id}/audit/verify"), school)
        return await verify_chain(uow.records.session, school.id)


async def audit_page(
    uow: RecordsUnitOfWork, actor: Actor, school_id: uuid.UUID, *, after_seq: int, limit: int
) -> tuple[Sequence[AuditRecordRow], int, str]:
    """Records after ``after_seq`` in order, and the head (seq, hash)."""
    async with uow:
        await snapshot_read(uow.records.session)
        school = await school_unit(uow, school_id)
        actor.check(rule("GET", "/schools/{school_id}/audit"), school)
        rows = (
            await uow.records.session.scalars(
                select(AuditRecordRow)
                .where(AuditRecordRow.school_id == school.id, AuditRecordRow.seq > after_seq)
                .order_by(AuditRecordRow.seq)
                .limit(limit)
            )
        ).all()
        seq, digest = await uow.audit.head(school.id)
        return rows, seq, digest
