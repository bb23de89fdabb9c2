"""The ``archive_world`` fixture: a migrated archive app whose object store is a fresh locked
bucket on the session's Ceph RGW (``archive.storage_testing.rgw``), with a small tree of two
provinces copied in through archive's own consumer, tokens for anyone, and builders that seed
what the pipeline would have left behind: a stored package (its signed PDF really in the
bucket), and work still waiting.

The pipeline itself (records locks, signing signs, archive stores) is
``tests/integration/test_archive_pipeline.py``; the rows here are written as ``run_store``
writes them, so the API's tests need neither records nor signing.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from pypdf import PdfWriter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from archive.app import create_app
from archive.copies import record_org_unit
from archive.models import (
    Base,
    ClassJobRow,
    DocumentRow,
    DocumentVersionRow,
    PackageObjectRow,
    PackageRow,
)
from archive.pipeline import prefix_of
from archive.settings import ArchiveSettings
from archive.storage.retention import RETENTION_TABLE, RecordType, retention_for
from archive.storage.rgw import RgwServer
from archive.storage.store import ObjectStore
from archive.storage_testing import bucket_name, rgw
from archive.uow import ArchiveUnitOfWork
from common.events.archive import DocumentKind
from common.events.identity import OrgLevel, OrgUnitCreated
from common.testing import DatabaseFactory, TokenIssuer, alembic, fingerprint

__all__ = ["archive_world", "rgw"]

SCHOOL_YEAR: Final = "2025-2026"
DOCUMENT: Final = "data/document.pdf"


@dataclass
class Units:
    province: uuid.UUID = field(default_factory=uuid.uuid4)
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``district``
    sibling: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``district``
    other_school: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``other_district``
    other_province: uuid.UUID = field(default_factory=uuid.uuid4)  # nothing under it

    def district_of(self, school: uuid.UUID) -> uuid.UUID:
        return self.other_district if school == self.other_school else self.district


@dataclass(frozen=True)
class Package:
    """A stored package as the API should show it; ``pdf`` is what the bucket holds."""

    id: uuid.UUID
    document_id: uuid.UUID
    school_id: uuid.UUID
    class_id: uuid.UUID
    student_id: uuid.UUID
    pdf: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pdf).hexdigest()


@dataclass(frozen=True)
class Pending:
    """A school's unfinished work: a class job that keeps failing, and a document version
    still at signing."""

    class_job_id: uuid.UUID
    version_id: uuid.UUID


def signed_pdf(title: str) -> bytes:
    """A small real PDF of one blank page, told apart from the others by its title."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title, "/Producer": "hsdt-archive tests"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class ArchiveWorld:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: TokenIssuer
    sessions: async_sessionmaker[AsyncSession]
    units: Units
    store: ObjectStore

    def uow(self) -> ArchiveUnitOfWork:
        return ArchiveUnitOfWork(self.sessions, source="archive")

    def as_(self, user: uuid.UUID | str, *grants: str, **kwargs: Any) -> dict[str, str]:
        return self.issuer.headers(user, *grants, **kwargs)

    def admin_of(self, school: uuid.UUID) -> dict[str, str]:
        return self.as_(uuid.uuid4(), f"school_admin@{school}")

    async def fingerprint(self) -> dict[str, str]:
        """Row count and a hash of every archive table and the outbox."""
        return await fingerprint(self.sessions, Base.metadata)

    def _job(self, school: uuid.UUID, class_id: uuid.UUID, **values: Any) -> ClassJobRow:
        return ClassJobRow(
            id=uuid.uuid4(),
            class_id=class_id,
            school_id=school,
            district_id=self.units.district_of(school),
            province_id=self.units.province,
            school_year=SCHOOL_YEAR,
            period="year",
            snapshot_version=1,
            cause="lock",
            cause_id=uuid.uuid4(),
            acting_for=uuid.uuid4(),
            **values,
        )

    def _document(
        self, job: ClassJobRow, kind: DocumentKind, student_id: uuid.UUID | None
    ) -> DocumentRow:
        return DocumentRow(
            id=uuid.uuid4(),
            kind=kind.value,
            school_id=job.school_id,
            district_id=job.district_id,
            province_id=job.province_id,
            school_year=job.school_year,
            period=job.period,
            class_id=job.class_id,
            student_id=student_id,
            title="Học bạ — Nguyễn Văn An",
            latest_version=1,
        )

    def _version(
        self, document: DocumentRow, job: ClassJobRow, **values: Any
    ) -> DocumentVersionRow:
        return DocumentVersionRow(
            id=uuid.uuid4(),
            document_id=document.id,
            version=1,
            snapshot_version=job.snapshot_version,
            class_job_id=job.id,
            rendered_sha256=hashlib.sha256(document.id.bytes).hexdigest(),
            twin=b'{"twin": true}',
            signing_request_id=uuid.uuid4(),
            **values,
        )

    async def package(
        self, school: uuid.UUID | None = None, *, kind: DocumentKind = DocumentKind.TRANSCRIPT
    ) -> Package:
        """A transcript stored as ``run_store`` stores it: the signed PDF put into the bucket
        under its retention, then the job, document, version, package and object rows."""
        school = school or self.units.school
        now = datetime.now(UTC)
        job = self._job(school, uuid.uuid4(), state="done", attempts=1, done_at=now)
        student_id = uuid.uuid4()
        document = self._document(job, kind, student_id)
        pdf = signed_pdf(f"Học bạ {student_id}")
        sha256 = hashlib.sha256(pdf).hexdigest()
        version = self._version(
            document, job, state="stored", signed_sha256=sha256, attempts=1, stored_at=now
        )
        package_id = uuid.uuid5(version.id, "package")
        prefix = prefix_of(document, version.version)
        retention = retention_for(RecordType(kind.value), now)
        stored = await asyncio.to_thread(
            lambda: self.store.put(
                prefix + DOCUMENT,
                pdf,
                content_type="application/pdf",
                retention=retention,
                metadata={"package-id": str(package_id), "document-id": str(document.id)},
            )
        )
        row = PackageRow(
            id=package_id,
            document_id=document.id,
            document_version_id=version.id,
            version=version.version,
            kind=document.kind,
            school_id=school,
            school_year=document.school_year,
            period=document.period,
            class_id=document.class_id,
            student_id=student_id,
            prefix=prefix,
            # Only the document is put: the API reads nothing else of a package.
            manifest_sha256=hashlib.sha256(package_id.bytes).hexdigest(),
            document_sha256=sha256,
            size_bytes=stored.size,
            retain_until=retention.until,
            legal_hold=retention.legal_hold,
            retention_basis=RETENTION_TABLE.legal_basis,
            stored_at=now,
        )
        obj = PackageObjectRow(
            package_id=package_id,
            path=DOCUMENT,
            key=stored.key,
            version_id=stored.version_id,
            sha256=stored.sha256,
            size=stored.size,
            media_type="application/pdf",
        )
        async with self.sessions.begin() as session:
            session.add_all([job, document])
            await session.flush()
            session.add(version)
            await session.flush()
            session.add(row)
            await session.flush()
            session.add(obj)
        return Package(package_id, document.id, school, job.class_id, student_id, pdf)

    async def pending(self, school: uuid.UUID | None = None) -> Pending:
        """A class job whose last attempt failed, and a document version waiting for its
        signatures: what ``GET /schools/{id}/pipeline`` lists."""
        school = school or self.units.school
        failing = self._job(
            school, uuid.uuid4(), state="pending", attempts=3, last_error="records: 503"
        )
        rendered = self._job(school, uuid.uuid4(), state="done", attempts=1)
        document = self._document(rendered, DocumentKind.TRACKING_BOOK, None)
        version = self._version(document, rendered, state="signing", attempts=0)
        async with self.sessions.begin() as session:
            session.add_all([failing, rendered, document])
            await session.flush()
            session.add(version)
        return Pending(failing.id, version.id)


