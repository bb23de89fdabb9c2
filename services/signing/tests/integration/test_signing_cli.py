"""``hsdt-signing validate`` and ``retimestamp``: what operators and archive's scheduled runs
call, as a process with the service's settings."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from signing.crypto import pades
from signing.crypto.sample import transcript_pdf
from signing.crypto.validation import validate
from signing.crypto_testing import SigningPki
from signing.devpki import trust_files


async def run(pki: SigningPki, *args: str) -> tuple[int, str]:
    script = Path(sys.executable).parent / "hsdt-signing"
    process = await asyncio.create_subprocess_exec(
        str(script),
        *args,
        env={**os.environ, **trust_files(pki.pki, pki.directory), "SIGNING_TSA_URL": pki.tsa_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_validate_and_retimestamp_an_archived_transcript(
    signing_pki: SigningPki, tmp_path: Path
) -> None:
    signed = await pades.sign(
        transcript_pdf("Trần Thị Bình", "Trường THCS Thử Nghiệm"),
        signing_pki.signer("gv-toan"),
        pades.Placement("Sig1"),
        pades.StampText("Nguyễn Văn Toàn", "Giáo viên bộ môn", datetime.now(UTC)),
        tsa_url=signing_pki.tsa_url,
    )
    archived = await pades.extend_to_lta(
        signed, signing_pki.trust_online, tsa_url=signing_pki.tsa_url
    )
    path = tmp_path / "hoc-ba.pdf"
    path.write_bytes(archived)
    code, out = await run(signing_pki, "validate", str(path))
    assert code == 0, out
    assert "Chữ ký của Nguyễn Văn Toàn hợp lệ." in out

    renewed = tmp_path / "hoc-ba-renewed.pdf"
    code, out = await run(signing_pki, "retimestamp", str(path), str(renewed))
    assert code == 0, out
    before = await validate(archived, signing_pki.trust_offline)
    after = await validate(renewed.read_bytes(), signing_pki.trust_offline)
    stamps = sum(s.is_timestamp for s in after.signatures)
    assert stamps == sum(s.is_timestamp for s in before.signatures) + 1
    assert after.ok, after.summary_vi()

    # One byte inside the signed range (the producer's name in the document info).
    where = archived.index(b"Typst")
    path.write_bytes(archived[:where] + b"Tipst" + archived[where + 5 :])
    code, out = await run(signing_pki, "validate", str(path))
    assert code == 1, out
