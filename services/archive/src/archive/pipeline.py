"""From a lock to archived packages, one idempotent step at a time.

1. ``records.term.locked`` (or ``records.correction.applied``) makes a class job per class.
2. A class job reads the snapshot, the class and its teachers from records, the province's
   signer chain from signing, renders every document of the class and opens one signing
   request per document version (its id is derived, so a retry finds what it opened).
3. ``signing.request.completed`` marks the version signed; ``signing.request.refused`` marks
   it refused (an operator or the school restarts it in signing).
4. A signed version is fetched from signing and stored with its twin and manifest under
   retention (WORM), then ``archive.package.stored`` is published; a replica gets a copy.

Each step commits its whole effect or nothing; a failure keeps the row due again later with
back-off (``archive.domain.retry``) and the error for the operator. Rows are claimed with
``FOR UPDATE SKIP LOCKED``, so several workers share the queue and never do a row twice.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from archive import render
from archive.clients import (
    RecordsClient,
    ServiceRefusedError,
    ServiceUnavailableError,
    SigningClient,
)
from archive.domain.documents import PRIMARY_GRADES, DocumentKey
from archive.domain.manifest import Manifest, file_entry
from archive.domain.retry import next_attempt
from archive.models import (
    ClassJobRow,
    DocumentRow,
    DocumentVersionRow,
    OrgUnitRow,
    PackageObjectRow,
    PackageRow,
)
from archive.storage.retention import RETENTION_TABLE, RecordType, retention_for
from archive.storage.store import ObjectStore, StoredObject, StoreError
from archive.uow import ArchiveUnitOfWork
from common.events.archive import DocumentKind, PackageStored
from common.events.records import CorrectionApplied, Term, TermLocked
from common.events.signing import SigningRequestCompleted, SigningRequestRefused

logger = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"
SIGNING, SIGNED, STORED, REFUSED = "signing", "signed", "stored", "refused"
PDF, JSON = "application/pdf", "application/json"


def utcnow() -> datetime:
    return datetime.now(UTC)


def version_id_of(document_id: uuid.UUID, snapshot_version: int) -> uuid.UUID:
    """The id of a document's version made from one snapshot version: what signing knows the
    rendered document by, the same on every retry."""
    return uuid.uuid5(document_id, f"snapshot:{snapshot_version}")


# --- 1. events in


async def record_term_locked(event: TermLocked, uow: ArchiveUnitOfWork) -> None:
    """``records.term.locked``: a class job for each class the lock covers."""
    async with uow:
        for class_id in event.class_ids:
            await _add_job(
                uow,
                class_id=class_id,
                event_scope=event,
                snapshot_version=event.snapshot,
                cause="lock",
                cause_id=event.lock_id or event.term_id,
                student_id=None,
                acting_for=event.locked_by,
                audit_head=event.audit_head,
            )
        await uow.commit()


async def record_correction_applied(event: CorrectionApplied, uow: ArchiveUnitOfWork) -> None:
    """``records.correction.applied``: the student's transcript and the class's record again,
    as new versions from the corrected snapshot; the old versions stay."""
    async with uow:
        await _add_job(
            uow,
            class_id=event.class_id,
            event_scope=event,
            snapshot_version=event.snapshot,
            cause="correction",
            cause_id=event.correction_id,
            student_id=event.student_id,
            acting_for=event.approved_by,
            audit_head=None,
        )
        await uow.commit()


async def _add_job(
    uow: ArchiveUnitOfWork,
    *,
    class_id: uuid.UUID,
    event_scope: TermLocked | CorrectionApplied,
    snapshot_version: int,
    cause: str,
    cause_id: uuid.UUID,
    student_id: uuid.UUID | None,
    acting_for: uuid.UUID,
    audit_head: str | None,
) -> None:
    await uow.session.execute(
        insert(ClassJobRow)
        .values(
            id=uuid.uuid4(),
            class_id=class_id,
            school_id=event_scope.school_id,
            district_id=event_scope.district_id,
            province_id=event_scope.province_id,
            school_year=event_scope.school_year,
            period=event_scope.term.value,
            snapshot_version=snapshot_version,
            cause=cause,
            cause_id=cause_id,
            student_id=student_id,
            audit_head=audit_head,
            acting_for=acting_for,
            state=PENDING,
            attempts=0,
        )
        .on_conflict_do_nothing()
    )


async def record_signing_completed(event: SigningRequestCompleted, uow: ArchiveUnitOfWork) -> None:
    """``signing.request.completed``: the version is signed; the store step takes it."""
    async with uow:
        version = await uow.session.scalar(
            select(DocumentVersionRow)
            .where(DocumentVersionRow.signing_request_id == event.signing_request_id)
            .with_for_update()
        )
        if version is not None and version.state in (SIGNING, REFUSED):
            version.state = SIGNED
            version.signed_sha256 = event.document_sha256
            version.attempts = 0
            version.next_attempt_at = utcnow()
            version.last_error = None
        await uow.commit()


async def record_signing_refused(event: SigningRequestRefused, uow: ArchiveUnitOfWork) -> None:
    """``signing.request.refused``: nothing to store until the school restarts it in signing."""
    async with uow:
        version = await uow.session.scalar(
            select(DocumentVersionRow)
            .where(DocumentVersionRow.signing_request_id == event.signing_request_id)
            .with_for_update()
        )
        if version is not None and version.state == SIGNING:
            version.state = REFUSED
            version.last_error = (
                f"refused at place {event.position} ({event.signer_role}) by {event.refused_by}"
            )
        await uow.commit()


# --- 2. a class job: render and open the signing round


@dataclass(frozen=True, slots=True)
class Services:
    records: RecordsClient
    signing: SigningClient
    store: ObjectStore
    replica: ObjectStore | None
    verify_url: str


async def _school(uow: ArchiveUnitOfWork, school_id: uuid.UUID) -> render.SchoolInfo:
    unit = await uow.session.get(OrgUnitRow, school_id)
    if unit is None:
        raise ServiceRefusedError(
            404, "school-unknown", f"school {school_id} is not in archive's org tree"
        )
    province = await uow.session.get(OrgUnitRow, unit.province_id)
    district = await uow.session.get(OrgUnitRow, unit.district_id) if unit.district_id else None
    return render.SchoolInfo(
        name=unit.name or unit.code,
        code=unit.code,
        province_name=(province.name or province.code) if province else "",
        district_name=(district.name or district.code) if district else None,
    )


@dataclass(frozen=True, slots=True)
class Signer:
    user_id: uuid.UUID | None
    subjects: tuple[str, ...] = ()


async def _signers(services: Services, job: ClassJobRow) -> dict[str, list[Signer]]:
    """Who signs a document of the class, by role: its subject teachers of the period (each
    once, with the subjects they teach), its homeroom teacher, the leader who locked (or
    approved the correction), and the seal."""
    klass = await services.records.class_(job.class_id, acting_for=job.acting_for)
    assignments = await services.records.assignments(job.class_id, acting_for=job.acting_for)
    terms = (
        {Term.TERM_1.value, Term.TERM_2.value} if job.period == Term.YEAR.value else {job.period}
    )
    subjects: dict[uuid.UUID, list[str]] = {}
    for a in sorted(assignments, key=lambda a: (a["subject"], a["term"])):
        if a["term"] in terms:
            taught = subjects.setdefault(uuid.UUID(a["teacher_id"]), [])
            if a["subject"] not in taught:
                taught.append(a["subject"])
    homeroom = klass.get("homeroom_teacher_id")
    return {
        "subject_teacher": [Signer(t, tuple(s)) for t, s in subjects.items()],
        "homeroom_teacher": [Signer(uuid.UUID(homeroom))] if homeroom else [],
        "school_leader": [Signer(job.acting_for)],
        "school_seal": [Signer(None)],
    }


def _slot_of(
    role: str, signer: Signer, slots: list[render.SignatureSlot]
) -> render.SignatureSlot | None:
    """The printed box a signer stamps: a subject teacher's first subject's box, else the
    role's own."""
    for subject in signer.subjects:
        for slot in slots:
            if slot.field == f"{role}.{subject}":
                return slot
    return next((s for s in slots if s.field == role), None)


