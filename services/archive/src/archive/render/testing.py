"""Test support for ``archive.render``: rendering a class's documents from a snapshot and
reading a PDF back as text with poppler's ``pdftotext`` (installed on the machine).

Like ``records.testing``, it lives with the code so every test module shares one copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.render.documents import (
    DocumentRef,
    RenderedDocument,
    RenderedKind,
    SchoolInfo,
    documents_for,
)
from archive.render.snapshot import Snapshot


def load_snapshot(path: Path) -> Snapshot:
    return Snapshot.model_validate(json.loads(path.read_text("utf-8")))


def pdftotext(pdf: bytes, *args: str) -> str:
    """poppler's text of ``pdf`` (``-layout`` unless other options are given)."""
    binary = shutil.which("pdftotext")
    if binary is None:
        raise FileNotFoundError("pdftotext (poppler-utils) is not installed")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        done = subprocess.run(  # noqa: S603 - our own file, a fixed binary
            [binary, *(args or ("-layout",)), file.name, "-"],
            check=True,
            capture_output=True,
        )
    return done.stdout.decode("utf-8")


def collapsed(text: str) -> str:
    """Runs of whitespace (line ends too) as one space: a wrapped cell reads as one text."""
    return " ".join(text.split())


@dataclass
class Rendered:
    """A class's snapshot and the documents ``documents_for`` made of it."""

    name: str
    snapshot: Snapshot
    school: SchoolInfo
    documents: list[RenderedDocument] = field(default_factory=list)
    refs: dict[uuid.UUID, DocumentRef] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        return self.snapshot.data

    def ref_of(self, document: RenderedDocument) -> DocumentRef:
        return self.refs[uuid.UUID(json.loads(document.twin)["document"]["id"])]

    def student(self, student_id: uuid.UUID) -> dict[str, Any]:
        return next(s for s in self.data["students"] if s["student_id"] == str(student_id))

    def transcripts(self) -> list[RenderedDocument]:
        return [d for d in self.documents if d.kind == "transcript"]

    def class_document(self) -> RenderedDocument:
        return next(d for d in self.documents if d.kind != "transcript")


def verify_url(document_id: uuid.UUID) -> str:
    return f"https://hocba.binhlam.edu.vn/xac-thuc/{document_id}?v=1"


def render_class(name: str, snapshot: Snapshot, school: SchoolInfo, at: datetime) -> Rendered:
    rendered = Rendered(name, snapshot, school)

    def refs(kind: RenderedKind, student_id: uuid.UUID | None) -> DocumentRef:
        document_id = uuid.uuid4()
        ref = DocumentRef(document_id, kind, verify_url(document_id))
        rendered.refs[document_id] = ref
        return ref

    rendered.documents = documents_for(snapshot, school, refs, at=at)
    return rendered
