"""The signing service's cryptographic core: PAdES signatures on PDF bytes (``pades``), their
validation (``validation``), certificates and trust (``certs``), keys in a PKCS#11 token
(``keys``), the visible stamp (``stamp``), a test PKI (``pki``) and a sample document
(``sample``). No database, HTTP or bus here: the service layer calls these functions."""

from signing.crypto.certs import CertChain, Trust
from signing.crypto.errors import (
    BadCertificate,
    CryptoError,
    NotAPdf,
    RevocationUnavailable,
    StateCorrupted,
    TimestampUnavailable,
    TokenError,
    WrongSignature,
)
from signing.crypto.keys import TokenKeys, init_token
from signing.crypto.pades import (
    FieldTaken,
    Placement,
    PreparedSignature,
    extend_to_lta,
    finish_external,
    prepare_external,
    retimestamp,
    sign,
)
from signing.crypto.stamp import StampText
from signing.crypto.validation import DocumentReport, SignatureReport, validate

__all__ = [
    "BadCertificate",
    "CertChain",
    "CryptoError",
    "DocumentReport",
    "FieldTaken",
    "NotAPdf",
    "Placement",
    "PreparedSignature",
    "RevocationUnavailable",
    "SignatureReport",
    "StampText",
    "StateCorrupted",
    "TimestampUnavailable",
    "TokenError",
    "TokenKeys",
    "Trust",
    "WrongSignature",
    "extend_to_lta",
    "finish_external",
    "init_token",
    "prepare_external",
    "retimestamp",
    "sign",
    "validate",
]
