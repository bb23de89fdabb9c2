"""PAdES signing through the SoftHSM2 token and validation against the running test PKI."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.pkcs11 import PKCS11Signer

from signing.crypto import pades
from signing.crypto.errors import NotAPdf, RevocationUnavailable
from signing.crypto.pki import PkiSpec, create_test_pki
from signing.crypto.sample import SIGNATURE_BOXES, transcript_pdf
from signing.crypto.validation import validate
from signing.crypto_testing import SigningPki

STUDENT = "Đỗ Thị Ngọc Ánh"
SCHOOL = "Trường THCS Thử Nghiệm"
# label, name on the stamp, role, box on page 2 (index 1)
SIGNERS = (
    ("gv-toan", "Nguyễn Văn Toàn", "Giáo viên bộ môn", SIGNATURE_BOXES[0]),
    ("gv-cn", "Trần Thị Chủ Nhiệm", "Giáo viên chủ nhiệm", SIGNATURE_BOXES[1]),
    ("hieu-truong", "Lê Văn Hiệu", "Hiệu trưởng", SIGNATURE_BOXES[2]),
    ("school", "Trường THCS Thử Nghiệm", "Xác nhận của nhà trường", SIGNATURE_BOXES[3]),
)


def stamp(name: str, role: str = "Giáo viên bộ môn") -> pades.StampText:
    return pades.StampText(name=name, role=role, signed_at=datetime.now(UTC))


async def sign_as(
    signing_pki: SigningPki, pdf: bytes, label: str, field: str, *, tsa: bool = True
) -> bytes:
    return await pades.sign(
        pdf,
        signing_pki.signer(label),
        pades.Placement(field, page=1, box=SIGNATURE_BOXES[0]),
        stamp(signing_pki.chain(label).common_name),
        tsa_url=signing_pki.tsa_url if tsa else None,
    )


async def test_bt_signature_through_the_token_validates(signing_pki: SigningPki) -> None:
    signer = signing_pki.signer("gv-toan")
    assert isinstance(signer, PKCS11Signer)
    assert not signing_pki.keys.exportable("gv-toan")

    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-toan", "GVBM")
    report = await validate(signed, signing_pki.trust_online)

    (sig,) = report.signatures
    assert (sig.field_name, sig.signer, sig.is_timestamp) == ("GVBM", "Nguyễn Văn Toàn", False)
    assert sig.intact
    assert sig.valid
    assert sig.trusted
    assert sig.revocation == "good"
    assert sig.timestamp_time is not None  # B-T: the TSA's signature timestamp
    assert sig.signing_time is not None
    assert (sig.coverage, sig.modification, sig.problems) == ("entire-file", "none", [])
    assert sig.serial_hex == signing_pki.chain("gv-toan").serial_hex
    assert sig.sha256 == signing_pki.chain("gv-toan").sha256
    assert report.covers_whole_document
    assert not report.ltv
    assert report.ok
    assert report.summary_vi() == "Chữ ký của Nguyễn Văn Toàn hợp lệ."


async def test_bb_signature_has_no_timestamp(signing_pki: SigningPki) -> None:
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-cn", "GVCN", tsa=False)
    (sig,) = (await validate(signed, signing_pki.trust_online)).signatures
    assert sig.timestamp_time is None
    assert sig.ok
    assert sig.revocation == "good"


async def test_a_byte_changed_inside_the_signed_range_is_reported(
    signing_pki: SigningPki,
) -> None:
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-toan", "GVBM")
    gap_start = signed.index(b"/Contents <")
    where = signed.index(b"Typst")
    assert where < gap_start  # inside the first part of the /ByteRange
    tampered = signed[:where] + b"Tipst" + signed[where + 5 :]

    (sig,) = (await validate(tampered, signing_pki.trust_online)).signatures
    assert not sig.intact
    assert "modified-after-signing" in sig.problems
    assert "sửa đổi" in sig.summary_vi()


async def test_revoked_certificate_is_reported(signing_pki: SigningPki) -> None:
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "revoked", "HT")
    (sig,) = (await validate(signed, signing_pki.trust_online)).signatures
    assert sig.revocation == "revoked"
    assert sig.revoked_at is not None
    assert sig.revoked_at < datetime.now(UTC)
    assert sig.problems == ["revoked"]
    assert sig.intact
    assert sig.valid
    summary = sig.summary_vi()
    assert summary.startswith("Chữ ký của Phạm Thu Hồi không hợp lệ")
    assert "đã bị thu hồi từ ngày" in summary


async def test_another_anchor_means_untrusted_chain(
    signing_pki: SigningPki, tmp_path: Path
) -> None:
    other = create_test_pki(tmp_path / "other", PkiSpec(base_url="http://127.0.0.1:9"))
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-toan", "GVBM")

    (sig,) = (await validate(signed, other.trust())).signatures
    assert sig.intact
    assert sig.valid
    assert not sig.trusted
    assert "untrusted-chain" in sig.problems
    assert "tin cậy" in sig.summary_vi()


async def test_four_signatures_then_lta_validate_offline(signing_pki: SigningPki) -> None:
    pdf = transcript_pdf(STUDENT, SCHOOL)
    for n, (label, name, role, box) in enumerate(SIGNERS, start=1):
        pdf = await pades.sign(
            pdf,
            signing_pki.signer(label),
            pades.Placement(f"Ky{n}", page=1, box=box),
            stamp(name, role),
            tsa_url=signing_pki.tsa_url,
        )
    archived = await pades.extend_to_lta(pdf, signing_pki.trust_online, tsa_url=signing_pki.tsa_url)

    signing_pki.stop_services()
    try:
        assert not signing_pki.services_running
        report = await validate(archived, signing_pki.trust_offline)
    finally:
        signing_pki.start_services()

    *signatures, archive = report.signatures
    assert [s.field_name for s in signatures] == ["Ky1", "Ky2", "Ky3", "Ky4"]
    assert [s.signer for s in signatures] == [name for _, name, _, _ in SIGNERS]
    for sig in signatures:
        assert sig.ok, (sig.field_name, sig.problems)
        assert sig.revocation == "good"
        assert sig.timestamp_time is not None
    assert [s.modification for s in signatures] == ["form-filling"] * 3 + ["archival-data"]
    assert archive.is_timestamp
    assert archive.ok
    assert archive.coverage == "entire-file"
    assert report.covers_whole_document
    assert report.ltv
    assert report.ok
    assert "lưu trữ dài hạn" in report.summary_vi()


async def test_only_the_archived_copy_still_validates_offline_months_later(
    signing_pki: SigningPki,
) -> None:
    """The OCSP responses embedded at archiving time are long stale by then; the document
    timestamp (by a TSA the trust lists) proves they existed when they were fresh."""
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-cn", "GVCN")
    archived = await pades.extend_to_lta(
        signed, signing_pki.trust_online, tsa_url=signing_pki.tsa_url
    )
    later = datetime.now(UTC) + timedelta(days=90)

    plain = (await validate(signed, signing_pki.trust_offline, at=later)).signatures[0]
    assert plain.revocation == "unknown"
    assert "revocation-unknown" in plain.problems
    report = await validate(archived, signing_pki.trust_offline, at=later)
    assert report.ok
    assert report.ltv
    assert report.signatures[0].revocation == "good"


async def test_archiving_fails_loudly_when_revocation_data_cannot_be_had(
    signing_pki: SigningPki,
) -> None:
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-toan", "GVBM")
    signing_pki.stop_services()
    try:
        with pytest.raises(RevocationUnavailable):
            await pades.extend_to_lta(signed, signing_pki.trust_online, tsa_url=signing_pki.tsa_url)
    finally:
        signing_pki.start_services()
    with pytest.raises(ValueError, match="fetch"):
        await pades.extend_to_lta(signed, signing_pki.trust_offline, tsa_url=signing_pki.tsa_url)


async def test_retimestamp_adds_a_second_archive_timestamp(signing_pki: SigningPki) -> None:
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "hieu-truong", "HT")
    with pytest.raises(ValueError, match="extend_to_lta"):
        await pades.retimestamp(signed, signing_pki.trust_online, tsa_url=signing_pki.tsa_url)
    archived = await pades.extend_to_lta(
        signed, signing_pki.trust_online, tsa_url=signing_pki.tsa_url
    )
    renewed = await pades.retimestamp(
        archived, signing_pki.trust_online, tsa_url=signing_pki.tsa_url
    )

    report = await validate(renewed, signing_pki.trust_offline)
    assert [s.is_timestamp for s in report.signatures] == [False, True, True]
    assert report.ok
    assert report.ltv
    assert report.covers_whole_document


async def test_signing_an_already_signed_field_is_refused(signing_pki: SigningPki) -> None:
    signed = await sign_as(signing_pki, transcript_pdf(STUDENT, SCHOOL), "gv-toan", "GVBM")
    with pytest.raises(pades.FieldTaken):
        await sign_as(signing_pki, signed, "gv-cn", "GVBM")


async def test_invisible_signature(signing_pki: SigningPki) -> None:
    signed = await pades.sign(
        transcript_pdf(STUDENT, SCHOOL),
        signing_pki.signer("gv-toan"),
        pades.Placement("An"),
        stamp("Nguyễn Văn Toàn"),
        tsa_url=None,
    )
    (sig,) = (await validate(signed, signing_pki.trust_online)).signatures
    assert sig.ok


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7\nnot really", b"%PDF-1.7\n" * 3])
async def test_not_a_pdf(signing_pki: SigningPki, data: bytes) -> None:
    with pytest.raises(NotAPdf):
        await sign_as(signing_pki, data, "gv-toan", "GVBM")
    with pytest.raises(NotAPdf):
        await validate(data, signing_pki.trust_online)
    with pytest.raises(NotAPdf):
        await pades.prepare_external(
            data,
            signing_pki.chain("gv-toan"),
            pades.Placement("GVBM"),
            stamp("Nguyễn Văn Toàn"),
            tsa_url=None,
        )


def _to_unicode(cmap: bytes) -> dict[int, str]:
    """CID -> text from a ToUnicode CMap (bfchar lines and both bfrange forms)."""
    table: dict[int, str] = {}

    def text(hexes: bytes) -> str:
        return bytes.fromhex(hexes.decode()).decode("utf-16-be")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            table[int(src, 16)] = text(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(
            rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(\[[^\]]*\]|<[0-9a-fA-F]+>)", block
        ):
            first, last = int(lo, 16), int(hi, 16)
            if dst.startswith(b"["):
                for cid, item in zip(
                    range(first, last + 1), re.findall(rb"<([0-9a-fA-F]+)>", dst), strict=True
                ):
                    table[cid] = text(item)
            else:
                start = int(dst[1:-1], 16)
                for offset in range(last - first + 1):
                    table[first + offset] = chr(start + offset)
    return table


def _stamp_text(pdf: bytes, field: str) -> tuple[str, list[int]]:
    """The text drawn by a signature field's appearance, decoded glyph by glyph through its
    font's ToUnicode map (the /ActualText spans are ignored), and the glyph ids used."""
    reader = PdfFileReader(BytesIO(pdf))
    (widget,) = [
        f.get_object() for f in reader.root["/AcroForm"]["/Fields"] if f.get_object()["/T"] == field
    ]
    appearance = widget["/AP"]["/N"]
    (font,) = appearance["/Resources"]["/Font"].values()
    cmap = _to_unicode(font.get_object()["/ToUnicode"].get_object().data)
    content = re.sub(rb"/ActualText \((?:\\.|[^\\)])*\)", b"", appearance.data)
    lines = []
    glyphs: list[int] = []
    for run in re.findall(rb"\[((?:<[0-9a-fA-F]+>|[-\d.\s])*)\]\s*TJ", content):
        cids = [
            int(chunk[i : i + 4], 16)
            for chunk in re.findall(rb"<([0-9a-fA-F]+)>", run)
            for i in range(0, len(chunk), 4)
        ]
        glyphs.extend(cids)
        lines.append("".join(cmap.get(cid, "\ufffd") for cid in cids))
    return "\n".join(lines), glyphs


