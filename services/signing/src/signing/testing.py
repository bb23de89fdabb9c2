"""Test support for the signing service: a migrated database with a small province copied in
through signing's own consumer, the app running on it with the test PKI's token and TSA, tokens
(and TOTP step-ups) for anyone, and builders for certificates and requests.

One world per test module; tests open their own requests, so they never see each other's data.
The test PKI (``signing.crypto_testing.signing_pki``) hands out certificates by label: the
people of the spec, the school's seal, a revoked one, and spares.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.events.identity import OrgLevel, OrgUnitCreated
from common.messaging.tables import outbox
from common.testing import DatabaseFactory, TokenIssuer, alembic, fingerprint
from signing.app import create_app
from signing.crypto.certs import certificate_pem
from signing.crypto.sample import transcript_pdf
from signing.crypto_testing import SigningPki
from signing.devpki import trust_files
from signing.handlers.copies import record_org_unit
from signing.models import Base
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork

SCHOOL_YEAR = "2025-2026"


@dataclass
class Units:
    province: uuid.UUID = field(default_factory=uuid.uuid4)
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``district``
    sibling: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``district``
    other_school: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``other_district``


@dataclass
class Signer:
    """A person with a certificate of the test PKI whose key is in the token."""

    user_id: uuid.UUID
    label: str
    school: uuid.UUID
    role: str = "teacher"

    def grants(self) -> list[str]:
        return [f"{self.role}@{self.school}"]


@dataclass
class SigningWorld:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: TokenIssuer
    sessions: async_sessionmaker[AsyncSession]
    units: Units
    settings: SigningSettings
    pki: SigningPki

    def uow(self) -> SigningUnitOfWork:
        return SigningUnitOfWork(self.sessions, source="signing")

    def as_(self, user: uuid.UUID, *grants: str, **kwargs: Any) -> dict[str, str]:
        return self.issuer.headers(user, *grants, **kwargs)

    def of(self, signer: Signer) -> dict[str, str]:
        return self.as_(signer.user_id, *signer.grants())

    def admin_of(self, school: uuid.UUID) -> dict[str, str]:
        return self.as_(uuid.uuid4(), f"school_admin@{school}")

    def step_up(self, user: uuid.UUID, purpose: str = "signing") -> str:
        return self.issuer.mint_step_up(str(user), purpose)

    def chain_pem(self, label: str) -> str:
        chain = self.pki.pki.chain(label)
        return b"".join(certificate_pem(c) for c in chain.certificates).decode()

    def spare_label(self) -> str:
        """A spare certificate no test of this session has used (the PKI is per session)."""
        return self.pki.take_spare()

    async def signer(
        self, school: uuid.UUID | None = None, *, role: str = "teacher", label: str | None = None
    ) -> Signer:
        """A new person at ``school`` with a spare certificate (or ``label``'s) imported."""
        school = school or self.units.school
        signer = Signer(uuid.uuid4(), label or self.spare_label(), school, role)
        response = await self.client.put(
            f"/schools/{school}/certificates/people/{signer.user_id}",
            json={"chain_pem": self.chain_pem(signer.label), "key_label": signer.label},
            headers=self.admin_of(school),
        )
        assert response.status_code == 200, response.text
        return signer

    async def seal(self, school: uuid.UUID | None = None, label: str = "school") -> None:
        school = school or self.units.school
        response = await self.client.put(
            f"/schools/{school}/certificates/seal",
            json={"chain_pem": self.chain_pem(label), "key_label": label},
            headers=self.admin_of(school),
        )
        assert response.status_code == 200, response.text

    async def open_request(
        self,
        people: list[tuple[str, Signer]],
        *,
        school: uuid.UUID | None = None,
        seal: bool = True,
        document: bytes | None = None,
        class_id: uuid.UUID | None = None,
        visible: bool = True,
    ) -> dict[str, Any]:
        """A transcript request signed by ``people`` (role, signer) in order, then the seal."""
        school = school or self.units.school
        signers: list[dict[str, Any]] = [
            {
                "role": role,
                "user_id": str(p.user_id),
                "field": f"Sig{i}",
                "page": 1,
                "box": [40 + 130 * (i % 4), 60, 160 + 130 * (i % 4), 120] if visible else None,
            }
            for i, (role, p) in enumerate(people, start=1)
        ]
        if seal:
            signers.append({"role": "school_seal", "field": "Seal", "page": 1, "box": None})
        body = {
            "document_id": str(uuid.uuid4()),
            "kind": "transcript",
            "title": "Học bạ — Nguyễn Văn An",
            "school_id": str(school),
            "school_year": SCHOOL_YEAR,
            "term": "year",
            "class_id": str(class_id) if class_id else None,
            "student_id": str(uuid.uuid4()),
            "document": base64.b64encode(document or self.document()).decode(),
            "signers": signers,
        }
        response = await self.client.post(
            "/signing-requests", json=body, headers=self.admin_of(school)
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def document(self) -> bytes:
        return transcript_pdf("Nguyễn Văn An", "Trường THCS Thử Nghiệm")

    async def sign(
        self,
        request: dict[str, Any],
        signer: Signer,
        *,
        headers: dict[str, str] | None = None,
        sha256: str | None = None,
    ) -> httpx.Response:
        """``signer`` signs at their turn with their key in the token (and a fresh step-up)."""
        headers = headers or self.of(signer)
        if sha256 is None:
            current = await self.client.get(f"/signing-requests/{request['id']}", headers=headers)
            sha256 = current.json().get("document_sha256", request["document_sha256"])
        return await self.client.post(
            f"/signing-requests/{request['id']}/sign",
            json={"document_sha256": sha256, "step_up_token": self.step_up(signer.user_id)},
            headers=headers,
        )

    async def document_of(self, request_id: str, headers: dict[str, str]) -> bytes:
        response = await self.client.get(
            f"/signing-requests/{request_id}/document", headers=headers
        )
        assert response.status_code == 200, response.text
        return response.content

    async def fingerprint(self) -> dict[str, str]:
        """Row count and a hash of every table and the outbox (``common.testing.fingerprint``)."""
        return await fingerprint(self.sessions, Base.metadata)

    async def outbox_events(self, event_type: str) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(outbox.c.body).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
            )
            return [json.loads(body)["data"] for body in rows]


async def seed_units(world: SigningWorld) -> None:
    at = datetime.now(UTC)
    u = world.units

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
            code=f"{code}-{u.province.hex[:4].upper()}",
            parent_id=parent,
            levels=[],
            province_id=u.province,
            district_id=district,
            created_at=at,
            created_by=None,
        )

    for created in (
        event(u.province, OrgLevel.PROVINCE, "SG", None, None),
        event(u.district, OrgLevel.DISTRICT, "SG-D1", u.province, u.district),
        event(u.other_district, OrgLevel.DISTRICT, "SG-D2", u.province, u.other_district),
        event(u.school, OrgLevel.SCHOOL, "SG-D1-THCS", u.district, u.district),
        event(u.sibling, OrgLevel.SCHOOL, "SG-D1-TH", u.district, u.district),
        event(u.other_school, OrgLevel.SCHOOL, "SG-D2-THCS", u.other_district, u.other_district),
    ):
        await record_org_unit(created, world.uow())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def signing_world(  # noqa: PLR0917 - pytest passes fixtures by name
    make_database: DatabaseFactory,
    amqp_url: str,
    redis_url: str,
    redis_prefix: str,
    token_issuer: TokenIssuer,
    signing_pki: SigningPki,
) -> AsyncIterator[SigningWorld]:
    tag = uuid.uuid4().hex[:8]
    url = await make_database(f"signing_{tag}")
    alembic("signing", url)
    trust = trust_files(signing_pki.pki, signing_pki.directory)
    settings = SigningSettings(
        database_url=url,
        amqp_url=amqp_url,
        redis_url=redis_url,
        redis_prefix=f"{redis_prefix}sig-{tag}:",
        jwks_url=token_issuer.jwks_url,
        pkcs11_user_pin=SecretStr(signing_pki.user_pin),
        pkcs11_token_label=signing_pki.token_label,
        trust_anchors_file=Path(trust["SIGNING_TRUST_ANCHORS_FILE"]),
        trust_intermediates_file=Path(trust["SIGNING_TRUST_INTERMEDIATES_FILE"]),
        trust_timestamp_anchors_file=Path(trust["SIGNING_TRUST_TIMESTAMP_ANCHORS_FILE"]),
        tsa_url=signing_pki.pki.tsa_url,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://signing/api/v1"
        ) as client,
    ):
        deps = app.state.deps
        world = SigningWorld(
            app, client, token_issuer, deps.sessionmaker, Units(), settings, signing_pki
        )
        await seed_units(world)
        yield world
