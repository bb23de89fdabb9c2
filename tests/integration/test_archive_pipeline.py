"""The archive pipeline end to end with the real services in process: records locks a class's
year, archive renders its documents and opens their signing requests, the people sign in
signing (keys in the SoftHSM2 token, TSA and OCSP running), archive stores every signed document
with its twin and manifest under COMPLIANCE retention and a legal hold on the Ceph RGW, with a
copy on the replica, and publishes ``archive.package.stored`` (R30, R37, DOMAIN §4).

Archive calls records and signing with a token of its platform role (``archivist`` at the
province, acting for the leader who locked), minted by the run's test token issuer the way
identity would. Events are handed to the consumers as the bus would (the RabbitMQ path is the
run command's end-to-end test).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archive.clients import RecordsClient, SigningClient
from archive.copies import record_org_unit
from archive.models import Base, DocumentVersionRow, PackageObjectRow, PackageRow
from archive.pipeline import (
    Services,
    record_signing_completed,
    record_term_locked,
    run_once,
)
from archive.render import read_twin
from archive.storage.retention import LockMode
from archive.storage.rgw import RgwServer
from archive.storage.store import ObjectStore
from archive.storage_testing import bucket_name, rgw
from archive.uow import ArchiveUnitOfWork
from common.db import create_engine, create_sessionmaker
from common.events.identity import OrgLevel, OrgUnitCreated
from common.events.records import TermLocked
from common.events.signing import SigningRequestCompleted
from common.messaging.tables import outbox
from common.testing import DatabaseFactory, TokenIssuer, alembic, fingerprint
from records.testing import RecordsWorld, records_world
from signing.crypto_testing import signing_pki
from signing.handlers.copies import record_org_unit as signing_org_unit
from signing.testing import Signer, SigningWorld, signing_world

__all__ = ["records_world", "rgw", "signing_pki", "signing_world"]

VERIFY_URL = "https://hsdt.example.vn/signing/api/v1/validation"


class ArchivistTokens:
    """What identity hands the archive's platform client: ``archivist@<province>``, acting for
    the person named."""

    def __init__(self, issuer: TokenIssuer, province: uuid.UUID) -> None:
        self.issuer = issuer
        self.province = province

    async def token(self, acting_for: uuid.UUID) -> str:
        return self.issuer.mint(
            "hsdt-archive", f"archivist@{self.province}", kind="client", acting_for=acting_for
        )


@dataclass
class ArchiveWorld:
    records: RecordsWorld
    signing: SigningWorld
    sessions: async_sessionmaker[AsyncSession]
    services: Services
    replica: ObjectStore

    def uow(self) -> ArchiveUnitOfWork:
        return ArchiveUnitOfWork(self.sessions, source="archive")

    async def run(self) -> int:
        return await run_once(self.services, self.uow)

    async def fingerprint(self) -> dict[str, str]:
        return await fingerprint(self.sessions, Base.metadata)


def org_events(records: RecordsWorld, names: dict[uuid.UUID, str]) -> list[OrgUnitCreated]:
    """The records world's org tree as identity announces it (with names)."""
    u = records.units
    at = datetime.now(UTC)

    def event(
        unit: uuid.UUID,
        kind: OrgLevel,
        code: str,
        parent: uuid.UUID | None,
        district: uuid.UUID | None,
    ) -> OrgUnitCreated:
        return OrgUnitCreated(
            unit_id=unit,
            kind=kind,
            code=code,
            name=names.get(unit),
            parent_id=parent,
            levels=[],
            province_id=u.province,
            district_id=district,
            created_at=at,
            created_by=None,
        )

    return [
        event(u.province, OrgLevel.PROVINCE, "TP", None, None),
        event(u.district, OrgLevel.DISTRICT, "TP-D1", u.province, u.district),
        event(u.thcs, OrgLevel.SCHOOL, "TP-D1-THCS", u.district, u.district),
        event(u.primary, OrgLevel.SCHOOL, "TP-D1-TH", u.district, u.district),
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    make_database: DatabaseFactory,
    records_world: RecordsWorld,
    signing_world: SigningWorld,
    token_issuer: TokenIssuer,
    rgw: RgwServer,
    run_id: str,
) -> AsyncIterator[ArchiveWorld]:
    url = await make_database(f"archive_{uuid.uuid4().hex[:8]}")
    alembic("archive", url)
    engine = create_engine(url, pool_size=4, application_name="archive-tests")
    sessions = create_sessionmaker(engine)
    names = {
        records_world.units.province: "Sở Giáo dục và Đào tạo tỉnh Thử Nghiệm",
        records_world.units.district: "Phòng Giáo dục và Đào tạo huyện Một",
        records_world.units.thcs: "Trường THCS Thử Nghiệm",
        records_world.units.primary: "Trường Tiểu học Thử Nghiệm",
    }
    for event in org_events(records_world, names):
        await record_org_unit(event, ArchiveUnitOfWork(sessions, source="archive"))
        await signing_org_unit(event, signing_world.uow())

    def store(stem: str) -> ObjectStore:
        made = ObjectStore(rgw.endpoint, rgw.access_key, rgw.secret_key, bucket_name(run_id, stem))
        made.ensure_bucket()
        return made

    tokens = ArchivistTokens(token_issuer, records_world.units.province)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=records_world.app),
            base_url="http://records/api/v1",
        ) as records_http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=signing_world.app),
            base_url="http://signing/api/v1",
        ) as signing_http,
    ):
        replica = store("replica")
        services = Services(
            records=RecordsClient(records_http, tokens),
            signing=SigningClient(signing_http, tokens),
            store=store("archive"),
            replica=replica,
            verify_url=VERIFY_URL,
        )
        try:
            yield ArchiveWorld(records_world, signing_world, sessions, services, replica)
        finally:
            await engine.dispose()


