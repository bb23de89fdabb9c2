"""The identity service's unit of work: its repositories and the outbox, one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork
from identity.repository import AdminRepository, AuthRepository


class IdentityUnitOfWork(UnitOfWork):
    admin: AdminRepository
    auth: AuthRepository

    def _open(self, session: AsyncSession) -> None:
        self.admin = AdminRepository(session)
        self.auth = AuthRepository(session)
