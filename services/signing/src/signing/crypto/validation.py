"""Validation of every signature and document timestamp in a PDF, reported in stable codes
(for the API and the database) and in a short Vietnamese summary (for people).

A signature with a document timestamp after it goes through pyHanko's AdES long-term
validation (``ades_lta_validation``): it reads the document's DSS and takes the document
timestamps as proof of existence, so an archived (B-LTA) file validates offline against the
revocation data embedded when it was archived. A signature not yet archived (B-B, B-T) is
validated at the current time with pyHanko's classic validation. Online, missing revocation data
is fetched; offline, it is reported as "unknown" rather than assumed good.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    EmbeddedPdfSignature,
    SignatureCoverageLevel,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import DocumentTimestampStatus, PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

from signing.crypto.certs import Trust, common_name, serial_hex, sha256_hex
from signing.crypto.pades import open_reader

VIETNAM: Final = ZoneInfo("Asia/Ho_Chi_Minh")
log = logging.getLogger(__name__)

_EXPIRY: Final = frozenset(
    {
        AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
        AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
        AdESIndeterminate.EXPIRED,
        AdESIndeterminate.NOT_YET_VALID,
    }
)
_MODIFICATION: Final = {
    ModificationLevel.NONE: "none",
    ModificationLevel.LTA_UPDATES: "archival-data",  # DSS and document timestamps
    ModificationLevel.FORM_FILLING: "form-filling",  # includes later signatures
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other",
}
_COVERAGE: Final = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire-file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire-revision",
}
# Vietnamese certificates carry digitalSignature, nonRepudiation or both; either will do.
_KEY_USAGE: Final = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)

_PROBLEMS_VI: Final = {
    "modified-after-signing": "tài liệu đã bị sửa đổi sau khi ký",
    "bad-signature": "giá trị chữ ký không đúng",
    "untrusted-chain": "chứng thư số không do tổ chức được tin cậy cấp",
    "revoked": "chứng thư số đã bị thu hồi",
    "expired": "chứng thư số đã hết hạn hoặc chưa có hiệu lực khi ký",
    "revocation-unknown": "chưa xác minh được tình trạng thu hồi của chứng thư số",
    "key-usage": "chứng thư số không được phép dùng để ký",
    "partial-coverage": "chữ ký không bao trùm toàn bộ phiên bản tài liệu",
    "timestamp-invalid": "dấu thời gian không hợp lệ",
    "timestamp-untrusted": "dấu thời gian không do tổ chức được tin cậy cấp",
    "unreadable-signature": "không đọc được chữ ký",
}


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """One signature or document timestamp, in document order."""

    field_name: str
    is_timestamp: bool
    signer: str  # the certificate's common name (the TSA's for a document timestamp)
    serial_hex: str
    sha256: str
    signing_time: datetime | None  # as claimed by the signer (/M), not proven
    timestamp_time: datetime | None  # signature timestamp, or the document timestamp's time
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the signature value verifies
    trusted: bool  # the certificate chains to one of the trust anchors
    revocation: str  # "good" | "revoked" | "unknown"
    revoked_at: datetime | None
    modification: str  # what changed after it: none, archival-data, form-filling, ...
    coverage: str  # "entire-file" | "entire-revision" | "partial"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary_vi(self) -> str:
        if self.is_timestamp:
            subject = f"Dấu thời gian {self._when(self.timestamp_time)}của {self.signer}"
        else:
            subject = f"Chữ ký của {self.signer}"
        if self.ok:
            return f"{subject} hợp lệ."
        reasons = []
        for code in self.problems:
            reason = _PROBLEMS_VI.get(code, code)
            if code == "revoked" and self.revoked_at is not None:
                reason += f" từ ngày {self.revoked_at.astimezone(VIETNAM):%d/%m/%Y}"
            reasons.append(reason)
        return f"{subject} không hợp lệ: {'; '.join(reasons)}."

    @staticmethod
    def _when(moment: datetime | None) -> str:
        return "" if moment is None else f"lúc {moment.astimezone(VIETNAM):%d/%m/%Y %H:%M} "


@dataclass(frozen=True, slots=True)
class DocumentReport:
    signatures: list[SignatureReport]
    covers_whole_document: bool  # the last signature or timestamp covers every byte
    ltv: bool  # archived (B-LTA): DSS plus a document timestamp after every signature
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(s.ok for s in self.signatures)

    def summary_vi(self) -> str:
        lines = [s.summary_vi() for s in self.signatures]
        if not self.signatures:
            lines.append("Tài liệu chưa có chữ ký số.")
        elif not self.covers_whole_document:
            lines.append("Tài liệu có nội dung được thêm sau chữ ký cuối cùng.")
        if self.ltv:
            lines.append("Tài liệu đã được lưu trữ dài hạn (kiểm tra được khi không có mạng).")
        return "\n".join(lines)


async def validate(pdf: bytes, trust: Trust, *, at: datetime | None = None) -> DocumentReport:
    """Validate every signature and document timestamp of ``pdf`` against ``trust``, as of now
    or as of ``at`` (to check, say, that an archived file still validates offline next year)."""
    reader = open_reader(pdf)
    embedded = list(reader.embedded_signatures)
    dss = _dss(reader)
    last_archive = max(
        (s.signed_revision for s in embedded if s.sig_object_type == "/DocTimeStamp"), default=-1
    )
    # One context per kind for the whole document: revocation data fetched for one signature
    # serves the next (the same CA, the same TSA). Certificates any signature carries help
    # build every path, the TSA's above all: its tokens often carry only its own certificate.
    known = [c for s in embedded for c in (s.signer_cert, *s.other_embedded_certs)]
    evidence: dict[str, Any] = {
        "moment": at,
        "others": [*known, *(dss.certs if dss else ())],
        "ocsps": dss.ocsps if dss else (),
        "crls": dss.crls if dss else (),
    }
    contexts = _Contexts(
        signatures=trust.validation_context(**evidence),
        timestamps=trust.validation_context(for_timestamps=True, **evidence),
    )
    try:
        reports = []
        for signature in embedded:
            if signature.sig_object_type == "/DocTimeStamp":
                reports.append(await _timestamp_report(signature, contexts, trust, known))
            elif signature.signed_revision < last_archive:
                reports.append(await _archived_signature_report(signature, trust, known, at))
            else:
                reports.append(await _signature_report(signature, contexts, trust, known, at))
    finally:
        await contexts.close()
    covers = bool(reports) and reports[-1].coverage == "entire-file"
    ltv = _is_archived(embedded, reports, has_dss=dss is not None)
    problems = []
    if not reports:
        problems.append("no-signatures")
    elif not covers:
        problems.append("changed-after-last-signature")
    return DocumentReport(reports, covers, ltv, problems)


@dataclass(frozen=True, slots=True)
class _Contexts:
    signatures: ValidationContext
    timestamps: ValidationContext

    async def close(self) -> None:
        for context in (self.signatures, self.timestamps):
            await context.aclose()  # type: ignore[no-untyped-call]  # unannotated in certvalidator


def _is_archived(
    embedded: list[EmbeddedPdfSignature], reports: list[SignatureReport], *, has_dss: bool
) -> bool:
    last_signature = max(
        (s.signed_revision for s in embedded if s.sig_object_type != "/DocTimeStamp"), default=-1
    )
    return has_dss and any(
        s.sig_object_type == "/DocTimeStamp" and s.signed_revision > last_signature and r.ok
        for s, r in zip(embedded, reports, strict=True)
    )


@dataclass(frozen=True, slots=True)
class _Dss:
    certs: list[Any]
    ocsps: list[bytes]
    crls: list[bytes]


def _dss(reader: PdfFileReader) -> _Dss | None:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None
    return _Dss(
        certs=list(dss.load_certs()),
        ocsps=[ref.get_object().data for ref in dss.ocsps],
        crls=[ref.get_object().data for ref in dss.crls],
    )


def _spec(trust: Trust, known: list[Any]) -> PdfSignatureValidationSpec:
    rule = (
        RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH
        if trust.fetch_online
        else RevinfoOnlineFetchingRule.LOCAL_ONLY
    )
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=trust.policy(),
            ts_cert_validation_policy=trust.policy(for_timestamps=True),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=rule),
            local_knowledge=LocalKnowledge(known_certs=[*trust.others, *known]),
            key_usage_settings=_KEY_USAGE,
        )
    )


async def _archived_signature_report(
    signature: EmbeddedPdfSignature, trust: Trust, known: list[Any], at: datetime | None
) -> SignatureReport:
    """A signature with a document timestamp after it: AdES long-term validation, which takes
    the timestamps as proof that the signature and the DSS's revocation data existed then."""
    try:
        timing = (
            None if at is None else ValidationTimingInfo(at, at, point_in_time_validation=False)
        )
        result = await ades_lta_validation(signature, _spec(trust, known), timing_info=timing)
        status = result.api_status
    except (SignatureValidationError, SigningError, PdfError, ValueError) as error:
        log.warning("signature %s could not be validated: %s", signature.field_name, error)
        return _unreadable(signature, signature.signer_cert)
    if not isinstance(status, PdfSignatureStatus):
        return _unreadable(signature, signature.signer_cert)
    return await _report(signature, status, trust, known, at)