async def test_stamp_draws_the_vietnamese_text(signing_pki: SigningPki) -> None:
    at = datetime(2026, 5, 20, 1, 2, 3, tzinfo=UTC)  # 08:02:03 in Việt Nam
    signed = await pades.sign(
        transcript_pdf(STUDENT, SCHOOL),
        signing_pki.signer("gv-cn"),
        pades.Placement("GVCN", page=1, box=SIGNATURE_BOXES[1]),
        pades.StampText("Trần Thị Chủ Nhiệm", "Giáo viên chủ nhiệm", at),
        tsa_url=None,
    )
    text, glyphs = _stamp_text(signed, "GVCN")
    assert text.splitlines() == [
        "Ký bởi: Trần Thị Chủ Nhiệm",
        "Vai trò: Giáo viên chủ nhiệm",
        "Thời gian: 20/05/2026 08:02:03 (giờ Việt Nam)",
    ]
    assert 0 not in glyphs  # no .notdef: every letter had a glyph in the font


async def test_sign_through_the_token_is_fast(signing_pki: SigningPki) -> None:
    """A loose budget (the shared machine may be busy); the report states measured figures."""
    pdf = transcript_pdf(STUDENT, SCHOOL)
    await sign_as(signing_pki, pdf, "gv-toan", "Warm")  # font subset, TSA size probe
    timings: dict[bool, list[float]] = {False: [], True: []}
    for tsa in (False, True):
        for _ in range(5):
            start = time.perf_counter()
            await sign_as(signing_pki, pdf, "gv-toan", "GVBM", tsa=tsa)
            timings[tsa].append(time.perf_counter() - start)
    for durations in timings.values():
        assert sorted(durations)[2] < 1.0
