"""The ``signing_world`` fixture (a migrated signing app on the test PKI and SoftHSM2 token)."""

from signing.crypto_testing import signing_pki
from signing.testing import signing_world

__all__ = ["signing_pki", "signing_world"]
