"""The records service's unit of work: its repository and the outbox, one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork
from records.audit import AuditLog
from records.repository import RecordsRepository


class RecordsUnitOfWork(UnitOfWork):
    records: RecordsRepository
    audit: AuditLog

    def _open(self, session: AsyncSession) -> None:
        self.records = RecordsRepository(session)
        self.audit = AuditLog(session)
