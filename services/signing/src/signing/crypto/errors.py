"""Exceptions of the cryptographic core. Each names a cause the service layer can turn into a
problem response without parsing a message; like ``NotAPdf`` and ``WrongSignature``, which the
service layer was promised, they are named after the cause, without an ``Error`` suffix."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of the errors raised by ``signing.crypto``."""


class NotAPdf(CryptoError):  # noqa: N818
    """The input is not a PDF that pyHanko can read (or it is encrypted)."""


class WrongSignature(CryptoError):  # noqa: N818
    """A client's signature value does not verify against the certificate's public key."""


class BadCertificate(CryptoError):  # noqa: N818
    """Bytes that should hold a certificate (or a PEM bundle) do not."""


class StateCorrupted(CryptoError):  # noqa: N818
    """A prepared signature's state was altered, truncated or comes from another version."""


class TokenError(CryptoError):
    """The PKCS#11 token refused an operation or lacks the object asked for."""


class TimestampUnavailable(CryptoError):  # noqa: N818
    """The time-stamping authority could not be reached or answered with an error."""


class RevocationUnavailable(CryptoError):  # noqa: N818
    """OCSP responders or CRL servers did not answer while revocation data was collected."""
