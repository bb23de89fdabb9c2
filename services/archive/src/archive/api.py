"""HTTP routes of the archive service under ``/api/v1``: archived packages, and the pipeline's
state for the school's board and the operations team."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from archive.access import Actor, rule
from archive.bootstrap import ArchiveDeps
from archive.models import (
    ClassJobRow,
    DocumentVersionRow,
    OrgUnitRow,
    PackageObjectRow,
    PackageRow,
)
from archive.storage.store import ChecksumMismatch, ObjectMissing, StoreError
from archive.uow import ArchiveUnitOfWork
from common.auth import CurrentPrincipal
from common.errors import Problem, http_problem, problem_responses
from common.events.archive import DocumentKind

logger = logging.getLogger(__name__)
router = APIRouter(tags=["archive"])


def get_uow(request: Request) -> ArchiveUnitOfWork:
    uow = request.app.state.deps.uow_factory()
    assert isinstance(uow, ArchiveUnitOfWork)
    return uow


def get_actor(principal: CurrentPrincipal) -> Actor:
    return Actor.of(principal)


UowDep = Annotated[ArchiveUnitOfWork, Depends(get_uow)]
ActorDep = Annotated[Actor, Depends(get_actor)]


async def _school(uow: ArchiveUnitOfWork, school_id: uuid.UUID) -> OrgUnitRow:
    unit = await uow.session.get(OrgUnitRow, school_id)
    if unit is None or unit.kind != "school":
        raise http_problem(404, f"School {school_id} does not exist")
    return unit


class ObjectRead(BaseModel):
    path: str
    sha256: str
    size: int
    media_type: str
    version_id: str
    replicated: bool


class PackageRead(BaseModel):
    id: uuid.UUID
    document_id: uuid.UUID
    kind: DocumentKind
    version: int
    supersedes_package_id: uuid.UUID | None
    school_id: uuid.UUID
    school_year: str
    period: str
    class_id: uuid.UUID
    student_id: uuid.UUID | None
    document_sha256: str
    manifest_sha256: str
    size_bytes: int
    retain_until: datetime
    legal_hold: bool = Field(description="True: kept permanently (vĩnh viễn).")
    retention_basis: str
    stored_at: datetime
    last_fixity_at: datetime | None
    last_fixity_ok: bool | None
    objects: list[ObjectRead] = Field(default_factory=list)

    @classmethod
    def of(cls, row: PackageRow, objects: list[PackageObjectRow] | None = None) -> PackageRead:
        return cls(
            id=row.id,
            document_id=row.document_id,
            kind=DocumentKind(row.kind),
            version=row.version,
            supersedes_package_id=row.supersedes_package_id,
            school_id=row.school_id,
            school_year=row.school_year,
            period=row.period,
            class_id=row.class_id,
            student_id=row.student_id,
            document_sha256=row.document_sha256,
            manifest_sha256=row.manifest_sha256,
            size_bytes=row.size_bytes,
            retain_until=row.retain_until,
            legal_hold=row.legal_hold,
            retention_basis=row.retention_basis,
            stored_at=row.stored_at,
            last_fixity_at=row.last_fixity_at,
            last_fixity_ok=row.last_fixity_ok,
            objects=[
                ObjectRead(
                    path=o.path,
                    sha256=o.sha256,
                    size=o.size,
                    media_type=o.media_type,
                    version_id=o.version_id,
                    replicated=o.replica_version_id is not None,
                )
                for o in objects or []
            ],
        )


@router.get(
    "/schools/{school_id}/packages",
    response_model=list[PackageRead],
    summary="A school's archived packages, by class, student, record type, year and period",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_packages(  # noqa: PLR0917 - the filters of the search
    school_id: uuid.UUID,
    uow: UowDep,
    actor: ActorDep,
    class_id: uuid.UUID | None = None,
    student_id: uuid.UUID | None = None,
    kind: DocumentKind | None = None,
    school_year: Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{4}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PackageRead]:
    async with uow:
        school = await _school(uow, school_id)
        actor.require(rule("GET", "/schools/{school_id}/packages").roles, school, writes=False)
        query = select(PackageRow).where(PackageRow.school_id == school.id)
        for column, value in (
            (PackageRow.class_id, class_id),
            (PackageRow.student_id, student_id),
            (PackageRow.kind, kind.value if kind else None),
            (PackageRow.school_year, school_year),
        ):
            if value is not None:
                query = query.where(column == value)
        rows = await uow.session.scalars(
            query.order_by(PackageRow.stored_at.desc(), PackageRow.id).limit(limit)
        )
        return [PackageRead.of(r) for r in rows]


async def _package(
    uow: ArchiveUnitOfWork, actor: Actor, package_id: uuid.UUID, path: str
) -> tuple[PackageRow, list[PackageObjectRow]]:
    package = await uow.session.get(PackageRow, package_id)
    if package is None:
        raise http_problem(404, f"Package {package_id} does not exist")
    school = await _school(uow, package.school_id)
    actor.require(rule("GET", path).roles, school, writes=False)
    objects = await uow.session.scalars(
        select(PackageObjectRow)
        .where(PackageObjectRow.package_id == package.id)
        .order_by(PackageObjectRow.path)
    )
    return package, list(objects)


@router.get(
    "/packages/{package_id}",
    response_model=PackageRead,
    responses=problem_responses(401, 403, 404),
)
async def get_package(package_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> PackageRead:
    async with uow:
        package, objects = await _package(uow, actor, package_id, "/packages/{package_id}")
        return PackageRead.of(package, objects)


@router.get(
    "/packages/{package_id}/document",
    summary="The archived, signed document (PDF/A), read back from object storage",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF"},
        **problem_responses(401, 403, 404, 409, 503),
    },
)
async def get_document(
    package_id: uuid.UUID, request: Request, uow: UowDep, actor: ActorDep
) -> Response:
    async with uow:
        _, objects = await _package(uow, actor, package_id, "/packages/{package_id}/document")
    document = next((o for o in objects if o.path == "data/document.pdf"), None)
    deps = request.app.state.deps
    assert isinstance(deps, ArchiveDeps)
    damaged = Problem(
        409,
        "package-damaged",
        "Gói lưu trữ bị hỏng, cần khôi phục từ bản sao",
        f"Package {package_id}: its document is missing or does not match its checksum",
    )
    if document is None:
        raise damaged
    try:
        content = await asyncio.to_thread(
            deps.pipeline().store.get, document.key, document.version_id
        )
    except (ObjectMissing, ChecksumMismatch):
        logger.exception("package %s: document missing or altered in the store", package_id)
        raise damaged from None
    except StoreError:
        # The key names a student: it stays in the log, not in the answer.
        logger.exception("package %s: object store unavailable", package_id)
        raise Problem(
            503,
            "store-unavailable",
            "Kho lưu trữ tạm thời không truy cập được",
            "The object store did not answer; try again later",
        ) from None
    return Response(
        content,
        media_type="application/pdf",
        headers={"ETag": f'"{document.sha256}"'},
    )


class PendingRead(BaseModel):
    kind: str = Field(description="class_job or document_version.")
    id: uuid.UUID
    class_id: uuid.UUID | None
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = Field(description="Why the last attempt failed (for the operator).")


@router.get(
    "/schools/{school_id}/pipeline",
    response_model=list[PendingRead],
    summary="What of the school is not archived yet, and why",
    responses=problem_responses(401, 403, 404),
)
async def pipeline_state(school_id: uuid.UUID, uow: UowDep, actor: ActorDep) -> list[PendingRead]:
    async with uow:
        school = await _school(uow, school_id)
        actor.require(rule("GET", "/schools/{school_id}/pipeline").roles, school, writes=False)
        jobs = await uow.session.scalars(
            select(ClassJobRow)
            .where(ClassJobRow.school_id == school.id, ClassJobRow.state != "done")
            .order_by(ClassJobRow.created_at)
        )
        found = [
            PendingRead(
                kind="class_job",
                id=j.id,
                class_id=j.class_id,
                state=j.state,
                attempts=j.attempts,
                next_attempt_at=j.next_attempt_at,
                last_error=j.last_error,
            )
            for j in jobs
        ]
        versions = await uow.session.execute(
            select(DocumentVersionRow, ClassJobRow.class_id)
            .join(ClassJobRow, ClassJobRow.id == DocumentVersionRow.class_job_id)
            .where(ClassJobRow.school_id == school.id, DocumentVersionRow.state != "stored")
            .order_by(DocumentVersionRow.created_at)
        )
        found += [
            PendingRead(
                kind="document_version",
                id=v.id,
                class_id=class_id,
                state=v.state,
                attempts=v.attempts,
                next_attempt_at=v.next_attempt_at,
                last_error=v.last_error,
            )
            for v, class_id in versions
        ]
        return found
