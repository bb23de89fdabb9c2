"""The copy of identity's org tree that signing authorizes against."""

from __future__ import annotations

from common.events.identity import OrgLevel, OrgUnitCreated
from signing.models import OrgUnitRow
from signing.uow import SigningUnitOfWork


async def record_org_unit(event: OrgUnitCreated, uow: SigningUnitOfWork) -> None:
    """``identity.orgunit.created``: keep the copy of the tree (idempotent)."""
    async with uow:
        await uow.repo.upsert_org_unit(
            OrgUnitRow(
                id=event.unit_id,
                kind=event.kind.value,
                code=event.code,
                parent_id=event.parent_id,
                province_id=event.province_id or event.unit_id,
                district_id=event.unit_id if event.kind is OrgLevel.DISTRICT else event.district_id,
            )
        )
        await uow.commit()