def _signing_body(
    job: ClassJobRow,
    version_id: uuid.UUID,
    doc: render.RenderedDocument,
    chain: list[str],
    people: dict[str, list[Signer]],
) -> dict[str, object]:
    signers: list[dict[str, object]] = []
    last_page = max(doc.pages - 1, 0)
    for role in chain:
        for i, person in enumerate(people.get(role, [])):
            slot = _slot_of(role, person, doc.signature_fields)
            signers.append(
                {
                    "role": role,
                    "user_id": str(person.user_id) if person.user_id else None,
                    "field": f"{role}_{i + 1}",
                    "page": slot.page if slot else last_page,
                    "box": list(slot.box) if slot else None,
                }
            )
    return {
        "document_id": str(version_id),
        "kind": doc.kind,
        "title": doc.title,
        "school_id": str(job.school_id),
        "school_year": job.school_year,
        "term": job.period,
        "class_id": str(job.class_id),
        "student_id": str(doc.student_id) if doc.student_id else None,
        "document": base64.b64encode(doc.pdf).decode(),
        "signers": signers,
    }


def _render(
    job: ClassJobRow,
    snapshot: render.Snapshot,
    school: render.SchoolInfo,
    refs: Callable[[render.RenderedKind, uuid.UUID | None], render.DocumentRef],
) -> list[render.RenderedDocument]:
    """The class's documents; a correction's: its student's transcript and the class's own."""
    if job.student_id is None:
        return render.documents_for(snapshot, school, refs)
    grade = int(snapshot.data["class"]["grade"])
    kind: render.RenderedKind = "class_summary" if grade in PRIMARY_GRADES else "tracking_book"
    own = render.render_class_summary if kind == "class_summary" else render.render_tracking_book
    made = [own(snapshot, school, refs(kind, None))]
    if job.period == Term.YEAR.value:
        made.append(
            render.render_transcript(
                snapshot, job.student_id, school, refs("transcript", job.student_id)
            )
        )
    return made


