"""The attendance service's unit of work: its repository and the outbox, one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from attendance.repository import AttendanceRepository
from common.uow import UnitOfWork


class AttendanceUnitOfWork(UnitOfWork):
    repo: AttendanceRepository

    def _open(self, session: AsyncSession) -> None:
        self.repo = AttendanceRepository(session)