async def last_event(
    sessions: async_sessionmaker[AsyncSession], event_type: str
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(outbox.c.body).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [json.loads(body)["data"] for body in rows]


async def certify(
    signing: SigningWorld, school: uuid.UUID, user_id: uuid.UUID, role: str
) -> Signer:
    """A records person gets a spare certificate of the test PKI, its key in the token."""
    signer = Signer(user_id, signing.spare_label(), school, role)
    response = await signing.client.put(
        f"/schools/{school}/certificates/people/{user_id}",
        json={"chain_pem": signing.chain_pem(signer.label), "key_label": signer.label},
        headers=signing.admin_of(school),
    )
    assert response.status_code == 200, response.text
    return signer


async def test_a_locked_year_is_rendered_signed_and_archived_under_retention(
    world: ArchiveWorld,
) -> None:
    records, signing = world.records, world.signing
    school = records.units.thcs
    class_id, homeroom, teacher, _students = await records.complete_year(
        school, ["Nguyễn Văn An", "Trần Thị Bình"]
    )
    await records.approve(class_id, school, homeroom, "year")
    leader = uuid.uuid4()
    locked = await records.client.post(
        "/locks",
        json={
            "school_id": str(school),
            "school_year_id": str(records.last_year_id),
            "period": "year",
            "class_ids": [str(class_id)],
            "reason": "Khóa sổ cuối năm",
        },
        headers=records.leader_of(school, leader),
    )
    assert locked.status_code == 201, locked.text
    (event,) = [
        e
        for e in await last_event(records.sessions, TermLocked.event_type)
        if str(class_id) in e["class_ids"]
    ]
    await record_term_locked(TermLocked.model_validate(event), world.uow())
    await record_term_locked(TermLocked.model_validate(event), world.uow())  # redelivered

    # Rendered and sent for signing: the class's book and a transcript per student.
    assert await world.run() == 1
    async with world.sessions() as session:
        versions = (await session.scalars(select(DocumentVersionRow))).all()
    mine = [v for v in versions if v.state == "signing"]
    assert len(mine) == 3
    assert await world.run() == 0  # nothing due: a second run changes nothing

    people = {
        "subject_teacher": await certify(signing, school, teacher, "teacher"),
        "homeroom_teacher": await certify(signing, school, homeroom, "teacher"),
        "school_leader": await certify(signing, school, leader, "school_leader"),
    }
    await signing.seal(school)
    for version in mine:
        request = await signing.client.get(
            f"/signing-requests/{version.signing_request_id}",
            headers=signing.of(people["school_leader"]),
        )
        assert request.status_code == 200, request.text
        body = request.json()
        assert [s["role"] for s in body["steps"]] == [
            "subject_teacher",
            "homeroom_teacher",
            "school_leader",
            "school_seal",
        ]
        for step in body["steps"]:
            who = people.get(step["role"], people["school_leader"])
            signed = await signing.sign(body, who)
            assert signed.status_code == 200, signed.text
        assert signed.json()["state"] == "completed"
    completed = await last_event(signing.sessions, SigningRequestCompleted.event_type)
    for data in completed:
        await record_signing_completed(SigningRequestCompleted.model_validate(data), world.uow())

    assert await world.run() == 3
    stored = await last_event(world.sessions, "vn.hsdt.archive.package.stored.v1")
    assert len(stored) == 3
    assert {e["document_kind"] for e in stored} == {"tracking_book", "transcript"}
    assert all(e["retain_until"] is None for e in stored)  # permanent: COMPLIANCE + legal hold
    async with world.sessions() as session:
        objects = (await session.scalars(select(PackageObjectRow))).all()
        packages = (await session.scalars(select(PackageRow))).all()
    assert len(objects) == 9  # document, twin and manifest of each
    for obj in objects:
        info = world.services.store.stat(obj.key, obj.version_id)
        assert info.lock_mode is LockMode.COMPLIANCE
        assert info.legal_hold is True
        assert info.sha256 == obj.sha256
        assert obj.replica_version_id is not None
        assert world.replica.stat(obj.key, obj.replica_version_id).sha256 == obj.sha256
    transcript = next(p for p in packages if p.kind == "transcript")
    pdf_object = next(
        o for o in objects if o.package_id == transcript.id and o.path == "data/document.pdf"
    )
    pdf = world.services.store.get(pdf_object.key, pdf_object.version_id)
    assert read_twin(pdf)["document"]["kind"] == "transcript"
    report = await signing.client.post(
        "/validation", content=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert report.status_code == 200, report.text
    found = report.json()
    assert found["valid"] is True, found["summary_vi"]
    assert found["ltv"] is True
    assert len([s for s in found["signatures"] if not s["document_timestamp"]]) == 4
