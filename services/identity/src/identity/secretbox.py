"""Identity's secret box: TOTP seeds encrypted at rest, recovery codes as keyed hashes."""

from __future__ import annotations

from common.secretbox import SecretBox, SecretBoxError

__all__ = ["SecretBox", "SecretBoxError", "identity_secret_box"]


def identity_secret_box(data_key: bytes) -> SecretBox:
    # The labels predate the shared module; changing them would orphan every stored seed.
    return SecretBox(
        data_key,
        cipher_purpose=b"hsdt-identity totp-secret v1",
        hash_purpose=b"hsdt-identity recovery-code v1",
    )
