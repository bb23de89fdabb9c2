"""The province's signer chains and the certificates of a school's signers and seal."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from common.errors import problem_responses
from common.events.archive import DocumentKind
from common.events.signing import SignerRole
from signing.api.deps import ActorDep, ToolsDep, UowDep
from signing.domain.chain import ROLE_LABELS_VI, ChainRule
from signing.handlers import settings as handlers
from signing.models import CertificateRow

router = APIRouter(tags=["signers and chains"])

WRITE_PROBLEMS = problem_responses(400, 401, 403, 404, 422)


class ChainRead(BaseModel):
    kind: DocumentKind
    roles: list[SignerRole] = Field(description="In signing order; the seal is last.")
    labels: list[str] = Field(description="The roles in Vietnamese.")

    @classmethod
    def of(cls, kind: DocumentKind, chain: ChainRule) -> ChainRead:
        return cls(
            kind=kind, roles=list(chain.roles), labels=[ROLE_LABELS_VI[r] for r in chain.roles]
        )


class ChainWrite(BaseModel):
    roles: list[SignerRole] = Field(min_length=1, max_length=4)


@router.get(
    "/provinces/{province_id}/signer-chains",
    response_model=list[ChainRead],
    summary="The signer chain of each kind of document in the province",
    responses=problem_responses(401, 403, 404),
)
async def signer_chains(province_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> list[ChainRead]:
    chains = await handlers.signer_chains(uow, actor, province_id)
    return [ChainRead.of(kind, chain) for kind, chain in chains.items()]


@router.put(
    "/provinces/{province_id}/signer-chains/{kind}",
    response_model=ChainRead,
    summary="Set which roles sign a kind of document (put in the standard order)",
    responses=WRITE_PROBLEMS,
)
async def set_signer_chain(
    province_id: uuid.UUID, kind: DocumentKind, body: ChainWrite, uow: UowDep, actor: ActorDep
) -> ChainRead:
    chain = await handlers.set_signer_chain(uow, actor, province_id, kind, body.roles)
    return ChainRead.of(kind, chain)


class CertificateWrite(BaseModel):
    chain_pem: str = Field(
        min_length=1, max_length=64_000, description="The certificate, then its intermediates."
    )
    key_label: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")] | None = (
        Field(
            default=None,
            description=(
                "Label of the key in the server's PKCS#11 token; null: the signer's USB token."
            ),
        )
    )


class CertificateRead(BaseModel):
    id: uuid.UUID
    holder_kind: str
    holder_id: uuid.UUID
    common_name: str
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime
    server_key: bool = Field(description="Whether the key is in the server's token.")
    imported_at: datetime

    @classmethod
    def of(cls, row: CertificateRow) -> CertificateRead:
        return cls(
            id=row.id,
            holder_kind=row.holder_kind,
            holder_id=row.holder_id,
            common_name=row.common_name,
            serial=row.serial,
            sha256=row.sha256,
            not_before=row.not_before,
            not_after=row.not_after,
            server_key=row.key_label is not None,
            imported_at=row.imported_at,
        )


@router.get(
    "/schools/{school_id}/certificates",
    response_model=list[CertificateRead],
    responses=problem_responses(401, 403, 404),
)
async def school_certificates(
    school_id: uuid.UUID, uow: UowDep, actor: ActorDep
) -> list[CertificateRead]:
    rows = await handlers.school_certificates(uow, actor, school_id)
    return [CertificateRead.of(r) for r in rows]


@router.put(
    "/schools/{school_id}/certificates/people/{user_id}",
    response_model=CertificateRead,
    summary="Import a signer's certificate chain (checked against the trust anchors)",
    responses=WRITE_PROBLEMS,
)
async def import_person_certificate(
    school_id: uuid.UUID,
    user_id: uuid.UUID,
    body: CertificateWrite,
    uow: UowDep,
    actor: ActorDep,
    tools: ToolsDep,
) -> CertificateRead:
    row = await handlers.import_certificate(
        uow,
        actor,
        tools,
        school_id,
        holder=user_id,
        body=handlers.CertificateImport(body.chain_pem, body.key_label),
    )
    return CertificateRead.of(row)


@router.put(
    "/schools/{school_id}/certificates/seal",
    response_model=CertificateRead,
    summary="Import the school's organisation certificate (its seal)",
    responses=WRITE_PROBLEMS,
)
async def import_seal_certificate(
    school_id: uuid.UUID, body: CertificateWrite, uow: UowDep, actor: ActorDep, tools: ToolsDep
) -> CertificateRead:
    row = await handlers.import_certificate(
        uow,
        actor,
        tools,
        school_id,
        holder=None,
        body=handlers.CertificateImport(body.chain_pem, body.key_label),
    )
    return CertificateRead.of(row)