def org_events(u: Units) -> list[OrgUnitCreated]:
    """The tree as identity announces it: a province with two districts and three schools,
    and a second province."""
    at = datetime.now(UTC)
    tag = u.province.hex[:4].upper()

    def event(
        unit: uuid.UUID,
        kind: OrgLevel,
        code: str,
        parent: uuid.UUID | None,
        district: uuid.UUID | None,
        province: uuid.UUID = u.province,
    ) -> OrgUnitCreated:
        return OrgUnitCreated(
            unit_id=unit,
            kind=kind,
            code=f"{code}-{tag}",
            parent_id=parent,
            levels=[],
            province_id=province,
            district_id=district,
            created_at=at,
            created_by=None,
        )

    return [
        event(u.province, OrgLevel.PROVINCE, "LC", None, None),
        event(u.district, OrgLevel.DISTRICT, "LC-D1", u.province, u.district),
        event(u.other_district, OrgLevel.DISTRICT, "LC-D2", u.province, u.other_district),
        event(u.school, OrgLevel.SCHOOL, "LC-D1-THCS", u.district, u.district),
        event(u.sibling, OrgLevel.SCHOOL, "LC-D1-TH", u.district, u.district),
        event(u.other_school, OrgLevel.SCHOOL, "LC-D2-THCS", u.other_district, u.other_district),
        event(u.other_province, OrgLevel.PROVINCE, "KH", None, None, u.other_province),
    ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def archive_world(
    make_database: DatabaseFactory,
    amqp_url: str,
    redis_url: str,
    redis_prefix: str,
    token_issuer: TokenIssuer,
    rgw: RgwServer,
    run_id: str,
) -> AsyncIterator[ArchiveWorld]:
    tag = uuid.uuid4().hex[:8]
    url = await make_database(f"archive_{tag}")
    alembic("archive", url)
    settings = ArchiveSettings(
        database_url=url,
        amqp_url=amqp_url,
        redis_url=redis_url,
        redis_prefix=f"{redis_prefix}arc-{tag}:",
        jwks_url=token_issuer.jwks_url,
        s3_endpoint=rgw.endpoint,
        s3_access_key=rgw.access_key,
        s3_secret_key=SecretStr(rgw.secret_key),
        s3_bucket=bucket_name(run_id, "api"),
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://archive/api/v1"
        ) as client,
    ):
        deps = app.state.deps
        store = deps.pipeline().store  # the store the app reads from
        await asyncio.to_thread(store.ensure_bucket)
        world = ArchiveWorld(app, client, token_issuer, deps.sessionmaker, Units(), store)
        for event in org_events(world.units):
            await record_org_unit(event, world.uow())
        yield world
