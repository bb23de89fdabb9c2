"""PAdES signatures on PDF bytes: signing with a key the service holds (a token), the two-step
flow for a key on the signer's own USB token, and archiving (B-LTA).

Every signature is an incremental update, so earlier signatures stay valid. With a TSA the
signature carries a signature timestamp (PAdES B-T), otherwise it is B-B. ``extend_to_lta``
adds the revocation data of every signature (the DSS) and a document timestamp over all of it,
so the file validates offline for as long as the timestamp's algorithms hold (B-LTA).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any, Final

from asn1crypto import algos, cms, x509  # type: ignore[import-untyped]  # asn1crypto ships no types
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import load_der_x509_certificate
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument, TimestampDSSContentSettings
from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
from pyhanko.sign.validation import DocumentSecurityStore, collect_validation_info
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathBuildingError,
    PathValidationError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.crypto.certs import CertChain, Trust
from signing.crypto.errors import (
    CryptoError,
    NotAPdf,
    RevocationUnavailable,
    StateCorrupted,
    TimestampUnavailable,
    WrongSignature,
)
from signing.crypto.stamp import StampText, stamp_style

__all__ = [
    "FieldTaken",
    "Placement",
    "PreparedSignature",
    "StampText",
    "extend_to_lta",
    "finish_external",
    "open_reader",
    "prepare_external",
    "retimestamp",
    "sign",
]

STATE_MAGIC: Final = b"HSDT-PADES-PREPARED/1\n"
ARCHIVE_FIELD: Final = "LuuTru-{}"  # document timestamps: lưu trữ = archive
# Room for the signed attributes, the signature value and ASN.1 framing, beyond certificates
# and the timestamp token; measured CMS sizes stay well below.
_CMS_OVERHEAD: Final = 3072
_TIMEOUT_SECONDS: Final = 10
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class FieldTaken(CryptoError):  # noqa: N818  # named after the cause, as in errors.py
    """The signature field named in the placement already holds a signature."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a signature goes: its field, and for a visible one the page (0-based; negative
    counts from the end) and box ``(x1, y1, x2, y2)`` in PDF points. ``box=None`` makes an
    invisible signature."""

    field: str
    page: int = 0
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class PreparedSignature:
    """The first half of a client-side signature.

    ``to_sign`` is the DER of the CMS signed attributes: the client signs it with its key
    (ECDSA or RSA PKCS#1 v1.5 with ``algorithm``'s hash); ``digest`` is its hash, for clients
    whose token signs a precomputed digest. ``state`` is everything ``finish_external`` needs,
    to be stored by the caller between the two requests.
    """

    to_sign: bytes
    digest: bytes
    algorithm: str
    state: bytes


# One timestamper per event loop and URL, over one kept-open aiohttp session: pyHanko caches the
# size probe ("dummy response") per instance, and its default HTTPTimeStamper opens a session
# (and loads a TLS context, ~16 ms of CPU) for every request.
_TIMESTAMPERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, tuple[HTTPTimeStamper, LazySession]]
] = weakref.WeakKeyDictionary()


def _timestamper(url: str) -> HTTPTimeStamper:
    per_loop = _TIMESTAMPERS.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(url)
    if found is None:
        session = LazySession()  # type: ignore[no-untyped-call]
        found = per_loop[url] = (
            HTTPTimeStamper(url, session=session, timeout=_TIMEOUT_SECONDS),
            session,
        )
    return found[0]


async def close_timestampers() -> None:
    """Close this loop's timestamp sessions (a service's shutdown)."""
    for _, session in _TIMESTAMPERS.pop(asyncio.get_running_loop(), {}).values():
        await session.close()  # type: ignore[no-untyped-call]  # untyped in certvalidator


def _open(pdf: bytes) -> IncrementalPdfFileWriter:
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise NotAPdf("the input does not start with a PDF header")
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as error:
        raise NotAPdf(f"unreadable PDF: {error}") from error
    if writer.prev.encrypted:
        raise NotAPdf("encrypted PDFs are not signed")
    return writer


def open_reader(pdf: bytes) -> PdfFileReader:
    return _open(pdf).prev


def _field_spec(placement: Placement) -> fields.SigFieldSpec:
    return fields.SigFieldSpec(
        sig_field_name=placement.field, on_page=placement.page, box=placement.box
    )


def _metadata(placement: Placement, stamp: StampText, md: str) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=placement.field,
        md_algorithm=md,
        subfilter=fields.SigSeedSubFilter.PADES,
        name=stamp.name,
        reason=stamp.role,
    )


def _check_field_free(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    filled = fields.enumerate_sig_fields(writer.prev, filled_status=True, with_name=field_name)
    if any(True for _ in filled):
        raise FieldTaken(f"signature field {field_name!r} is already signed")


async def _reserve(certificates: Iterable[x509.Certificate], tsa_url: str | None, md: str) -> int:
    """Bytes to reserve for the CMS (hex, so twice its DER size). Reserving explicitly spares
    pyHanko its dry-run signature, which would double the token's work."""
    size = _CMS_OVERHEAD + sum(len(c.dump()) for c in certificates)
    if tsa_url is not None:
        size += len((await _dummy_token(tsa_url, md)).dump()) + 1024
    return 2 * size


