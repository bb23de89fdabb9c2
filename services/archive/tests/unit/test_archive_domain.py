"""Archive's pure rules: the documents' stable ids, the BagIt-style manifest, and the back-off
of failed steps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from archive.domain.documents import DocumentKey
from archive.domain.manifest import Manifest, file_entry, verify
from archive.domain.retry import MAX_DELAY, next_attempt
from archive.pipeline import version_id_of
from common.events.archive import DocumentKind

CLASS = uuid.UUID("5b0d7a1e-1111-4c3e-9b11-000000000001")


def test_ids_are_stable_and_distinct() -> None:
    student = uuid.uuid4()
    a = DocumentKey(DocumentKind.TRANSCRIPT, "2025-2026", "year", CLASS, student)
    assert (
        a.document_id
        == DocumentKey(DocumentKind.TRANSCRIPT, "2025-2026", "year", CLASS, student).document_id
    )
    others = {
        DocumentKey(DocumentKind.TRANSCRIPT, "2025-2026", "term_1", CLASS, student).document_id,
        DocumentKey(DocumentKind.TRANSCRIPT, "2024-2025", "year", CLASS, student).document_id,
        DocumentKey(DocumentKind.TRACKING_BOOK, "2025-2026", "year", CLASS).document_id,
    }
    assert a.document_id not in others
    assert len(others) == 3
    # A version per snapshot: the same on a retry, another for the correction's snapshot.
    assert version_id_of(a.document_id, 1) == version_id_of(a.document_id, 1)
    assert version_id_of(a.document_id, 1) != version_id_of(a.document_id, 2)


def manifest(files: dict[str, bytes]) -> Manifest:
    return Manifest(
        package_id=str(uuid.uuid4()),
        document_id=str(uuid.uuid4()),
        document_kind="transcript",
        version=1,
        school_id=str(uuid.uuid4()),
        school_year="2025-2026",
        period="year",
        class_id=str(CLASS),
        student_id=None,
        snapshot_version=1,
        snapshot_sha256="a" * 64,
        audit_head="b" * 64,
        rule_set="tt22",
        rule_version="2021.1",
        signing_request_id=None,
        signatures=[],
        retention={"mode": "COMPLIANCE"},
        files=[file_entry(p, c, "application/octet-stream") for p, c in files.items()],
        created_at=datetime(2026, 6, 1, tzinfo=UTC),
    )


def test_the_manifest_is_canonical_and_finds_a_changed_or_missing_file() -> None:
    files = {"data/document.pdf": b"%PDF-1.7 ...", "data/twin.json": b'{"a": 1}'}
    made = manifest(files)
    assert made.to_json() == made.to_json()
    body = json.loads(made.to_json())
    assert body["bagit"]["payload-oxum"] == f"{sum(len(c) for c in files.values())}.2"
    assert verify(made.to_json(), files) == []
    assert verify(made.to_json(), {**files, "data/twin.json": b'{"a": 2}'}) == ["data/twin.json"]
    assert verify(made.to_json(), {"data/twin.json": files["data/twin.json"]}) == [
        "data/document.pdf"
    ]


@given(st.integers(min_value=1, max_value=60))
def test_back_off_grows_and_stops_at_the_ceiling(attempts: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delay = next_attempt(now, attempts) - now
    assert timedelta(seconds=5) <= delay <= MAX_DELAY
    assert next_attempt(now, attempts + 1) - now >= delay