async def _signature_report(
    signature: EmbeddedPdfSignature,
    contexts: _Contexts,
    trust: Trust,
    known: list[Any],
    at: datetime | None,
) -> SignatureReport:
    """A signature not yet archived: validated now, as pyHanko's classic validation does (a
    third faster than the AdES process, which would look for proof of existence in vain)."""
    try:
        status = await async_validate_pdf_signature(
            signature,
            signer_validation_context=contexts.signatures,
            ts_validation_context=contexts.timestamps,
            key_usage_settings=_KEY_USAGE,
        )
    except (SignatureValidationError, SigningError, PdfError, ValueError) as error:
        log.warning("signature %s could not be validated: %s", signature.field_name, error)
        return _unreadable(signature, signature.signer_cert)
    return await _report(signature, status, trust, known, at)


async def _report(
    signature: EmbeddedPdfSignature,
    status: PdfSignatureStatus,
    trust: Trust,
    known: list[Any],
    at: datetime | None,
) -> SignatureReport:
    certificate = signature.signer_cert
    timestamp = status.timestamp_validity
    # The chain as of signing (the timestamp's time when there is one), revocation aside.
    chain_ok = await _chain_ok(
        status, trust, known, at=timestamp.timestamp if timestamp is not None else at
    )
    problems = _problems(status, chain_ok=chain_ok)
    if timestamp is not None and not (timestamp.intact and timestamp.valid):
        problems.append("timestamp-invalid")
    elif timestamp is not None and not timestamp.trusted:
        problems.append("timestamp-untrusted")
    return SignatureReport(
        field_name=str(signature.field_name),
        is_timestamp=False,
        signer=common_name(certificate),
        serial_hex=serial_hex(certificate),
        sha256=sha256_hex(certificate),
        signing_time=signature.self_reported_timestamp,
        timestamp_time=None if timestamp is None else timestamp.timestamp,
        intact=status.intact,
        valid=status.valid,
        trusted=chain_ok,
        revocation=_revocation(status),
        revoked_at=None
        if status.revocation_details is None
        else status.revocation_details.revocation_date,
        modification=_modification(status.modification_level),
        coverage=_coverage(status.coverage),
        problems=problems,
    )