async def _dummy_token(tsa_url: str, md: str) -> Any:
    try:
        return await _timestamper(tsa_url).async_dummy_response(md)
    except TimestampRequestError as error:
        raise TimestampUnavailable(f"TSA at {tsa_url} did not answer") from error


def _store(chain: CertChain) -> SimpleCertificateStore:
    store: SimpleCertificateStore = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]  # unannotated in certvalidator
        list(chain.intermediates)
    )
    return store


def _signer_certificates(signer: signers.Signer) -> list[x509.Certificate]:
    certificates = list(signer.cert_registry)
    if signer.signing_cert is not None and signer.signing_cert not in certificates:
        certificates.append(signer.signing_cert)
    return certificates


async def sign(
    pdf: bytes,
    signer: signers.Signer,
    placement: Placement,
    stamp: StampText,
    *,
    tsa_url: str | None,
    md: str = "sha256",
) -> bytes:
    """Sign ``pdf`` as an incremental update: PAdES B-T with ``tsa_url``, else B-B."""
    writer = _open(pdf)
    _check_field_free(writer, placement.field)
    pdf_signer = signers.PdfSigner(
        _metadata(placement, stamp, md),
        signer,
        timestamper=None if tsa_url is None else _timestamper(tsa_url),
        stamp_style=stamp_style(),
        new_field_spec=_field_spec(placement),
    )
    reserved = await _reserve(_signer_certificates(signer), tsa_url, md)
    try:
        output = await pdf_signer.async_sign_pdf(
            writer, bytes_reserved=reserved, appearance_text_params=stamp.params()
        )
    except TimestampRequestError as error:
        raise TimestampUnavailable(f"TSA at {tsa_url} did not answer") from error
    except SigningError as error:
        raise CryptoError(f"pyHanko refused to sign: {error}") from error
    signed: bytes = output.getvalue()
    return signed


# --- client-side signing (the key on the signer's USB token) ----------------------------------


def signature_algorithm(chain: CertChain, md: str = "sha256") -> str:
    if chain.key_algorithm == "ec":
        return f"ecdsa-with-{md.upper()}"
    if chain.key_algorithm == "rsa":
        return f"{md}WithRSAEncryption"
    raise ValueError(f"unsupported key algorithm {chain.key_algorithm!r}")


