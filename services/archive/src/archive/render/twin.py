"""The JSON twin of a rendered document: what it prints, machine-readable, inside the PDF.

Embedded as an associated file of the document (PDF/A-3, ``AFRelationship /Data``), it holds
the snapshot data the document was rendered from (a transcript: its one student), exactly as
records locked it, the printed content, and what a reader needs to check it against records:
the rule set and its version, the snapshot's class, period, version and SHA-256, and the
document's id and kind. Canonical JSON (sorted keys, no spaces, UTF-8), so equal content gives
equal bytes.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any, Final

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject

from archive.render.snapshot import Snapshot, canonical_json, sha256_hex

SCHEMA: Final = "vn.hsdt.archive.twin"
SCHEMA_VERSION: Final = 1
TWIN_NAME: Final = "hsdt-twin.json"
TWIN_DESCRIPTION: Final = "Dữ liệu của tài liệu (JSON), trích từ dữ liệu khóa sổ"


class TwinMissingError(LookupError):
    """The PDF carries no JSON twin."""


def build_twin(
    snapshot: Snapshot,
    document: dict[str, Any],
    school: dict[str, Any],
    data: dict[str, Any],
    printed: dict[str, Any],
) -> dict[str, Any]:
    """The twin as a dict; ``data`` is the snapshot data (or its slice) the document shows."""
    source = snapshot.data
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "document": document,
        "school": school,
        "rule_set": source.get("rule_set"),
        "rule_version": source.get("rule_version"),
        "snapshot": {
            "class_id": str(snapshot.class_id),
            "period": snapshot.period,
            "version": snapshot.version,
            "data_sha256": snapshot.data_sha256,
            "lock_id": None if snapshot.lock_id is None else str(snapshot.lock_id),
            "correction_id": None
            if snapshot.correction_id is None
            else str(snapshot.correction_id),
        },
        "data": data,
        "data_sha256": sha256_hex(canonical_json(data)),
        "printed": printed,
    }


def twin_bytes(twin: dict[str, Any]) -> bytes:
    return canonical_json(twin)


def _associated_names(reader: PdfReader) -> list[str]:
    """Names of the document-level associated files whose relationship is Data."""
    root = reader.trailer["/Root"]
    assert isinstance(root, DictionaryObject)
    files = root.get("/AF")
    if files is None:
        return []
    found = []
    for ref in files.get_object() if isinstance(files.get_object(), ArrayObject) else []:
        spec = ref.get_object()
        if spec.get("/AFRelationship") == "/Data":
            found.append(str(spec.get("/UF") or spec.get("/F")))
    return found


def read_twin(pdf: bytes) -> dict[str, Any]:
    """The twin embedded in ``pdf`` (an associated file with relationship Data)."""
    reader = PdfReader(BytesIO(pdf))
    if TWIN_NAME not in _associated_names(reader):
        raise TwinMissingError(f"no associated file {TWIN_NAME!r} with relationship Data")
    contents = reader.attachments.get(TWIN_NAME)
    if not contents:
        raise TwinMissingError(f"{TWIN_NAME!r} is associated but not embedded")
    twin: dict[str, Any] = json.loads(contents[0])
    return twin