async def _timestamp_report(
    signature: EmbeddedPdfSignature, contexts: _Contexts, trust: Trust, known: list[Any]
) -> SignatureReport:
    certificate = signature.signer_cert
    try:
        status = await async_validate_pdf_timestamp(
            signature, validation_context=contexts.timestamps
        )
    except (SignatureValidationError, PathBuildingError, PathValidationError, PdfError) as error:
        log.warning("timestamp %s could not be validated: %s", signature.field_name, error)
        return _unreadable(signature, certificate)
    if not isinstance(status, DocumentTimestampStatus):  # pragma: no cover - pyHanko's contract
        raise TypeError(f"unexpected status {type(status).__name__}")
    chain_ok = await _chain_ok(status, trust, known, at=status.timestamp, for_timestamps=True)
    return SignatureReport(
        field_name=str(signature.field_name),
        is_timestamp=True,
        signer=common_name(certificate),
        serial_hex=serial_hex(certificate),
        sha256=sha256_hex(certificate),
        signing_time=None,
        timestamp_time=status.timestamp,
        intact=status.intact,
        valid=status.valid,
        trusted=chain_ok,
        revocation=_revocation(status),
        revoked_at=None
        if status.revocation_details is None
        else status.revocation_details.revocation_date,
        modification=_modification(status.modification_level),
        coverage=_coverage(status.coverage),
        problems=_problems(status, chain_ok=chain_ok),
    )