async def prepare_external(
    pdf: bytes,
    chain: CertChain,
    placement: Placement,
    stamp: StampText,
    *,
    tsa_url: str | None,
    md: str = "sha256",
) -> PreparedSignature:
    """Lay out the signature field and the placeholder, and compute what the client signs."""
    if md not in _HASHES:
        raise ValueError(f"unsupported digest {md!r}")
    algorithm = signature_algorithm(chain, md)
    writer = _open(pdf)
    _check_field_free(writer, placement.field)
    external = signers.ExternalSigner(chain.signer, _store(chain))
    pdf_signer = signers.PdfSigner(
        _metadata(placement, stamp, md),
        external,
        stamp_style=stamp_style(),
        new_field_spec=_field_spec(placement),
    )
    reserved = await _reserve(chain.certificates, tsa_url, md)
    try:
        prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer, bytes_reserved=reserved, appearance_text_params=stamp.params()
        )
    except SigningError as error:
        raise CryptoError(f"pyHanko refused to prepare the signature: {error}") from error
    signed_attrs = await external.signed_attrs(
        prepared.document_digest,
        md,
        attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
        use_pades=True,
    )
    to_sign: bytes = signed_attrs.dump()
    if not isinstance(output, BytesIO):  # pyHanko returns the BytesIO it created
        raise TypeError("expected an in-memory output")
    document = output.getvalue()
    state = _State(
        md=md,
        chain_pem=chain.to_pem(),
        document_digest=prepared.document_digest,
        reserved_start=prepared.reserved_region_start,
        reserved_end=prepared.reserved_region_end,
        signed_attrs=to_sign,
        document=document,
    )
    return PreparedSignature(
        to_sign=to_sign,
        digest=hashlib.new(md, to_sign).digest(),
        algorithm=algorithm,
        state=state.dump(),
    )


async def finish_external(state: bytes, signature: bytes, *, tsa_url: str | None) -> bytes:
    """Embed the client's signature value (DER ECDSA, raw r‖s, or RSA) and, with ``tsa_url``,
    a signature timestamp. Raises ``WrongSignature`` when the value does not verify."""
    prepared = _State.load(state)
    chain = CertChain.from_pem(prepared.chain_pem)
    value = _normalise_signature(chain, signature)
    _verify(chain, prepared.signed_attrs, value, prepared.md)
    external = signers.ExternalSigner(
        chain.signer,
        _store(chain),
        signature_value=value,
    )
    try:
        signed_data = await external.async_sign_prescribed_attributes(
            prepared.md,
            cms.CMSAttributes.load(prepared.signed_attrs),
            timestamper=None if tsa_url is None else _timestamper(tsa_url),
        )
    except TimestampRequestError as error:
        raise TimestampUnavailable(f"TSA at {tsa_url} did not answer") from error
    output = BytesIO(prepared.document)
    digest = PreparedByteRangeDigest(
        document_digest=prepared.document_digest,
        reserved_region_start=prepared.reserved_start,
        reserved_region_end=prepared.reserved_end,
    )
    try:
        await PdfTBSDocument.async_finish_signing(output, digest, signed_data)
    except SigningError as error:
        raise CryptoError(f"the signature does not fit its placeholder: {error}") from error
    return output.getvalue()


def _normalise_signature(chain: CertChain, signature: bytes) -> bytes:
    """ECDSA in CMS is DER; PKCS#11 tokens and WebCrypto give raw r‖s. Accept both."""
    if chain.key_algorithm != "ec":
        return signature
    size = (int(chain.signer.public_key.bit_size) + 7) // 8
    try:
        algos.DSASignature.load(signature, strict=True)
    except ValueError:
        if len(signature) == 2 * size:
            raw: bytes = algos.DSASignature.from_p1363(signature).dump()
            return raw
        raise WrongSignature("the ECDSA signature is neither DER nor raw r||s") from None
    return signature


def _verify(chain: CertChain, data: bytes, signature: bytes, md: str) -> None:
    public_key = load_der_x509_certificate(chain.signer.dump()).public_key()
    digest = _HASHES[md]()
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        else:
            raise WrongSignature(f"unsupported key type {type(public_key).__name__}")
    except InvalidSignature:
        raise WrongSignature(
            f"the signature does not verify against {chain.common_name}'s certificate"
        ) from None


