"""The official records of a locked term, rendered from a records snapshot as PDF/A-3b.

- ``render_transcript``: the học bạ of one student (primary, TT 27, DOMAIN §2.8; secondary,
  TT 22, §1.11), one school year;
- ``render_tracking_book``: a secondary class's sổ theo dõi và đánh giá học sinh;
- ``render_class_summary``: a primary class's bảng tổng hợp kết quả đánh giá giáo dục;
- ``documents_for``: what a locked class needs, chosen by its level.

Each document carries a QR code of its verification URL on the first page, its JSON twin as an
associated file, and empty boxes on its last page where the signers' stamps go
(``signature_fields``, in PDF points from the bottom-left corner).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, Final, Literal

from pypdf import PdfReader

from archive.render import primary, secondary
from archive.render.blocks import Body, nfc
from archive.render.common import PERIOD_NAMES
from archive.render.engine import compile_pdf, qr_svg
from archive.render.layout import (
    A4_LANDSCAPE,
    A4_PORTRAIT,
    MARGINS,
    SignatureSlot,
    signature_block,
)
from archive.render.snapshot import Snapshot, SnapshotData, parse
from archive.render.twin import TWIN_DESCRIPTION, TWIN_NAME, build_twin, twin_bytes

RenderedKind = Literal["transcript", "tracking_book", "class_summary"]
PLACE_LINE: Final = "Ngày ...... tháng ...... năm ..........."
_PAGES: Final = re.compile(rb"<<\s*/Type\s*/Pages\s*/Count\s+(\d+)\b")


@dataclass(frozen=True, slots=True)
class SchoolInfo:
    """The school as its documents name it (records' snapshot holds only its id)."""

    name: str
    code: str
    province_name: str
    district_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "code": self.code,
            "province_name": self.province_name,
            "district_name": self.district_name,
        }


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """The archive's identity of a document to render and where it is verified."""

    document_id: uuid.UUID
    kind: RenderedKind
    verify_url: str


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    kind: RenderedKind
    student_id: uuid.UUID | None
    title: str  # Vietnamese
    pdf: bytes  # PDF/A-3b
    twin: bytes  # canonical JSON, also embedded in ``pdf``
    signature_fields: list[SignatureSlot] = field(default_factory=list)
    pages: int = 0


RefsFactory = Callable[[RenderedKind, uuid.UUID | None], DocumentRef]


def _check_kind(ref: DocumentRef, kind: RenderedKind) -> None:
    if ref.kind != kind:
        raise ValueError(f"document {ref.document_id} is a {ref.kind}, not a {kind}")


def page_count(pdf: bytes) -> int:
    """The page tree's /Count. Typst writes the tree first (``1 0 obj <</Type/Pages/Count n``);
    reading it there spares parsing the cross-reference table of a tagged PDF's thousands of
    objects (~10 ms for a class book); any other layout is read with pypdf."""
    found = _PAGES.search(pdf, 0, 1024)
    if found is not None:
        return int(found.group(1))
    root: Any = PdfReader(BytesIO(pdf)).trailer["/Root"]
    return int(root["/Pages"]["/Count"])


def _render(  # noqa: PLR0917 - the parts of one rendering
    snapshot: Snapshot,
    data: SnapshotData,
    school: SchoolInfo,
    ref: DocumentRef,
    body: Body,
    shown: dict[str, Any],
    title: str,
    student_id: uuid.UUID | None,
    template: str,
    at: datetime | None,
) -> RenderedDocument:
    page = A4_LANDSCAPE if body.landscape else A4_PORTRAIT
    block = signature_block(page, body.subject_slots, body.main_slots, PLACE_LINE)
    printed = body.view()
    document = {
        "id": str(ref.document_id),
        "kind": ref.kind,
        "title": title,
        "student_id": None if student_id is None else str(student_id),
        "class_id": str(data.class_.id),
        "school_year": data.school_year,
        "verify_url": ref.verify_url,
    }
    twin = twin_bytes(build_twin(snapshot, document, school.as_dict(), shown, printed))
    authority = [nfc(school.province_name)]
    if school.district_name:
        authority.append(nfc(school.district_name))
    view = {
        "title": title,
        "author": nfc(school.name),
        "keywords": [
            "HSĐT",
            ref.kind,
            str(ref.document_id),
            f"snapshot {snapshot.class_id}/{snapshot.period}/v{snapshot.version}",
            f"sha256 {snapshot.data_sha256}",
        ],
        "page": {
            "width": page.width,
            "height": page.height,
            "margin": {
                "left": MARGINS.left,
                "right": MARGINS.right,
                "top": MARGINS.top,
                "bottom": MARGINS.bottom,
            },
        },
        "header": {
            "authority": authority,
            "school": nfc(school.name),
            "school_code": nfc(school.code),
            "document_id": str(ref.document_id),
            "verify_url": ref.verify_url,
        },
        "footer": f"{title} · Mã tài liệu: {ref.document_id}",
        "twin_name": TWIN_NAME,
        "twin_description": TWIN_DESCRIPTION,
        "body": printed,
        "signatures": block.view(),
    }
    inputs = {
        "view": json.dumps(view, ensure_ascii=False),
        "twin": twin.decode(),
        "qr": qr_svg(ref.verify_url),
    }
    pdf = compile_pdf(template, inputs, at or datetime.now(UTC))
    pages = page_count(pdf)
    return RenderedDocument(
        kind=ref.kind,
        student_id=student_id,
        title=title,
        pdf=pdf,
        twin=twin,
        signature_fields=block.slots(pages - 1),
        pages=pages,
    )