def _unreadable(signature: EmbeddedPdfSignature, certificate: Any) -> SignatureReport:
    return SignatureReport(
        field_name=str(signature.field_name),
        is_timestamp=signature.sig_object_type == "/DocTimeStamp",
        signer=common_name(certificate),
        serial_hex=serial_hex(certificate),
        sha256=sha256_hex(certificate),
        signing_time=signature.self_reported_timestamp,
        timestamp_time=None,
        intact=False,
        valid=False,
        trusted=False,
        revocation="unknown",
        revoked_at=None,
        modification="unknown",
        coverage="partial",
        problems=["unreadable-signature"],
    )


async def _chain_ok(
    status: PdfSignatureStatus | DocumentTimestampStatus,
    trust: Trust,
    known: list[Any],
    *,
    at: datetime | None,
    for_timestamps: bool = False,
) -> bool:
    """Whether the certificate chains to an anchor. pyHanko folds "no revocation data" into
    the same indication as a broken chain, so a failed validation gets a second, revocation-free
    look; a path pyHanko did validate, or a revocation (found on a path), settles it at once."""
    if status.trusted or status.revocation_details is not None:
        return True
    if status.trust_problem_indic == AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return False
    return await trust.reaches_anchor(
        status.signing_cert, known, at=at, for_timestamps=for_timestamps
    )


def _revocation(status: PdfSignatureStatus | DocumentTimestampStatus) -> str:
    if status.revocation_details is not None:
        return "revoked"
    # A path is only validated when revocation data was found for every certificate in it.
    return "good" if status.trusted else "unknown"


def _modification(level: ModificationLevel | None) -> str:
    return "unknown" if level is None else _MODIFICATION[level]


def _coverage(level: SignatureCoverageLevel | None) -> str:
    return "partial" if level is None else _COVERAGE.get(level, "partial")


def _problems(status: PdfSignatureStatus | DocumentTimestampStatus, *, chain_ok: bool) -> list[str]:
    problems: list[str] = []

    def add(code: str) -> None:
        if code not in problems:
            problems.append(code)

    if not status.intact:
        add("modified-after-signing")
    elif not status.valid:
        add("bad-signature")
    if status.modification_level in {ModificationLevel.OTHER, None} or status.docmdp_ok is False:
        add("modified-after-signing")
    if _coverage(status.coverage) == "partial":
        add("partial-coverage")
    indication = status.trust_problem_indic
    if status.revocation_details is not None:
        add("revoked")
    elif indication in _EXPIRY:
        add("expired")
    elif indication == AdESIndeterminate.SIG_CONSTRAINTS_FAILURE:
        add("key-usage")
    elif not chain_ok:
        add("untrusted-chain")
    elif not status.trusted and status.intact and status.valid:
        add("revocation-unknown")
    return problems


def problem_codes() -> Iterable[str]:
    """Every code a signature report can carry (for API docs and tests); a document report adds
    "no-signatures" and "changed-after-last-signature"."""
    return _PROBLEMS_VI.keys()
