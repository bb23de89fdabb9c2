"""``Idempotency-Key`` for writes that school software retries over poor connections.

The key is claimed inside the write's own transaction, with ``INSERT … ON CONFLICT DO
NOTHING``: a retry that arrives while the first attempt is still running waits on the key's
row until that transaction ends, then finds the stored answer; a first attempt that failed
rolled its claim back with everything else, so the retry runs afresh. The same key with a
different request is refused, never silently answered with another request's result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from attendance.models import IdempotencyKeyRow
from attendance.uow import AttendanceUnitOfWork
from common.errors import Problem

MAX_KEY_LENGTH = 200
# Headers worth replaying; the rest (dates, request ids) belong to the retry itself.
REPLAYED_HEADERS = ("etag", "location", "content-type")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def request_fingerprint(method: str, path: str, body: bytes, if_match: str | None) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), (if_match or "").encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise Problem(
            400,
            "idempotency-key-invalid",
            "Khóa chống gửi lặp không hợp lệ",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        )


async def claim(
    uow: AttendanceUnitOfWork, owner: str, key: str, fingerprint: str
) -> StoredResponse | None:
    """None when this request now owns the key; the first answer when it was used before."""
    check_key(key)
    claimed = await uow.session.execute(
        pg_insert(IdempotencyKeyRow)
        .values(owner=owner, key=key, request_hash=fingerprint, status=0, headers={}, body=b"")
        .on_conflict_do_nothing()
        .returning(IdempotencyKeyRow.key)
    )
    if claimed.first() is not None:
        return None
    row = (
        await uow.session.execute(
            select(IdempotencyKeyRow).where(
                IdempotencyKeyRow.owner == owner, IdempotencyKeyRow.key == key
            )
        )
    ).scalar_one()
    if row.request_hash != fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Khóa chống gửi lặp đã dùng cho một yêu cầu khác",
            "This Idempotency-Key was used with a different request; use a new key",
        )
    return StoredResponse(row.status, dict(row.headers), bytes(row.body))


async def store(uow: AttendanceUnitOfWork, owner: str, key: str, response: StoredResponse) -> None:
    headers = {k: v for k, v in response.headers.items() if k.lower() in REPLAYED_HEADERS}
    await uow.session.execute(
        update(IdempotencyKeyRow)
        .where(IdempotencyKeyRow.owner == owner, IdempotencyKeyRow.key == key)
        .values(status=response.status, headers=headers, body=response.body)
    )
