"""Signing's queries, one place: handlers ask for rows, never write SQL themselves."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from signing.models import (
    BatchRow,
    CertificateRow,
    ChainRuleRow,
    ExternalSessionRow,
    OrgUnitRow,
    RevisionRow,
    SigningRequestRow,
    SigningStepRow,
)


class SigningRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    # --- the org tree copy

    async def org_unit(self, unit_id: uuid.UUID) -> OrgUnitRow | None:
        return await self.session.get(OrgUnitRow, unit_id)

    async def org_units(self, unit_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, OrgUnitRow]:
        rows = await self.session.scalars(
            select(OrgUnitRow).where(OrgUnitRow.id.in_(list(unit_ids)))
        )
        return {row.id: row for row in rows}

    async def upsert_org_unit(self, row: OrgUnitRow) -> None:
        values = {c.key: getattr(row, c.key) for c in OrgUnitRow.__table__.columns}
        statement = insert(OrgUnitRow).values(values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[OrgUnitRow.id],
                set_={k: statement.excluded[k] for k in values if k != "id"},
            )
        )

    # --- chains

    async def chain_rules(self, province_id: uuid.UUID) -> Sequence[ChainRuleRow]:
        found = await self.session.scalars(
            select(ChainRuleRow).where(ChainRuleRow.province_id == province_id)
        )
        return found.all()

    async def chain_rule(self, province_id: uuid.UUID, kind: str) -> ChainRuleRow | None:
        return await self.session.get(ChainRuleRow, (province_id, kind))

    # --- certificates

    async def active_certificate(
        self, holder_kind: str, holder_id: uuid.UUID
    ) -> CertificateRow | None:
        return await self.session.scalar(
            select(CertificateRow).where(
                CertificateRow.holder_kind == holder_kind,
                CertificateRow.holder_id == holder_id,
                CertificateRow.active.is_(True),
            )
        )

    async def certificate_by_sha256(self, sha256: str) -> CertificateRow | None:
        return await self.session.scalar(
            select(CertificateRow).where(CertificateRow.sha256 == sha256)
        )

    async def school_certificates(self, school_id: uuid.UUID) -> Sequence[CertificateRow]:
        found = await self.session.scalars(
            select(CertificateRow)
            .where(CertificateRow.school_id == school_id, CertificateRow.active.is_(True))
            .order_by(CertificateRow.holder_kind, CertificateRow.common_name)
        )
        return found.all()

    # --- requests

    async def request(
        self, request_id: uuid.UUID, *, for_update: bool = False
    ) -> SigningRequestRow | None:
        query = select(SigningRequestRow).where(SigningRequestRow.id == request_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def open_request_for_document(self, document_id: uuid.UUID) -> SigningRequestRow | None:
        return await self.session.scalar(
            select(SigningRequestRow).where(
                SigningRequestRow.document_id == document_id,
                SigningRequestRow.state.in_(("open", "refused")),
            )
        )

    async def steps(self, request_id: uuid.UUID) -> list[SigningStepRow]:
        found = await self.session.scalars(
            select(SigningStepRow)
            .where(SigningStepRow.request_id == request_id)
            .order_by(SigningStepRow.position)
        )
        return list(found.all())

    async def steps_of(
        self, request_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[SigningStepRow]]:
        found = await self.session.scalars(
            select(SigningStepRow)
            .where(SigningStepRow.request_id.in_(request_ids))
            .order_by(SigningStepRow.request_id, SigningStepRow.position)
        )
        steps: dict[uuid.UUID, list[SigningStepRow]] = {i: [] for i in request_ids}
        for step in found:
            steps[step.request_id].append(step)
        return steps

    async def requests(
        self,
        school_id: uuid.UUID,
        *,
        class_id: uuid.UUID | None = None,
        state: str | None = None,
        signer: uuid.UUID | None = None,
        limit: int = 100,
        after: uuid.UUID | None = None,
    ) -> Sequence[SigningRequestRow]:
        query = select(SigningRequestRow).where(SigningRequestRow.school_id == school_id)
        if class_id is not None:
            query = query.where(SigningRequestRow.class_id == class_id)
        if state is not None:
            query = query.where(SigningRequestRow.state == state)
        if signer is not None:
            query = query.where(
                SigningRequestRow.id.in_(
                    select(SigningStepRow.request_id).where(SigningStepRow.user_id == signer)
                )
            )
        if after is not None:
            query = query.where(SigningRequestRow.id > after)
        found = await self.session.scalars(query.order_by(SigningRequestRow.id).limit(limit))
        return found.all()

    async def latest_revision(self, request_id: uuid.UUID) -> RevisionRow:
        row = await self.session.scalar(
            select(RevisionRow)
            .where(RevisionRow.request_id == request_id)
            .order_by(RevisionRow.seq.desc())
            .limit(1)
        )
        assert row is not None, "a request always has its original"
        return row

    async def next_revision_seq(self, request_id: uuid.UUID) -> int:
        top = await self.session.scalar(
            select(func.max(RevisionRow.seq)).where(RevisionRow.request_id == request_id)
        )
        return (top or 0) + 1

    async def external_session(self, session_id: uuid.UUID) -> ExternalSessionRow | None:
        return await self.session.get(ExternalSessionRow, session_id)

    async def delete(self, row: object) -> None:
        await self.session.delete(row)

    # --- batches

    async def batch(self, batch_id: uuid.UUID, *, for_update: bool = False) -> BatchRow | None:
        query = select(BatchRow).where(BatchRow.id == batch_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def next_queued_batch(self) -> BatchRow | None:
        """A queued batch no other worker holds (SKIP LOCKED: replicas share the queue)."""
        return await self.session.scalar(
            select(BatchRow)
            .where(BatchRow.state == "queued")
            .order_by(BatchRow.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
