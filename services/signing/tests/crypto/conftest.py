"""The session's test PKI, animator and SoftHSM2 token (see ``signing.crypto_testing``)."""

from __future__ import annotations

from signing.crypto_testing import signing_pki

__all__ = ["signing_pki"]
