"""What every rendered PDF is made of: PDF/A-3b declared, fonts embedded, the QR code's URL
linked and printed on the first page, the JSON twin embedded and equal to its source, and the
signature boxes on the last page where their labels are printed."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import segno
from pypdf import PdfReader

from archive.render import (
    DocumentRef,
    RenderedDocument,
    Snapshot,
    SnapshotIntegrityError,
    documents_for,
    read_twin,
    render_class_summary,
    render_tracking_book,
    render_transcript,
)
from archive.render.documents import page_count
from archive.render.snapshot import canonical_json, sha256_hex
from archive.render.testing import Rendered, collapsed, pdftotext, verify_url
from archive.render.twin import TWIN_NAME, TwinMissingError
from common.events.signing import SignerRole

FIELD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # what signing accepts


def _reader(document: RenderedDocument) -> PdfReader:
    return PdfReader(BytesIO(document.pdf))


def _root(reader: PdfReader) -> Any:
    return reader.trailer["/Root"]


def _xmp(reader: PdfReader) -> str:
    root = _root(reader)
    return str(root["/Metadata"].get_object().get_data().decode("utf-8"))


def test_every_document_declares_pdf_a_3b(rendered: Rendered) -> None:
    for document in rendered.documents:
        xmp = _xmp(_reader(document))
        assert "<pdfaid:part>3</pdfaid:part>" in xmp, document.title
        assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp, document.title
        assert document.title in xmp  # dc:title
        assert _root(_reader(document)).get("/OutputIntents")


def _fonts(resources: Any, seen: set[int]) -> list[Any]:
    """Every font of a resource dictionary and of the forms it draws, once."""
    found: list[Any] = []
    if resources is None:
        return found
    resources = resources.get_object()
    for ref in (resources.get("/Font") or {}).values():
        font = ref.get_object()
        if id(font) not in seen:
            seen.add(id(font))
            found.append(font)
    for ref in (resources.get("/XObject") or {}).values():
        xobject = ref.get_object()
        if xobject.get("/Subtype") == "/Form":
            found += _fonts(xobject.get("/Resources"), seen)
    return found


def test_every_font_is_embedded(rendered: Rendered) -> None:
    for document in rendered.documents:
        reader = _reader(document)
        seen: set[int] = set()
        fonts = [f for page in reader.pages for f in _fonts(page.get("/Resources"), seen)]
        assert fonts, document.title
        for font in fonts:
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor: Any = target["/FontDescriptor"].get_object()
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), (
                document.title,
                font.get("/BaseFont"),
            )


def test_the_first_page_links_and_prints_the_verification_url(rendered: Rendered) -> None:
    for document in rendered.documents:
        url = rendered.ref_of(document).verify_url
        page = _reader(document).pages[0]
        uris = [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", [])]
        assert url in uris  # the QR code and the printed URL are both links
        first_page = pdftotext(document.pdf, "-layout", "-f", "1", "-l", "1")
        assert f"Xác thực tại: {url}" in first_page
        assert str(rendered.ref_of(document).document_id) in first_page


def _gray_pixels(pdf: bytes, box: tuple[float, ...], dpi: int) -> list[bytes]:
    """Rows of 8-bit gray pixels of ``box`` (PDF points) on page 1, rendered by pdftoppm."""
    page_height = float(_reader_of(pdf).pages[0].mediabox.height)
    scale = dpi / 72
    x1, y1, x2, y2 = box
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.pdf", Path(folder) / "out"
        source.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm", "-f", "1", "-l", "1", "-r", str(dpi), "-gray", "-singlefile",
                "-x", str(round(x1 * scale)), "-y", str(round((page_height - y2) * scale)),
                "-W", str(round((x2 - x1) * scale)), "-H", str(round((y2 - y1) * scale)),
                str(source), str(target),
            ],
            check=True,
        )  # fmt: skip
        raw = (Path(folder) / "out.pgm").read_bytes()
    magic, width, height, depth, pixels = raw.split(maxsplit=4)
    assert (magic, depth) == (b"P5", b"255")
    w, h = int(width), int(height)
    return [pixels[r * w : (r + 1) * w] for r in range(h)]


def _reader_of(pdf: bytes) -> PdfReader:
    return PdfReader(BytesIO(pdf))


def test_the_qr_code_on_the_first_page_encodes_the_verification_url(rendered: Rendered) -> None:
    for document in rendered.documents:
        url = rendered.ref_of(document).verify_url
        page = _reader(document).pages[0]
        links = [a.get_object() for a in page.get("/Annots", [])]
        boxes = [tuple(float(v) for v in a["/Rect"]) for a in links if a["/A"]["/URI"] == url]
        # The QR code is the square link; the printed URL is the other one.
        (box,) = [b for b in boxes if abs((b[2] - b[0]) - (b[3] - b[1])) < 1]
        matrix = segno.make(url, error="m").matrix
        rows = _gray_pixels(document.pdf, box, dpi=288)
        size = len(matrix)
        cell_w, cell_h = len(rows[0]) / size, len(rows) / size
        seen = [
            [rows[int((r + 0.5) * cell_h)][int((c + 0.5) * cell_w)] < 128 for c in range(size)]
            for r in range(size)
        ]
        assert seen == [[bool(m) for m in line] for line in matrix], document.title


def test_the_twin_read_back_is_the_data_it_was_rendered_from(rendered: Rendered) -> None:
    snapshot = rendered.snapshot
    for document in rendered.documents:
        twin = read_twin(document.pdf)
        assert twin == json.loads(document.twin)
        assert document.twin == canonical_json(twin)  # canonical: sorted keys, no spaces
        expected = dict(snapshot.data)
        if document.kind == "transcript":
            assert document.student_id is not None
            expected["students"] = [rendered.student(document.student_id)]
        assert twin["data"] == expected
        assert twin["data_sha256"] == sha256_hex(canonical_json(expected))
        assert twin["rule_set"] == snapshot.data["rule_set"]
        assert twin["rule_version"] == snapshot.data["rule_version"]
        assert twin["snapshot"]["data_sha256"] == snapshot.data_sha256
        assert twin["snapshot"]["version"] == snapshot.version
        assert twin["snapshot"]["class_id"] == str(snapshot.class_id)
        ref = rendered.ref_of(document)
        assert twin["document"]["id"] == str(ref.document_id)
        assert twin["document"]["kind"] == document.kind
        assert twin["document"]["title"] == document.title
        assert (twin["schema"], twin["schema_version"]) == ("vn.hsdt.archive.twin", 1)
        assert twin["printed"]["title"]  # what was printed goes with the data


def test_the_twin_is_an_associated_file_with_relationship_data(rendered: Rendered) -> None:
    root = _root(_reader(rendered.documents[0]))
    (spec,) = [f.get_object() for f in root["/AF"]]
    assert spec["/AFRelationship"] == "/Data"
    assert spec["/UF"] == TWIN_NAME
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/application/json"
    assert stream.get_data() == rendered.documents[0].twin


def test_a_pdf_without_a_twin_says_so() -> None:
    empty = BytesIO()
    from pypdf import PdfWriter  # noqa: PLC0415

    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.write(empty)
    with pytest.raises(TwinMissingError):
        read_twin(empty.getvalue())


def _word_boxes(pdf: bytes, page: int) -> list[tuple[str, float, float, float, float]]:
    """(word, x1, y1, x2, y2) of one page (1-based) in PDF points from the bottom-left."""
    html = pdftotext(pdf, "-bbox", "-f", str(page), "-l", str(page))
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    )
    return [
        (w, float(x1), height - float(y2), float(x2), height - float(y1))
        for x1, y1, x2, y2, w in words
    ]


def _label_above(
    words: list[tuple[str, float, float, float, float]], label: str, box: tuple[int, ...]
) -> bool:
    """The label's words sit inside the box's columns, within 25 pt above its top edge."""
    x1, _, x2, top = box
    near = [w for w in words if x1 - 1 <= w[1] and w[3] <= x2 + 1 and top <= w[2] <= top + 25]
    return collapsed(label) in " ".join(w[0] for w in near)


def test_signature_boxes_are_on_the_last_page_under_their_labels(rendered: Rendered) -> None:
    for document in rendered.documents:
        reader = _reader(document)
        assert document.pages == len(reader.pages) == page_count(document.pdf)
        last = reader.pages[-1]
        width, height = float(last.mediabox.width), float(last.mediabox.height)
        slots = document.signature_fields
        roles = [s.role for s in slots]
        assert roles[-3:] == [
            SignerRole.HOMEROOM_TEACHER,
            SignerRole.SCHOOL_LEADER,
            SignerRole.SCHOOL_SEAL,
        ]
        words = _word_boxes(document.pdf, document.pages)
        for slot in slots:
            assert slot.page == document.pages - 1
            x1, y1, x2, y2 = slot.box
            assert 0 <= x1 < x2 <= width, slot
            assert 0 <= y1 < y2 <= height, slot
            assert FIELD_NAME.match(slot.field)
            assert _label_above(words, slot.label, slot.box), (document.title, slot)
        assert len({s.field for s in slots}) == len(slots)
        for i, a in enumerate(slots):
            for b in slots[i + 1 :]:
                apart = a.box[2] <= b.box[0] or b.box[2] <= a.box[0]
                apart |= a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
                assert apart, (a, b)


def test_who_signs_depends_on_the_level(primary: Rendered, secondary: Rendered) -> None:
    for document in primary.documents:
        # DOMAIN §2.8: the homeroom teacher and the principal sign, the school seals.
        assert [s.field for s in document.signature_fields] == [
            "homeroom_teacher",
            "school_leader",
            "school_seal",
        ]
    for document in secondary.documents:
        # DOMAIN §1.11: each subject teacher confirms their subject's results too.
        subjects = [s for s in document.signature_fields if s.role is SignerRole.SUBJECT_TEACHER]
        assert [s.field for s in subjects][:3] == [
            "subject_teacher.ngu_van",
            "subject_teacher.toan",
            "subject_teacher.ngoai_ngu_1",
        ]
        assert len(subjects) == 12


def test_documents_for_a_class_follow_its_level(primary: Rendered, secondary: Rendered) -> None:
    for rendered, book in ((primary, "class_summary"), (secondary, "tracking_book")):
        at_end = {s["student_id"] for s in rendered.data["students"] if s["in_class_at_end"]}
        kinds = [d.kind for d in rendered.documents]
        assert kinds == ["transcript"] * len(at_end) + [book]
        assert {str(d.student_id) for d in rendered.transcripts()} == at_end
        assert all(d.title for d in rendered.documents)
        assert {r.kind for r in rendered.refs.values()} == {"transcript", book}


def _relocked(snapshot: Snapshot, period: str) -> Snapshot:
    data = {**snapshot.data, "period": period}
    return snapshot.model_copy(
        update={"data": data, "period": period, "data_sha256": sha256_hex(canonical_json(data))}
    )


def test_a_term_lock_gives_the_class_document_only(secondary: Rendered) -> None:
    term = _relocked(secondary.snapshot, "term_1")
    made: list[str] = []

    def refs(kind: Any, student_id: uuid.UUID | None) -> DocumentRef:
        made.append(kind)
        document_id = uuid.uuid4()
        return DocumentRef(document_id, kind, verify_url(document_id))

    (document,) = documents_for(term, secondary.school, refs)
    assert made == ["tracking_book"]
    text = collapsed(pdftotext(document.pdf))
    assert "Học kỳ II" not in text.split("Danh sách học sinh", 1)[1].split("XÁC NHẬN")[0]


def test_a_snapshot_that_does_not_match_its_hash_is_refused(secondary: Rendered) -> None:
    data = json.loads(json.dumps(secondary.snapshot.data))
    data["students"][0]["full_name"] = "Nguyễn Văn Giả"
    forged = secondary.snapshot.model_copy(update={"data": data})
    ref = DocumentRef(uuid.uuid4(), "tracking_book", verify_url(uuid.uuid4()))
    with pytest.raises(SnapshotIntegrityError):
        render_tracking_book(forged, secondary.school, ref)


def test_a_document_of_the_wrong_kind_or_level_is_refused(
    primary: Rendered, secondary: Rendered
) -> None:
    student = uuid.UUID(primary.data["students"][0]["student_id"])
    with pytest.raises(ValueError, match="not a transcript"):
        render_transcript(
            primary.snapshot,
            student,
            primary.school,
            DocumentRef(uuid.uuid4(), "class_summary", "https://x.vn/v"),
        )
    with pytest.raises(ValueError, match="tracking book"):
        render_class_summary(
            secondary.snapshot,
            secondary.school,
            DocumentRef(uuid.uuid4(), "class_summary", "https://x.vn/v"),
        )
    with pytest.raises(ValueError, match="class summary"):
        render_tracking_book(
            primary.snapshot,
            primary.school,
            DocumentRef(uuid.uuid4(), "tracking_book", "https://x.vn/v"),
        )


def test_the_same_inputs_render_the_same_bytes(secondary: Rendered) -> None:
    document = secondary.transcripts()[0]
    ref = secondary.ref_of(document)
    assert document.student_id is not None
    at = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)
    again = render_transcript(secondary.snapshot, document.student_id, secondary.school, ref, at=at)
    assert again.pdf == document.pdf
    assert again.twin == document.twin
