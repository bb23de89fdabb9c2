"""The records service's unit of work: its repository and the outbox, one transaction."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork
from records.audit import AuditLog
from records.repository import RecordsRepository


class RecordsUnitOfWork(UnitOfWork):
    records: RecordsRepository
    audit: AuditLog
    _rosters: dict[uuid.UUID, None]

    def _open(self, session: AsyncSession) -> None:
        self.records = RecordsRepository(session)
        self.audit = AuditLog(session)
        self._rosters: dict[uuid.UUID, None] = {}

    def roster_changed(self, *class_ids: uuid.UUID | None) -> None:
        """Note classes whose list (or homeroom teacher) changed in this transaction.

        ``ClassRosterChanged`` is whole-state, so it is emitted at the outermost commit, once
        per class, from the rows as they stand then: a transaction that touches a class twice
        (a demo load, a consumer batch) publishes its final list, not each step.
        """
        for class_id in class_ids:
            if class_id is not None:
                self._rosters.setdefault(class_id)

    async def commit(self) -> None:
        if self._depth == 1 and self._rosters:
            from records.handlers.roster import emit_roster  # noqa: PLC0415 - handlers use the uow

            pending, self._rosters = list(self._rosters), {}
            await self.records.flush()
            for class_id in pending:
                await emit_roster(self, class_id)
        await super().commit()

    async def rollback(self) -> None:
        self._rosters = {}
        await super().rollback()
