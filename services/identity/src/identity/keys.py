"""The keys identity signs access tokens with, and the JWKS every service verifies them against.

A key signs for ``SIGNING_KEY_LIFETIME`` at most; ``KeyRing.rotate`` replaces it earlier when asked
(a scheduled rotation, a suspected leak). A key that stopped signing stays published until every
token it could have signed has expired, as the verifiers see expiry (``MAX_ACCESS_TOKEN_LIFETIME``
plus ``VERIFIER_LEEWAY``); only then does it leave the JWKS, so a rotation never logs anyone out.

Everything here is pure apart from key generation: the current time is always passed in.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAX_ACCESS_TOKEN_LIFETIME: Final = timedelta(minutes=15)
"""The longest an access token may live (issue #3); tokens.py enforces it when minting."""

VERIFIER_LEEWAY: Final = timedelta(seconds=60)
"""Clock skew the verifiers tolerate after ``exp``: ``common.auth`` defaults to 30 s; twice that
covers a service configured more generously and identity's own clock being a little behind."""

SIGNING_KEY_LIFETIME: Final = timedelta(days=30)
"""How long one key may sign. Short enough that a key copied unnoticed from a backup is soon
worthless, long enough that the JWKS holds one or two keys and verifiers rarely refetch."""

ROTATE_AHEAD: Final = timedelta(days=1)
"""``KeyRing.needs_rotation`` says yes this long before the active key stops signing, so a daily
job rotates in time even if one run fails."""

MIN_PASSPHRASE_BYTES: Final = 16


class NoSigningKeyError(RuntimeError):
    """The ring has no key that may sign now: rotate first."""


class KeyDecryptionError(ValueError):
    """A stored key could not be read: wrong key-encryption passphrase, or a damaged record."""


def jwk_thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an OKP public key: SHA-256 of the required members, base64url.

    Used as the ``kid`` so the id follows from the key itself: two instances loading the same
    key agree on its id, and a stored record whose id does not match its key is detected.
    """
    required = {"crv": public_jwk["crv"], "kty": public_jwk["kty"], "x": public_jwk["x"]}
    # RFC 7638 §3: members in lexicographic order, no whitespace.
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_jwk(private: Ed25519PrivateKey) -> dict[str, str]:
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key as the service keeps it in its database: the private half encrypted."""

    kid: str
    created_at: datetime
    not_after: datetime
    retired_at: datetime | None
    private_pem: bytes


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One Ed25519 key pair; signs from ``created_at`` until ``not_after`` or its retirement."""

    kid: str
    created_at: datetime
    not_after: datetime
    # repr=False: a key must never end up in a log line or a traceback.
    private: Ed25519PrivateKey = field(repr=False, compare=False)
    retired_at: datetime | None = None

    @classmethod
    def generate(cls, now: datetime, *, lifetime: timedelta = SIGNING_KEY_LIFETIME) -> SigningKey:
        _require_aware(now)
        private = Ed25519PrivateKey.generate()
        return cls(
            kid=jwk_thumbprint(_public_jwk(private)),
            created_at=now,
            not_after=now + lifetime,
            private=private,
        )

    def may_sign(self, now: datetime) -> bool:
        return self.retired_at is None and self.created_at <= now < self.not_after

    @property
    def stopped_signing_at(self) -> datetime:
        if self.retired_at is None:
            return self.not_after
        return min(self.retired_at, self.not_after)

    def published_until(
        self, *, max_token_lifetime: timedelta, leeway: timedelta = VERIFIER_LEEWAY
    ) -> datetime:
        """When the last token this key could have signed is expired for every verifier."""
        return self.stopped_signing_at + max_token_lifetime + leeway

    def retire(self, now: datetime) -> SigningKey:
        return self if self.retired_at is not None else replace(self, retired_at=now)

    def public_jwk(self) -> dict[str, str]:
        return {**_public_jwk(self.private), "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    def to_stored(self, passphrase: bytes) -> StoredKey:
        """PKCS#8 PEM encrypted with the key-encryption passphrase (from the service settings)."""
        _check_passphrase(passphrase)
        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        return StoredKey(self.kid, self.created_at, self.not_after, self.retired_at, pem)

    @classmethod
    def from_stored(cls, stored: StoredKey, passphrase: bytes) -> SigningKey:
        try:
            private = serialization.load_pem_private_key(stored.private_pem, password=passphrase)
        except (ValueError, TypeError) as exc:
            # cryptography says "Bad decrypt" or "password required"; the caller needs to know
            # which key and that it is the passphrase or the record, not an OpenSSL detail.
            raise KeyDecryptionError(
                f"signing key {stored.kid} could not be decrypted: wrong passphrase or damaged"
            ) from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyDecryptionError(f"signing key {stored.kid} is not an Ed25519 key")
        if jwk_thumbprint(_public_jwk(private)) != stored.kid:
            raise KeyDecryptionError(f"signing key {stored.kid} does not match its key id")
        return cls(
            kid=stored.kid,
            created_at=stored.created_at,
            not_after=stored.not_after,
            private=private,
            retired_at=stored.retired_at,
        )


class KeyStore(Protocol):
    """Where the service persists its signing keys (a table in its database, later)."""

    async def load_all(self) -> list[StoredKey]: ...

    async def save(self, key: StoredKey) -> None:
        """Insert the key, or update ``retired_at`` of the key with this ``kid``."""
        ...

    async def delete(self, kid: str) -> None: ...


class KeyRing:
    """The service's signing keys: one active, the retired ones until their tokens are gone."""

    def __init__(
        self,
        keys: Iterable[SigningKey] = (),
        *,
        max_token_lifetime: timedelta = MAX_ACCESS_TOKEN_LIFETIME,
        leeway: timedelta = VERIFIER_LEEWAY,
    ) -> None:
        self.max_token_lifetime = max_token_lifetime
        self.leeway = leeway
        self._keys: list[SigningKey] = sorted(keys, key=lambda k: k.created_at)

    @classmethod
    def create(cls, now: datetime, *, lifetime: timedelta = SIGNING_KEY_LIFETIME) -> KeyRing:
        return cls([SigningKey.generate(now, lifetime=lifetime)])

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        return tuple(self._keys)

    def active(self, now: datetime) -> SigningKey:
        """The newest key that may sign now."""
        _require_aware(now)
        for key in reversed(self._keys):
            if key.may_sign(now):
                return key
        raise NoSigningKeyError("no signing key is valid now; rotate the key ring")

    def needs_rotation(self, now: datetime, *, ahead: timedelta = ROTATE_AHEAD) -> bool:
        try:
            return self.active(now).not_after - now <= ahead
        except NoSigningKeyError:
            return True

    def rotate(self, now: datetime, *, lifetime: timedelta = SIGNING_KEY_LIFETIME) -> SigningKey:
        """Retire every signing key and make a new active one; returns the new key.

        The retired keys stay published (see ``published``), so tokens they signed keep verifying.
        Verifiers learn the new ``kid`` on first sight: ``common.auth`` refetches the JWKS for an
        unknown kid.
        """
        _require_aware(now)
        self._keys = [k.retire(now) for k in self._keys]
        new = SigningKey.generate(now, lifetime=lifetime)
        self._keys.append(new)
        return new

    def is_published(self, key: SigningKey, now: datetime) -> bool:
        until = key.published_until(max_token_lifetime=self.max_token_lifetime, leeway=self.leeway)
        return key.created_at <= now < until

    def published(self, now: datetime) -> list[SigningKey]:
        _require_aware(now)
        return [k for k in self._keys if self.is_published(k, now)]

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The JWK set to serve at ``/.well-known/jwks.json``: public halves only."""
        return {"keys": [k.public_jwk() for k in reversed(self.published(now))]}

    def prune(self, now: datetime) -> list[SigningKey]:
        """Forget keys no longer published; returns them so the store can delete them too."""
        _require_aware(now)
        gone = [k for k in self._keys if k.created_at <= now and not self.is_published(k, now)]
        self._keys = [k for k in self._keys if k not in gone]
        return gone

    def to_stored(self, passphrase: bytes) -> list[StoredKey]:
        return [k.to_stored(passphrase) for k in self._keys]

    @classmethod
    def from_stored(
        cls,
        stored: Iterable[StoredKey],
        passphrase: bytes,
        *,
        max_token_lifetime: timedelta = MAX_ACCESS_TOKEN_LIFETIME,
        leeway: timedelta = VERIFIER_LEEWAY,
    ) -> KeyRing:
        return cls(
            (SigningKey.from_stored(s, passphrase) for s in stored),
            max_token_lifetime=max_token_lifetime,
            leeway=leeway,
        )


def _check_passphrase(passphrase: bytes) -> None:
    # An empty or short passphrase would make the "encrypted" keys in the database decorative.
    if len(passphrase) < MIN_PASSPHRASE_BYTES:
        raise ValueError(f"key-encryption passphrase must be at least {MIN_PASSPHRASE_BYTES} bytes")


def _require_aware(now: datetime) -> None:
    # Naive datetimes compare wrongly with the aware ones in stored keys and claims.
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
