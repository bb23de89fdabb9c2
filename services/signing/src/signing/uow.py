"""The signing service's unit of work: its repository and the outbox, one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork
from signing.repository import SigningRepository


class SigningUnitOfWork(UnitOfWork):
    repo: SigningRepository

    def _open(self, session: AsyncSession) -> None:
        self.repo = SigningRepository(session)