@dataclass(frozen=True, slots=True)
class Opened:
    """A rendered document whose signing request is open, to be recorded."""

    key: DocumentKey
    version_id: uuid.UUID
    request_id: uuid.UUID
    rendered_sha256: str
    title: str
    twin: bytes


async def run_class_job(
    job_id: uuid.UUID, services: Services, uow_factory: Callable[[], ArchiveUnitOfWork]
) -> None:
    """Render the class's documents and open their signing requests; raises on failure (the
    caller records it and backs off)."""
    uow = uow_factory()
    async with uow:
        job = await uow.session.get(ClassJobRow, job_id)
        assert job is not None
        school = await _school(uow, job.school_id)
    snapshot = await services.records.snapshot(
        job.class_id, job.period, job.snapshot_version, acting_for=job.acting_for
    )
    keys: dict[tuple[str, uuid.UUID | None], tuple[uuid.UUID, DocumentKey]] = {}

    year, period, class_id, version = (
        job.school_year,
        job.period,
        job.class_id,
        job.snapshot_version,
    )

    def refs(kind: render.RenderedKind, student_id: uuid.UUID | None) -> render.DocumentRef:
        key = DocumentKey(DocumentKind(kind), year, period, class_id, student_id)
        version_id = version_id_of(key.document_id, version)
        keys[kind, student_id] = (version_id, key)
        return render.DocumentRef(version_id, kind, services.verify_url)

    # Typst compiles on a thread: a class is seconds of CPU the event loop must not wait on.
    rendered = await asyncio.to_thread(_render, job, snapshot, school, refs)
    chain = await services.signing.chain(job.province_id, acting_for=job.acting_for)
    people = await _signers(services, job)
    opened: list[Opened] = []
    for doc in rendered:
        version_id, key = keys[doc.kind, doc.student_id]
        body = _signing_body(job, version_id, doc, chain.get(doc.kind, []), people)
        request_id = await services.signing.open_request(body, acting_for=job.acting_for)
        opened.append(
            Opened(
                key,
                version_id,
                request_id,
                hashlib.sha256(doc.pdf).hexdigest(),
                doc.title,
                doc.twin,
            )
        )
    uow = uow_factory()
    async with uow:
        job = await uow.session.get(ClassJobRow, job_id, with_for_update=True)
        assert job is not None
        for o in opened:
            key, version_id = o.key, o.version_id
            document = await uow.session.get(DocumentRow, key.document_id, with_for_update=True)
            if document is None:
                document = DocumentRow(
                    id=key.document_id,
                    kind=key.kind.value,
                    school_id=job.school_id,
                    district_id=job.district_id,
                    province_id=job.province_id,
                    school_year=job.school_year,
                    period=job.period,
                    class_id=job.class_id,
                    student_id=key.student_id,
                    title=o.title,
                    latest_version=0,
                )
                uow.session.add(document)
                await uow.session.flush()
            if await uow.session.get(DocumentVersionRow, version_id) is not None:
                continue  # a retry after a crash between opening and recording
            document.latest_version += 1
            uow.session.add(
                DocumentVersionRow(
                    id=version_id,
                    document_id=document.id,
                    version=document.latest_version,
                    snapshot_version=job.snapshot_version,
                    snapshot_sha256=snapshot.data_sha256,
                    class_job_id=job.id,
                    rule_set=snapshot.data.get("rule_set"),
                    rule_version=snapshot.data.get("rule_version"),
                    rendered_sha256=o.rendered_sha256,
                    twin=o.twin,
                    state=SIGNING,
                    signing_request_id=o.request_id,
                    attempts=0,
                )
            )
        job.state = DONE
        job.done_at = utcnow()
        job.last_error = None
        await uow.commit()


