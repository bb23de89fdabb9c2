"""The signing service's one door to the cryptographic core (``signing.crypto``).

Handlers speak PEM strings, field names and boxes; this adapter turns them into pyHanko's
objects, keeps the token's session and the trust settings, and maps the core's errors to the
few the handlers answer for. It also checks a second factor: a step-up token from identity.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import (
    InvalidCertificateError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from common.access import Actor
from common.errors import Problem
from signing.crypto import pades, validation
from signing.crypto.certs import CertChain, Trust, load_certificates
from signing.crypto.errors import (
    BadCertificate,
    NotAPdf,
    RevocationUnavailable,
    StateCorrupted,
    TimestampUnavailable,
    TokenError,
    WrongSignature,
)
from signing.crypto.keys import TokenKeys

# Handlers catch these; the core's own names stay inside this module.
NotAPdfError = NotAPdf
WrongSignatureError = WrongSignature


class CertificateRefused(Exception):  # noqa: N818 - a refusal, named as the answer
    def __init__(self, code: str, message_vi: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.message_vi = message_vi
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Prepared:
    to_sign: bytes
    digest: bytes
    algorithm: str
    state: bytes


# Checks the caller's second factor for a server-side key; raises a Problem when it fails.
StepUpCheck = Callable[[Actor, str], Awaitable[None]]

Box = tuple[int, int, int, int] | None


def chain_of(pem_text: str) -> CertChain:
    try:
        return CertChain.from_pem(pem_text.encode())
    except BadCertificate as error:
        raise CertificateRefused(
            "certificate-unreadable", "Không đọc được chứng thư số", str(error)
        ) from None


def load_trust(
    anchors_file: Path,
    intermediates_file: Path | None,
    timestamp_anchors_file: Path | None,
    *,
    fetch: bool,
) -> Trust:
    def certificates(path: Path | None) -> list[Any]:
        return load_certificates(path.read_bytes()) if path else []

    return Trust.of(
        certificates(anchors_file),
        certificates(intermediates_file),
        certificates(timestamp_anchors_file),
        fetch_online=fetch,
    )


@contextmanager
def _answers() -> Iterator[None]:
    """The core's failures that are nobody's input: the TSA, the token, a field already used."""
    try:
        yield
    except TimestampUnavailable as error:
        raise Problem(
            503, "tsa-unavailable", "Dịch vụ cấp dấu thời gian không phản hồi", str(error)
        ) from None
    except RevocationUnavailable as error:
        raise Problem(
            503,
            "revocation-unavailable",
            "Không lấy được thông tin thu hồi chứng thư số",
            str(error),
        ) from None
    except TokenError as error:
        raise Problem(503, "token-unavailable", "Thiết bị HSM không sẵn sàng", str(error)) from None
    except pades.FieldTaken as error:
        raise Problem(
            409, "field-taken", "Trường chữ ký đã được ký trong tài liệu", str(error)
        ) from None
    except StateCorrupted as error:
        raise Problem(409, "session-stale", "Phiên ký không còn hợp lệ", str(error)) from None


class SignatureTools:
    def __init__(
        self,
        keys: TokenKeys | None,
        trust: Trust,
        tsa_url: str,
        *,
        usable_for_seconds: float = 300.0,
    ) -> None:
        self.keys = keys
        self.trust = trust
        self.tsa_url = tsa_url
        # A certificate found usable is not checked online again for a while: a batch signs
        # thousands of documents with one certificate, and each check fetches OCSP and CRLs.
        self._usable_for = usable_for_seconds
        self._usable: dict[str, float] = {}

    # --- inputs

    def check_pdf(self, document: bytes) -> None:
        """Raises ``NotAPdf`` unless pyHanko can open ``document`` for an incremental update."""
        pades.open_reader(document)

    async def check_usable(self, chain_pem: str, at: datetime) -> CertChain:
        """The chain reaches an anchor, is valid at ``at`` and is not revoked (online)."""
        chain = chain_of(chain_pem)
        checked = self._usable.get(chain.sha256)
        if checked is not None and checked > time.monotonic() and chain.not_after > at:
            return chain
        context = self.trust.validation_context(require_revocation=False)
        validator = CertificateValidator(
            chain.signer, intermediate_certs=list(chain.intermediates), validation_context=context
        )
        try:
            await validator.async_validate_usage({"digital_signature"})  # type: ignore[no-untyped-call]
        except RevokedError as error:
            raise CertificateRefused(
                "certificate-revoked", "Chứng thư số đã bị thu hồi", str(error)
            ) from None
        except (PathBuildingError, InvalidCertificateError, PathValidationError) as error:
            raise CertificateRefused(
                "certificate-invalid",
                "Chứng thư số không hợp lệ hoặc không được tin cậy",
                str(error),
            ) from None
        finally:
            await context.aclose()  # type: ignore[no-untyped-call]  # unannotated in certvalidator
        self._usable[chain.sha256] = time.monotonic() + self._usable_for
        return chain

    # --- signing

    async def sign(
        self,
        document: bytes,
        *,
        pem: str,
        key_label: str,
        field: str,
        page: int,
        box: Box,
        stamp_name: str,
        stamp_role: str,
        at: datetime,
    ) -> bytes:
        assert self.keys is not None, "the service was started without a PKCS#11 token"
        chain = chain_of(pem)
        with _answers():
            signer = self.keys.signer(key_label, chain)
            return await pades.sign(
                document,
                signer,
                pades.Placement(field, page, box),
                pades.StampText(stamp_name, stamp_role, at),
                tsa_url=self.tsa_url,
            )

    async def prepare(
        self,
        document: bytes,
        *,
        pem: str,
        field: str,
        page: int,
        box: Box,
        stamp_name: str,
        stamp_role: str,
        at: datetime,
    ) -> Prepared:
        with _answers():
            prepared = await pades.prepare_external(
                document,
                chain_of(pem),
                pades.Placement(field, page, box),
                pades.StampText(stamp_name, stamp_role, at),
                tsa_url=self.tsa_url,
            )
        return Prepared(prepared.to_sign, prepared.digest, prepared.algorithm, prepared.state)

    async def finish(self, state: bytes, signature: bytes) -> bytes:
        with _answers():
            return await pades.finish_external(state, signature, tsa_url=self.tsa_url)

    async def extend_to_lta(self, document: bytes) -> bytes:
        with _answers():
            return await pades.extend_to_lta(document, self.trust, tsa_url=self.tsa_url)

    async def validate(self, document: bytes) -> validation.DocumentReport:
        return await validation.validate(document, self.trust)
