"""Province settings (the signer chain per kind of document) and the certificates of a school's
signers and of the school itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from common.events.archive import DocumentKind
from common.events.identity import OrgLevel
from common.events.signing import SignerRole
from signing.access import Actor, rule
from signing.domain.chain import DEFAULT_CHAINS, ChainRule
from signing.engine import CertificateRefused, SignatureTools
from signing.handlers.base import authorize, invalid, unit_of, utcnow
from signing.models import CertificateRow, ChainRuleRow
from signing.uow import SigningUnitOfWork


async def signer_chains(
    uow: SigningUnitOfWork, actor: Actor, province_id: uuid.UUID
) -> dict[DocumentKind, ChainRule]:
    async with uow:
        province = await unit_of(uow, province_id, OrgLevel.PROVINCE)
        await authorize(uow, actor, rule("GET", "/provinces/{province_id}/signer-chains"), province)
        chains = dict(DEFAULT_CHAINS)
        for row in await uow.repo.chain_rules(province.id):
            chains[DocumentKind(row.kind)] = ChainRule.of([SignerRole(r) for r in row.roles])
        return chains


async def set_signer_chain(
    uow: SigningUnitOfWork,
    actor: Actor,
    province_id: uuid.UUID,
    kind: DocumentKind,
    roles: list[SignerRole],
) -> ChainRule:
    if len(set(roles)) != len(roles) or not roles:
        raise invalid(
            "chain-roles-invalid",
            "Danh sách vai trò ký không hợp lệ",
            "Name each role once, at least one",
        )
    if SignerRole.SCHOOL_SEAL not in roles:
        # DOMAIN §6.2: a học bạ số has legal value only with the school's certificate.
        raise invalid(
            "seal-required",
            "Chuỗi ký phải có chữ ký số của nhà trường",
            "Every chain ends with the school's organisation certificate",
        )
    async with uow:
        province = await unit_of(uow, province_id, OrgLevel.PROVINCE)
        await authorize(
            uow, actor, rule("PUT", "/provinces/{province_id}/signer-chains/{kind}"), province
        )
        chain = ChainRule.of(roles)
        row = await uow.repo.chain_rule(province.id, kind.value)
        if row is None:
            row = ChainRuleRow(province_id=province.id, kind=kind.value)
            uow.repo.add(row)
        row.roles = [r.value for r in chain.roles]
        row.updated_by = actor.person()
        row.updated_at = utcnow()
        await uow.commit()
        return chain


@dataclass(frozen=True, slots=True)
class CertificateImport:
    chain_pem: str
    # The key's label in the PKCS#11 token; None: the key is on the signer's own USB token.
    key_label: str | None


async def import_certificate(
    uow: SigningUnitOfWork,
    actor: Actor,
    tools: SignatureTools,
    school_id: uuid.UUID,
    *,
    holder: uuid.UUID | None,
    body: CertificateImport,
) -> CertificateRow:
    """A person's certificate (``holder``) or the school's own (``holder`` None): checked
    against the trust anchors, then the holder's active one; the one it replaces stays."""
    path = (
        "/schools/{school_id}/certificates/seal"
        if holder is None
        else "/schools/{school_id}/certificates/people/{user_id}"
    )
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        await authorize(uow, actor, rule("PUT", path), school)
        now = utcnow()
        try:
            chain = await tools.check_usable(body.chain_pem, now)
        except CertificateRefused as refused:
            raise invalid(refused.code, refused.message_vi, refused.detail) from None
        if body.key_label is not None and (
            tools.keys is None or not tools.keys.has_key(body.key_label)
        ):
            raise invalid(
                "key-not-in-token",
                "Không tìm thấy khóa trong thiết bị HSM",
                f"The token holds no key labelled {body.key_label!r}",
            )
        kind = "person" if holder is not None else "school"
        holder_id = holder if holder is not None else school.id
        existing = await uow.repo.certificate_by_sha256(chain.sha256)
        if existing is not None and (existing.holder_kind, existing.holder_id) != (kind, holder_id):
            raise invalid(
                "certificate-taken",
                "Chứng thư số đã được gán cho người khác",
                "This certificate belongs to another holder",
            )
        current = await uow.repo.active_certificate(kind, holder_id)
        if current is not None and current is not existing:
            current.active = False
            await uow.repo.flush()
        row = existing or CertificateRow(id=uuid.uuid4(), holder_kind=kind, holder_id=holder_id)
        row.school_id = school.id
        row.chain_pem = chain.to_pem().decode()
        row.sha256 = chain.sha256
        row.serial = chain.serial_hex
        row.common_name = chain.common_name
        row.not_before = chain.not_before
        row.not_after = chain.not_after
        row.key_label = body.key_label
        row.active = True
        row.imported_by = actor.person()
        row.imported_at = now
        if existing is None:
            uow.repo.add(row)
        await uow.commit()
        return row


async def school_certificates(
    uow: SigningUnitOfWork, actor: Actor, school_id: uuid.UUID
) -> list[CertificateRow]:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        await authorize(uow, actor, rule("GET", "/schools/{school_id}/certificates"), school)
        return list(await uow.repo.school_certificates(school.id))