# --- 4. a signed version: into object storage under retention


def prefix_of(document: DocumentRow, version: int) -> str:
    """Keys by province / school / year / record type, then the document and its version."""
    subject = document.student_id or document.class_id
    return (
        f"{document.province_id}/{document.school_id}/{document.school_year}/{document.kind}/"
        f"{document.period}/{subject}/{document.id}/v{version}/"
    )


async def run_store(
    version_id: uuid.UUID, services: Services, uow_factory: Callable[[], ArchiveUnitOfWork]
) -> None:
    uow = uow_factory()
    async with uow:
        version = await uow.session.get(DocumentVersionRow, version_id)
        assert version is not None
        assert version.signing_request_id is not None
        document = await uow.session.get(DocumentRow, version.document_id)
        job = await uow.session.get(ClassJobRow, version.class_job_id)
        assert document is not None
        assert job is not None
        previous = await uow.session.scalar(
            select(PackageRow.id)
            .where(PackageRow.document_id == document.id, PackageRow.version < version.version)
            .order_by(PackageRow.version.desc())
            .limit(1)
        )
    signed = await services.signing.document(version.signing_request_id, acting_for=job.acting_for)
    request = await services.signing.request(version.signing_request_id, acting_for=job.acting_for)
    now = utcnow()
    retention = retention_for(RecordType(document.kind), now)
    package_id = uuid.uuid5(version.id, "package")
    prefix = prefix_of(document, version.version)
    files = {"data/document.pdf": (signed, PDF), "data/twin.json": (version.twin, JSON)}
    entries = [file_entry(path, content, media) for path, (content, media) in files.items()]
    manifest = Manifest(
        package_id=str(package_id),
        document_id=str(document.id),
        document_kind=document.kind,
        version=version.version,
        school_id=str(document.school_id),
        school_year=document.school_year,
        period=document.period,
        class_id=str(document.class_id),
        student_id=str(document.student_id) if document.student_id else None,
        snapshot_version=version.snapshot_version,
        snapshot_sha256=version.snapshot_sha256,
        audit_head=job.audit_head,
        rule_set=version.rule_set,
        rule_version=version.rule_version,
        signing_request_id=str(version.signing_request_id),
        signatures=[
            {
                "position": s["position"],
                "role": s["role"],
                "user_id": s["user_id"],
                "signed_at": s["signed_at"],
                "certificate_sha256": s["certificate_sha256"],
            }
            for s in request["steps"]
        ],
        retention={
            "mode": retention.mode.value,
            "until": retention.until.isoformat(),
            "legal_hold": retention.legal_hold,
            "basis": RETENTION_TABLE.legal_basis,
            "table": RETENTION_TABLE.version,
        },
        files=entries,
        created_at=now,
        supersedes_package_id=str(previous) if previous else None,
    )
    manifest_bytes = manifest.to_json()
    files["manifest.json"] = (manifest_bytes, JSON)
    metadata = {"package-id": str(package_id), "document-id": str(document.id)}
    stored: dict[str, StoredObject] = {}
    for path, (content, media) in files.items():
        stored[path] = await asyncio.to_thread(
            functools.partial(
                services.store.put,
                prefix + path,
                content,
                content_type=media,
                retention=retention,
                metadata=metadata,
            )
        )
    # The cloud copy (when configured) gets the same bytes under the same retention; a replica
    # that is down delays the package, so a stored package always has its copy.
    replicated: dict[str, StoredObject] = {}
    if services.replica is not None:
        for path, (content, media) in files.items():
            replicated[path] = await asyncio.to_thread(
                functools.partial(
                    services.replica.put,
                    prefix + path,
                    content,
                    content_type=media,
                    retention=retention,
                    metadata=metadata,
                )
            )
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    uow = uow_factory()
    async with uow:
        version = await uow.session.get(DocumentVersionRow, version_id, with_for_update=True)
        assert version is not None
        if version.state == STORED:
            return  # another worker finished it; its objects are the ones recorded
        uow.session.add(
            PackageRow(
                id=package_id,
                document_id=document.id,
                document_version_id=version.id,
                version=version.version,
                kind=document.kind,
                school_id=document.school_id,
                school_year=document.school_year,
                period=document.period,
                class_id=document.class_id,
                student_id=document.student_id,
                supersedes_package_id=previous,
                prefix=prefix,
                manifest_sha256=manifest_sha,
                document_sha256=hashlib.sha256(signed).hexdigest(),
                size_bytes=sum(len(c) for c, _ in files.values()),
                retain_until=retention.until,
                legal_hold=retention.legal_hold,
                retention_basis=RETENTION_TABLE.legal_basis,
                stored_at=now,
            )
        )
        await uow.session.flush()
        for path, put in stored.items():
            uow.session.add(
                PackageObjectRow(
                    package_id=package_id,
                    path=path,
                    key=put.key,
                    version_id=put.version_id,
                    sha256=put.sha256,
                    size=put.size,
                    media_type=files[path][1],
                    replica_version_id=replicated[path].version_id if path in replicated else None,
                    replicated_at=now if path in replicated else None,
                )
            )
        version.state = STORED
        version.stored_at = now
        version.last_error = None
        uow.emit(
            PackageStored(
                package_id=package_id,
                document_id=document.id,
                document_kind=DocumentKind(document.kind),
                version=version.version,
                supersedes_package_id=previous,
                signing_request_id=version.signing_request_id,
                school_id=document.school_id,
                district_id=document.district_id,
                province_id=document.province_id,
                school_year=document.school_year,
                term=Term(document.period),
                class_id=document.class_id,
                student_id=document.student_id,
                document_sha256=hashlib.sha256(signed).hexdigest(),
                manifest_sha256=manifest_sha,
                size_bytes=sum(len(c) for c, _ in files.values()),
                retain_until=None if retention.legal_hold else retention.until.date(),
                retention_basis=RETENTION_TABLE.legal_basis,
                stored_at=now,
            )
        )
        await uow.commit()


