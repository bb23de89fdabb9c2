"""The audit chain (R5): every write of a school appended to its own hash chain.

Each record hashes its content together with the previous record's hash, so changing, removing
or reordering any record breaks every hash after it; the head (last hash) pins the whole history.
The head is published with every lock event and so pinned again in the archive.

``record_hash`` is the one definition of a record's hash (the verifier uses it too): SHA-256 of
the canonical JSON (sorted keys, no spaces, UTF-8) of the record's fields and the previous hash.
Records are appended in the transaction of the write they describe, under a row lock on the
school's head, so a school's chain is one sequence with no gaps and no forks.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from records.models import AuditHeadRow, AuditRecordRow

GENESIS: Final = "0" * 64


def canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(
    *,
    school_id: uuid.UUID,
    seq: int,
    at: datetime,
    actor_id: uuid.UUID | None,
    client_id: str | None,
    action: str,
    target: str,
    content: Mapping[str, Any],
    prev_hash: str,
) -> str:
    body = {
        "school_id": str(school_id),
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(),
        "actor_id": str(actor_id) if actor_id else None,
        "client_id": client_id,
        "action": action,
        "target": target,
        "content": content,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def jsonable(value: Any) -> Any:
    """Content as JSON keeps it: ids and dates as strings (JSONB must give back what we hashed)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


class AuditLog:
    """Appends to the schools' chains inside the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(
        self,
        school_id: uuid.UUID,
        action: str,
        target: str,
        content: Mapping[str, Any],
        *,
        actor_id: uuid.UUID | None,
        client_id: str | None = None,
        at: datetime | None = None,
    ) -> AuditRecordRow:
        at = (at or datetime.now(UTC)).astimezone(UTC)
        await self.session.execute(
            pg_insert(AuditHeadRow)
            .values(school_id=school_id, seq=0, hash=GENESIS)
            .on_conflict_do_nothing(index_elements=[AuditHeadRow.school_id])
        )
        head = await self.session.scalar(
            select(AuditHeadRow)
            .where(AuditHeadRow.school_id == school_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert head is not None
        data = jsonable(content)
        seq = head.seq + 1
        digest = record_hash(
            school_id=school_id,
            seq=seq,
            at=at,
            actor_id=actor_id,
            client_id=client_id,
            action=action,
            target=target,
            content=data,
            prev_hash=head.hash,
        )
        record = AuditRecordRow(
            school_id=school_id,
            seq=seq,
            at=at,
            actor_id=actor_id,
            client_id=client_id,
            action=action,
            target=target,
            content=data,
            prev_hash=head.hash,
            hash=digest,
        )
        self.session.add(record)
        head.seq, head.hash = seq, digest
        await self.session.flush()
        return record

    async def head(self, school_id: uuid.UUID) -> tuple[int, str]:
        row = await self.session.get(AuditHeadRow, school_id)
        return (0, GENESIS) if row is None else (row.seq, row.hash)
