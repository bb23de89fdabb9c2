"""Client-side signing: the key stays on the signer's USB token; the service prepares the
signed attributes, the client signs them, the service finishes the PDF."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from signing.crypto import pades
from signing.crypto.errors import StateCorrupted, WrongSignature
from signing.crypto.sample import SIGNATURE_BOXES, transcript_pdf
from signing.crypto.validation import validate
from signing.crypto_testing import SigningPki


def usb_key(signing_pki: SigningPki, label: str) -> ec.EllipticCurvePrivateKey:
    """The private key as the client's token holds it: outside the service's token."""
    key = serialization.load_pem_private_key(
        signing_pki.pki.key_path(label).read_bytes(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


async def prepare(signing_pki: SigningPki, label: str) -> pades.PreparedSignature:
    chain = signing_pki.chain(label)
    return await pades.prepare_external(
        transcript_pdf("Vũ Minh Đức", "Trường THCS Thử Nghiệm"),
        chain,
        pades.Placement("GVCN", page=1, box=SIGNATURE_BOXES[1]),
        pades.StampText(chain.common_name, "Giáo viên chủ nhiệm", datetime.now(UTC)),
        tsa_url=signing_pki.tsa_url,
    )


async def test_client_signature_validates_like_a_service_signature(
    signing_pki: SigningPki,
) -> None:
    label = signing_pki.take_spare()
    prepared = await prepare(signing_pki, label)
    assert prepared.algorithm == "ecdsa-with-SHA256"
    assert prepared.digest == hashlib.sha256(prepared.to_sign).digest()

    signature = usb_key(signing_pki, label).sign(prepared.to_sign, ec.ECDSA(hashes.SHA256()))
    signed = await pades.finish_external(prepared.state, signature, tsa_url=signing_pki.tsa_url)

    report = await validate(signed, signing_pki.trust_online)
    (sig,) = report.signatures
    assert sig.signer == signing_pki.chain(label).common_name
    assert sig.signer.startswith("Người ký thử ")
    assert sig.ok
    assert sig.trusted
    assert sig.revocation == "good"
    assert sig.timestamp_time is not None  # B-T, as sign() makes
    assert report.covers_whole_document


async def test_raw_signature_over_the_digest_is_accepted(signing_pki: SigningPki) -> None:
    """A PKCS#11 token signs the digest with CKM_ECDSA and returns r‖s, not DER."""
    label = signing_pki.take_spare()
    prepared = await prepare(signing_pki, label)
    der = usb_key(signing_pki, label).sign(prepared.digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")

    signed = await pades.finish_external(prepared.state, raw, tsa_url=None)
    (sig,) = (await validate(signed, signing_pki.trust_online)).signatures
    assert sig.ok
    assert sig.timestamp_time is None


async def test_signature_by_the_wrong_key_is_refused(signing_pki: SigningPki) -> None:
    label, other = signing_pki.take_spare(), signing_pki.take_spare()
    prepared = await prepare(signing_pki, label)
    wrong = usb_key(signing_pki, other).sign(prepared.to_sign, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(WrongSignature):
        await pades.finish_external(prepared.state, wrong, tsa_url=signing_pki.tsa_url)
    with pytest.raises(WrongSignature):
        await pades.finish_external(prepared.state, b"\x30\x00", tsa_url=None)


async def test_altered_state_is_refused(signing_pki: SigningPki) -> None:
    label = signing_pki.take_spare()
    prepared = await prepare(signing_pki, label)
    signature = usb_key(signing_pki, label).sign(prepared.to_sign, ec.ECDSA(hashes.SHA256()))
    for state in (prepared.state[:-1], prepared.state[:-1] + b"X", b"junk", prepared.state[5:]):
        with pytest.raises(StateCorrupted):
            await pades.finish_external(state, signature, tsa_url=None)