def _transcript(
    snapshot: Snapshot,
    data: SnapshotData,
    student_id: uuid.UUID,
    school: SchoolInfo,
    ref: DocumentRef,
    *,
    at: datetime | None,
) -> RenderedDocument:
    _check_kind(ref, "transcript")
    student = data.student(student_id)
    module = primary if data.primary else secondary
    body = module.transcript(data, student, nfc(school.name))
    shown = {**snapshot.data, "students": [data.raw_student(snapshot.data, student_id)]}
    title = (
        f"Học bạ – {nfc(student.full_name)} – lớp {nfc(data.class_.name)} – "
        f"năm học {data.school_year}"
    )
    return _render(snapshot, data, school, ref, body, shown, title, student_id, "transcript", at)


def render_transcript(
    snapshot: Snapshot,
    student_id: uuid.UUID,
    school: SchoolInfo,
    ref: DocumentRef,
    *,
    at: datetime | None = None,
) -> RenderedDocument:
    """The học bạ of one student of the snapshot's class, for the class's level."""
    return _transcript(snapshot, parse(snapshot), student_id, school, ref, at=at)


def _tracking_book(
    snapshot: Snapshot,
    data: SnapshotData,
    school: SchoolInfo,
    ref: DocumentRef,
    at: datetime | None,
) -> RenderedDocument:
    _check_kind(ref, "tracking_book")
    if data.primary:
        raise ValueError("a primary class keeps a class summary, not a tracking book")
    body = secondary.tracking_book(data, nfc(school.name))
    title = (
        f"Sổ theo dõi và đánh giá học sinh – lớp {nfc(data.class_.name)} – "
        f"năm học {data.school_year} – {PERIOD_NAMES[data.period].lower()}"
    )
    return _render(
        snapshot, data, school, ref, body, dict(snapshot.data), title, None, "class_book", at
    )


def render_tracking_book(
    snapshot: Snapshot, school: SchoolInfo, ref: DocumentRef, *, at: datetime | None = None
) -> RenderedDocument:
    """Sổ theo dõi và đánh giá học sinh of a secondary class, for the locked period."""
    return _tracking_book(snapshot, parse(snapshot), school, ref, at)


def _class_summary(
    snapshot: Snapshot,
    data: SnapshotData,
    school: SchoolInfo,
    ref: DocumentRef,
    at: datetime | None,
) -> RenderedDocument:
    _check_kind(ref, "class_summary")
    if not data.primary:
        raise ValueError("a secondary class keeps a tracking book, not a class summary")
    body = primary.class_summary(data, nfc(school.name))
    checkpoint = primary.CHECKPOINT_NAMES[primary.CHECKPOINT_OF_PERIOD[data.period]]
    title = (
        f"Bảng tổng hợp kết quả đánh giá giáo dục – lớp {nfc(data.class_.name)} – "
        f"năm học {data.school_year} – {checkpoint.lower()}"
    )
    return _render(
        snapshot, data, school, ref, body, dict(snapshot.data), title, None, "class_book", at
    )


def render_class_summary(
    snapshot: Snapshot, school: SchoolInfo, ref: DocumentRef, *, at: datetime | None = None
) -> RenderedDocument:
    """Bảng tổng hợp kết quả đánh giá giáo dục of a primary class, at the period's checkpoint."""
    return _class_summary(snapshot, parse(snapshot), school, ref, at)


def documents_for(
    snapshot: Snapshot,
    school: SchoolInfo,
    refs_factory: RefsFactory,
    *,
    at: datetime | None = None,
) -> list[RenderedDocument]:
    """Everything a locked class's period produces: for the year, a học bạ of every student in
    the class at its end (class-list order); always the class's book (secondary) or summary
    (primary). ``refs_factory(kind, student_id)`` names each document before it is rendered."""
    data = parse(snapshot)
    documents = []
    if data.period == "year":
        for student in data.in_name_order():
            if student.in_class_at_end:
                ref = refs_factory("transcript", student.student_id)
                documents.append(
                    _transcript(snapshot, data, student.student_id, school, ref, at=at)
                )
    if data.primary:
        documents.append(
            _class_summary(snapshot, data, school, refs_factory("class_summary", None), at)
        )
    else:
        documents.append(
            _tracking_book(snapshot, data, school, refs_factory("tracking_book", None), at)
        )
    return documents
