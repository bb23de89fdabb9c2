"""The copy of identity's org tree: scope checks, and the names printed on the documents."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from archive.models import OrgUnitRow
from archive.uow import ArchiveUnitOfWork
from common.events.identity import OrgLevel, OrgUnitCreated


async def record_org_unit(event: OrgUnitCreated, uow: ArchiveUnitOfWork) -> None:
    """``identity.orgunit.created``: keep the copy of the tree (idempotent)."""
    values = {
        "id": event.unit_id,
        "kind": event.kind.value,
        "code": event.code,
        "name": getattr(event, "name", None),
        "parent_id": event.parent_id,
        "province_id": event.province_id or event.unit_id,
        "district_id": event.unit_id if event.kind is OrgLevel.DISTRICT else event.district_id,
    }
    statement = insert(OrgUnitRow).values(values)
    async with uow:
        await uow.session.execute(
            statement.on_conflict_do_update(
                index_elements=[OrgUnitRow.id],
                set_={k: statement.excluded[k] for k in values if k != "id"},
            )
        )
        await uow.commit()
