"""The unit of work: one database transaction holding a service's changes and its events.

``uow.emit(event)`` queues an integration event; ``commit()`` writes the queued events to the
outbox in the same transaction as the business rows, so an event exists if and only if its
change does. The relay publishes them after commit.

Units of work nest: a consumer runtime opens one, claims the inbox row, and calls the same
handler an HTTP route calls; the handler's own ``async with uow`` / ``commit()`` then join the
outer transaction, which commits once with the inbox row, the effect and any new events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from opentelemetry import propagate
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.events.base import CloudEvent, IntegrationEvent
from common.messaging.tables import inbox, outbox


class UnitOfWorkError(RuntimeError):
    pass


class UnitOfWork:
    """Base of every service's unit of work; a service adds its repositories in ``_open``."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, source: str) -> None:
        self._sessionmaker = sessionmaker
        self._source = source
        self._depth = 0
        self._session: AsyncSession | None = None
        self._pending: list[dict[str, object]] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise UnitOfWorkError("the unit of work is not open: use 'async with uow'")
        return self._session

    async def __aenter__(self) -> Self:
        self._depth += 1
        if self._depth == 1:
            self._session = self._sessionmaker()
            self._pending = []
            self._open(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        session, self._session = self._session, None
        self._pending = []
        if session is not None:
            # Whatever was not committed is rolled back; close() does that and returns the
            # connection to the pool.
            await session.close()

    def _open(self, session: AsyncSession) -> None:
        """Hook for subclasses: build repositories on the new session."""

    def emit(self, event: IntegrationEvent) -> None:
        """Queue ``event`` for the outbox; it is written at commit, in this transaction.

        The trace context is taken now, inside the span of the business operation, so the
        consumers' spans continue the trace of the request that caused the event.
        """
        if self._session is None:
            raise UnitOfWorkError("emit() outside an open unit of work")
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        envelope = CloudEvent.wrap(
            event,
            source=self._source,
            time=datetime.now(UTC),
            traceparent=carrier.get("traceparent"),
            tracestate=carrier.get("tracestate"),
        )
        self._pending.append(
            {
                "event_id": uuid.UUID(envelope.id),
                "event_type": envelope.type,
                "subject": envelope.subject,
                "body": envelope.to_json(),
            }
        )

    async def claim_inbox(self, consumer: str, event_id: str, event_type: str) -> bool:
        """Record that ``consumer`` handles ``event_id`` in this transaction.

        False when it was handled before: the caller skips the effect. A concurrent claim of
        the same event waits on the primary key until the first transaction ends.
        """
        result = await self.session.execute(
            pg_insert(inbox)
            .values(consumer=consumer, event_id=event_id, event_type=event_type)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        return result.first() is not None

    async def claim_inbox_many(self, consumer: str, events: Sequence[tuple[str, str]]) -> set[str]:
        """``claim_inbox`` for many ``(event_id, event_type)`` in one statement.

        Returns the ids claimed now; the others were handled before. Rows go in id order, so
        two replicas claiming overlapping redeliveries wait on each other without deadlock.
        """
        rows = [
            {"consumer": consumer, "event_id": event_id, "event_type": event_type}
            for event_id, event_type in sorted(set(events))
        ]
        if not rows:
            return set()
        result = await self.session.execute(
            pg_insert(inbox).values(rows).on_conflict_do_nothing().returning(inbox.c.event_id)
        )
        return {str(row[0]) for row in result}

    async def flush_events(self) -> None:
        if self._pending:
            await self.session.execute(insert(outbox), self._pending)
            self._pending = []

    async def commit(self) -> None:
        """Commit the transaction with its events; inside a nested use, the outer one commits."""
        if self._depth > 1:
            return
        await self.flush_events()
        await self.session.commit()

    async def rollback(self) -> None:
        self._pending = []
        await self.session.rollback()
