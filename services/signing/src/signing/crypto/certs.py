"""Certificates as the signing service handles them: a signer's chain, and the trust that a
validation runs against.

asn1crypto's ``Certificate`` is the currency because pyHanko and its certificate validator speak
it; conversions to ``cryptography`` happen only where a signature value is checked by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import pem, x509  # type: ignore[import-untyped]  # asn1crypto ships no types
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.errors import PathBuildingError, ValidationError
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from signing.crypto.errors import BadCertificate


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: one DER certificate or a bundle of PEM blocks."""
    if not pem.detect(data):
        try:
            return [x509.Certificate.load(data, strict=True)]
        except ValueError as error:
            raise BadCertificate("not a DER certificate or PEM bundle") from error
    certificates = []
    for kind, _headers, der in pem.unarmor(data, multiple=True):
        if kind != "CERTIFICATE":
            continue  # bundles from CAs often carry keys or comments; only certificates count
        try:
            certificates.append(x509.Certificate.load(der, strict=True))
        except ValueError as error:
            raise BadCertificate("a PEM block is not a certificate") from error
    if not certificates:
        raise BadCertificate("no certificate in the PEM bundle")
    return certificates


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return bytes(pem.armor("CERTIFICATE", certificate.dump()))


def sha256_hex(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.dump()).hexdigest()


def serial_hex(certificate: x509.Certificate) -> str:
    return format(int(certificate.serial_number), "x")


def common_name(certificate: x509.Certificate) -> str:
    name = certificate.subject.native
    return str(name.get("common_name") or certificate.subject.human_friendly)


@dataclass(frozen=True, slots=True)
class CertChain:
    """A signer's certificate and the intermediates a validator needs to reach a root.

    The order is the PEM bundle's: the signer first. A root in the bundle is kept as an
    intermediate; it does no harm in a CMS structure and some validators want it.
    """

    signer: x509.Certificate
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pem(cls, bundle: bytes) -> CertChain:
        first, *rest = load_certificates(bundle)
        return cls(first, tuple(rest))

    def to_pem(self) -> bytes:
        return b"".join(certificate_pem(c) for c in self.certificates)

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        return (self.signer, *self.intermediates)

    @property
    def common_name(self) -> str:
        return common_name(self.signer)

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.signer)

    @property
    def sha256(self) -> str:
        return sha256_hex(self.signer)

    @property
    def not_before(self) -> datetime:
        value: datetime = self.signer.not_valid_before
        return value

    @property
    def not_after(self) -> datetime:
        value: datetime = self.signer.not_valid_after
        return value

    @property
    def key_algorithm(self) -> str:
        """``ec`` or ``rsa`` (asn1crypto's names)."""
        return str(self.signer.public_key.algorithm)


@dataclass(frozen=True, slots=True)
class Trust:
    """What a validation may rely on.

    ``anchors`` are the roots we accept; ``others`` help build paths (a TSA's token often
    carries only the TSA's own certificate); ``timestamp_anchors`` are TSA certificates trusted
    as such, the way a trusted list lists a time-stamping service. Without them the newest
    document timestamp of an archived file needs fresh revocation data for its TSA, which an
    offline check years later cannot have, and pyHanko then finds no proof of existence for the
    signatures. ``fetch_online`` allows fetching OCSP responses and CRLs; without it only what
    the document carries (its DSS, the CMS certificates) counts.
    """

    anchors: tuple[x509.Certificate, ...]
    others: tuple[x509.Certificate, ...] = ()
    timestamp_anchors: tuple[x509.Certificate, ...] = ()
    fetch_online: bool = True
    # Tolerated clock difference between this machine and a TSA or OCSP responder.
    time_tolerance: timedelta = field(default=timedelta(seconds=5))

    @classmethod
    def of(
        cls,
        anchors: Iterable[x509.Certificate],
        others: Iterable[x509.Certificate] = (),
        timestamp_anchors: Iterable[x509.Certificate] = (),
        *,
        fetch_online: bool = True,
    ) -> Trust:
        return cls(tuple(anchors), tuple(others), tuple(timestamp_anchors), fetch_online)

    def offline(self) -> Trust:
        return replace(self, fetch_online=False)

    def validation_context(
        self,
        *,
        for_timestamps: bool = False,
        others: Iterable[x509.Certificate] = (),
        crls: Iterable[Any] = (),
        ocsps: Iterable[Any] = (),
        require_revocation: bool = True,
        moment: datetime | None = None,
    ) -> ValidationContext:
        """A fresh context; the caller closes it (``await context.aclose()``) because an online
        one owns an HTTP session. By default revocation data is required: missing data is a
        failure that validation reports as revocation "unknown", never a silent pass; with
        ``require_revocation=False`` only data that can be had is checked (a revoked certificate
        still fails)."""
        return ValidationContext(
            trust_manager=self._trust_manager(for_timestamps=for_timestamps),
            other_certs=[*self.others, *others],
            allow_fetching=self.fetch_online,
            crls=crls,
            ocsps=ocsps,
            revocation_mode="require" if require_revocation else "soft-fail",
            time_tolerance=self.time_tolerance,
            moment=moment,
        )

    async def reaches_anchor(
        self,
        certificate: x509.Certificate,
        others: Iterable[x509.Certificate] = (),
        *,
        at: datetime | None = None,
        for_timestamps: bool = False,
    ) -> bool:
        """Whether ``certificate`` chains to an anchor and every certificate on the way is
        valid at ``at`` (default now), revocation left aside. Validation uses it to tell an
        untrusted chain from one whose revocation status could not be checked."""
        context = ValidationContext(
            trust_manager=self._trust_manager(for_timestamps=for_timestamps),
            other_certs=[*self.others, *others],
            moment=at,
            revocation_mode="none",
            time_tolerance=self.time_tolerance,
        )
        validator = CertificateValidator(certificate, validation_context=context)
        try:
            await validator.async_validate_path()
        except (PathBuildingError, ValidationError):
            return False
        finally:
            await context.aclose()  # type: ignore[no-untyped-call]  # unannotated in certvalidator
        return True

    def policy(self, *, for_timestamps: bool = False) -> CertValidationPolicySpec:
        return CertValidationPolicySpec(
            trust_manager=self._trust_manager(for_timestamps=for_timestamps),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            time_tolerance=self.time_tolerance,
        )

    def _trust_manager(self, *, for_timestamps: bool) -> SimpleTrustManager:
        roots = [*self.anchors, *(self.timestamp_anchors if for_timestamps else ())]
        manager: SimpleTrustManager = SimpleTrustManager.build(trust_roots=roots)
        return manager