@dataclass(frozen=True, slots=True)
class _State:
    """Serialised as magic, a length-prefixed JSON header, then the prepared document; the
    header records the document's hash so truncation or a swapped document is caught."""

    md: str
    chain_pem: bytes
    document_digest: bytes
    reserved_start: int
    reserved_end: int
    signed_attrs: bytes
    document: bytes

    def dump(self) -> bytes:
        header = json.dumps(
            {
                "md": self.md,
                "chain": self.chain_pem.decode("ascii"),
                "document_digest": self.document_digest.hex(),
                "reserved": [self.reserved_start, self.reserved_end],
                "signed_attrs": base64.b64encode(self.signed_attrs).decode("ascii"),
                "document_sha256": hashlib.sha256(self.document).hexdigest(),
            }
        ).encode()
        return STATE_MAGIC + struct.pack(">I", len(header)) + header + self.document

    @classmethod
    def load(cls, data: bytes) -> _State:
        if not data.startswith(STATE_MAGIC):
            raise StateCorrupted("not a prepared-signature state of this version")
        rest = data[len(STATE_MAGIC) :]
        try:
            (length,) = struct.unpack(">I", rest[:4])
            header = json.loads(rest[4 : 4 + length])
            document = rest[4 + length :]
            state = cls(
                md=header["md"],
                chain_pem=header["chain"].encode("ascii"),
                document_digest=bytes.fromhex(header["document_digest"]),
                reserved_start=int(header["reserved"][0]),
                reserved_end=int(header["reserved"][1]),
                signed_attrs=base64.b64decode(header["signed_attrs"], validate=True),
                document=document,
            )
            expected_document = header["document_sha256"]
            attrs = cms.CMSAttributes.load(state.signed_attrs)
            digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        except (struct.error, ValueError, KeyError, IndexError, TypeError) as error:
            raise StateCorrupted(f"unreadable state: {error}") from error
        if hashlib.sha256(document).hexdigest() != expected_document or state.md not in _HASHES:
            raise StateCorrupted("the prepared document does not match its state")
        if digests != [state.document_digest]:
            raise StateCorrupted("the signed attributes are not those of this document")
        return state


# --- archiving: PAdES B-LTA --------------------------------------------------------------------


async def extend_to_lta(pdf: bytes, trust: Trust, *, tsa_url: str) -> bytes:
    """Embed revocation data for every signature and timestamp (DSS), then add a document
    timestamp over everything (B-LTA). ``trust`` must allow fetching: this is when OCSP
    responses and CRLs are collected for later offline validation."""
    return await _archive(pdf, trust, tsa_url, only_timestamps=False)


async def retimestamp(pdf: bytes, trust: Trust, *, tsa_url: str) -> bytes:
    """Renew an archived document before its last timestamp's certificate expires: fresh
    revocation data for its document timestamps, then a new document timestamp."""
    reader = open_reader(pdf)
    if not reader.embedded_timestamp_signatures:
        raise ValueError("the document has no document timestamp yet; use extend_to_lta")
    return await _archive(pdf, trust, tsa_url, only_timestamps=True)


async def _archive(pdf: bytes, trust: Trust, tsa_url: str, *, only_timestamps: bool) -> bytes:
    if not trust.fetch_online:
        raise ValueError("archiving collects revocation data: it needs a trust that may fetch")
    writer = _open(pdf)
    reader = writer.prev
    embedded = (
        reader.embedded_timestamp_signatures if only_timestamps else reader.embedded_signatures
    )
    context = trust.validation_context()
    try:
        paths = []
        for signature in embedded:
            try:
                paths.extend(await collect_validation_info(signature, context))
            except InsufficientRevinfoError as error:
                # An OCSP responder or CRL server is down: an archive without this data would
                # fail offline validation later, so fail now and let the caller retry.
                raise RevocationUnavailable(
                    f"no revocation data for {signature.field_name}: {error}"
                ) from error
            except (PathBuildingError, PathValidationError):
                # Revoked, expired or untrusted: whatever revocation data was fetched on the way
                # still goes into the DSS, and validation reports the problem.
                continue
        DocumentSecurityStore.supply_dss_in_writer(
            writer, None, paths=paths, validation_context=context
        )
        timestamper = _timestamper(tsa_url)
        field = ARCHIVE_FIELD.format(len(reader.embedded_timestamp_signatures) + 1)
        output = await signers.PdfTimeStamper(timestamper, field_name=field).async_timestamp_pdf(
            writer,
            "sha256",
            validation_context=context,
            # The TSA's own revocation data goes in before the timestamp, so the timestamp is
            # the file's last revision and covers all of it.
            dss_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True),
        )
    except TimestampRequestError as error:
        raise TimestampUnavailable(f"TSA at {tsa_url} did not answer") from error
    finally:
        await context.aclose()  # type: ignore[no-untyped-call]  # unannotated in certvalidator
    archived: bytes = output.getvalue()
    return archived
