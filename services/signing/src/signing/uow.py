"""The signing service's unit of work: its repositories and the outbox, one transaction."""

from __future__ import annotations

from common.uow import UnitOfWork


class SigningUnitOfWork(UnitOfWork):
    pass