# --- the worker's loop


Step = TypeVar("Step", ClassJobRow, DocumentVersionRow)


async def _claim(
    uow_factory: Callable[[], ArchiveUnitOfWork], model: type[Step], state: str
) -> uuid.UUID | None:
    uow = uow_factory()
    async with uow:
        row = await uow.session.scalar(
            select(model)
            .where(model.state == state, model.next_attempt_at <= utcnow())
            .order_by(model.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return None
        # Pushed back while it runs: another worker skips it; a crash makes it due again.
        row.next_attempt_at = next_attempt(utcnow(), max(row.attempts, 1) + 3)
        await uow.commit()
        return row.id


async def _failed(
    uow_factory: Callable[[], ArchiveUnitOfWork],
    model: type[Step],
    row_id: uuid.UUID,
    error: Exception,
) -> None:
    uow = uow_factory()
    async with uow:
        row = await uow.session.get(model, row_id, with_for_update=True)
        if row is not None:
            row.attempts += 1
            row.next_attempt_at = next_attempt(utcnow(), row.attempts)
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            await uow.commit()


async def _drain(
    uow_factory: Callable[[], ArchiveUnitOfWork],
    model: type[Step],
    state: str,
    step: Callable[[uuid.UUID], Awaitable[None]],
) -> int:
    done = 0
    while (row_id := await _claim(uow_factory, model, state)) is not None:
        try:
            await step(row_id)
        except (ServiceUnavailableError, ServiceRefusedError, StoreError, OSError) as error:
            logger.warning("archive step failed, will retry: %s", error)
            await _failed(uow_factory, model, row_id, error)
            continue
        done += 1
    return done


async def run_once(services: Services, uow_factory: Callable[[], ArchiveUnitOfWork]) -> int:
    """Every due step, once; how many were done."""
    rendered = await _drain(
        uow_factory, ClassJobRow, PENDING, lambda i: run_class_job(i, services, uow_factory)
    )
    stored = await _drain(
        uow_factory, DocumentVersionRow, SIGNED, lambda i: run_store(i, services, uow_factory)
    )
    return rendered + stored


async def run_pipeline(
    services: Services,
    uow_factory: Callable[[], ArchiveUnitOfWork],
    every_seconds: float,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        try:
            await run_once(services, uow_factory)
        except Exception:  # a bad row must not stop the loop; it is logged and retried
            logger.exception("archive pipeline step failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
        except TimeoutError:
            continue
