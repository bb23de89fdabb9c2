"""Encryption of small secrets at rest (TOTP seeds) and keyed hashes (recovery codes).

AES-256-GCM with a key derived (HKDF-SHA256) from ``IDENTITY_DATA_KEY``. The associated data
binds a ciphertext to its owner (the user id), so a seed copied to another account's row does not
decrypt there. Stored form: version byte ``1`` ‖ 12-byte nonce ‖ ciphertext and tag.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION: Final = b"\x01"
_NONCE_BYTES: Final = 12


class SecretBoxError(ValueError):
    """A stored secret could not be decrypted: wrong data key, or a damaged or moved record."""


def _derive(data_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(data_key)


class SecretBox:
    def __init__(self, data_key: bytes) -> None:
        if len(data_key) < 16:
            raise ValueError("the data key must be at least 16 bytes")
        self._aead = AESGCM(_derive(data_key, b"hsdt-identity totp-secret v1"))
        self._mac_key = _derive(data_key, b"hsdt-identity recovery-code v1")

    def encrypt(self, plaintext: bytes, *, owner: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, owner.encode())

    def decrypt(self, stored: bytes, *, owner: str) -> bytes:
        if stored[:1] != _VERSION or len(stored) < 1 + _NONCE_BYTES + 16:
            raise SecretBoxError("unknown format of a stored secret")
        nonce, body = stored[1 : 1 + _NONCE_BYTES], stored[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, owner.encode())
        except InvalidTag:
            raise SecretBoxError("stored secret does not decrypt with this data key") from None

    def keyed_hash(self, value: str) -> str:
        """HMAC-SHA256 of ``value``: recovery codes have ~50 random bits, and without the data
        key a copy of the database gives nothing to brute-force offline."""
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()
