"""Encryption of small secrets at rest and keyed hashes, for every service that keeps some.

AES-256-GCM with a key derived (HKDF-SHA256) from a service's data key (``<SVC>_DATA_KEY``) and
a purpose label, so one key never serves two purposes. The associated data binds a ciphertext to
its owner (a user or student id), so a value copied to another row does not decrypt there.
Stored form: version byte ``1`` ‖ 12-byte nonce ‖ ciphertext and tag.

Identity keeps TOTP seeds and recovery-code hashes with it; records, national ID numbers
(số định danh cá nhân) and their keyed hash for look-ups and uniqueness.
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
    def __init__(self, data_key: bytes, *, cipher_purpose: bytes, hash_purpose: bytes) -> None:
        if len(data_key) < 16:
            raise ValueError("the data key must be at least 16 bytes")
        if cipher_purpose == hash_purpose:
            raise ValueError("the cipher and hash purposes must differ")
        self._aead = AESGCM(_derive(data_key, cipher_purpose))
        self._mac_key = _derive(data_key, hash_purpose)

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
        """HMAC-SHA256 of ``value``: without the data key a copy of the database gives nothing
        to brute-force offline (a recovery code, a 12-digit ID number)."""
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()
