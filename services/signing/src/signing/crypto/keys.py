"""Private keys in a PKCS#11 token (SoftHSM2 in development and tests, an HSM in production).

A key is born in the token (``generate_key``) or, for the test PKI, imported once and marked
non-extractable; either way the service never holds key material afterwards — it asks the
token to sign. One session is opened and kept: opening a session and logging in costs more
than a signature. A PKCS#11 session must not be used from two threads at once, and pyHanko
signs in a thread-pool executor, so every call into the token goes through one lock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pkcs11
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
from pkcs11.util.rsa import decode_rsa_private_key
from pyhanko.sign.pkcs11 import PKCS11Signer

from signing.crypto.certs import CertChain
from signing.crypto.errors import TokenError

DEFAULT_MODULE: Final = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_UTIL: Final = "softhsm2-util"
# SoftHSM 2.6 and many HSMs take EC parameters by named-curve OID.
_CURVES: Final = {"secp256r1": "secp256r1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}


@dataclass(frozen=True, slots=True)
class _LockedKey:
    """A private-key handle whose ``sign`` holds the token's lock (pyHanko calls it from a
    worker thread)."""

    key: Any
    lock: threading.Lock

    def sign(self, data: bytes, **kwargs: Any) -> bytes:
        with self.lock:
            signature: bytes = self.key.sign(data, **kwargs)
            return signature


class _TokenSigner(PKCS11Signer):
    """pyHanko's PKCS#11 signer, fed the cached key handle instead of searching the token on
    first use (the search would run outside our lock)."""

    def __init__(self, key: _LockedKey, session: Any, label: str, chain: CertChain) -> None:
        super().__init__(
            session,
            key_label=label,
            signing_cert=chain.signer,
            ca_chain=list(chain.intermediates),
            other_certs_to_pull=(),
            # SoftHSM 2.6 lacks CKM_ECDSA_SHA256: hash here, let the token do raw ECDSA.
            use_raw_mechanism=chain.key_algorithm == "ec",
        )
        self._locked_key = key

    def _pull_signing_key_handle(self) -> _LockedKey:
        return self._locked_key


class TokenKeys:
    """The service's keys in one token, behind one logged-in session."""

    def __init__(self, module_path: str, token_label: str, user_pin: str) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, _LockedKey] = {}
        try:
            library = pkcs11.lib(module_path)
            token = library.get_token(token_label=token_label)
            try:
                self._session = token.open(user_pin=user_pin, rw=True)
            except pkcs11.exceptions.UserAlreadyLoggedIn:
                # PKCS#11 logs in the whole process, not a session: another TokenKeys here (the
                # service beside a test fixture) already did, and this session shares it.
                self._session = token.open(rw=True)
        except (pkcs11.PKCS11Error, RuntimeError, OSError) as error:
            raise TokenError(
                f"cannot open token {token_label!r} through {module_path}: {error!r}"
            ) from error
        self.token_label = token_label

    def close(self) -> None:
        with self._lock:
            self._keys.clear()
            self._session.close()

    def has_key(self, label: str) -> bool:
        return self._find(label) is not None

    def exportable(self, label: str) -> bool:
        """Whether the token would hand out the private key's value (it must not)."""
        key = self._find(label)
        if key is None:
            raise TokenError(f"no private key labelled {label!r} in token {self.token_label!r}")
        with self._lock:
            return bool(key.key[Attribute.EXTRACTABLE]) or not key.key[Attribute.SENSITIVE]

    def import_private_key(self, label: str, pem: Path | bytes) -> None:
        """Put a PEM private key (EC or RSA, unencrypted) into the token as a sensitive,
        non-extractable signing key. Replaces nothing: a label that exists is an error."""
        data = pem.read_bytes() if isinstance(pem, Path) else pem
        private = serialization.load_pem_private_key(data, password=None)
        attributes = self._private_attributes(private)
        attributes.update(self._common_attributes(label))
        with self._lock:
            if self._find_locked(label) is not None:
                raise TokenError(f"the token already holds a key labelled {label!r}")
            self._session.create_object(attributes)

    def generate_key(self, label: str, curve: str = "secp256r1") -> bytes:
        """Generate an EC key pair in the token; returns the public key (SubjectPublicKeyInfo
        DER) for a certificate request. The private half never leaves the token."""
        if curve not in _CURVES:
            raise ValueError(f"unsupported curve {curve!r}")
        with self._lock:
            if self._find_locked(label) is not None:
                raise TokenError(f"the token already holds a key labelled {label!r}")
            parameters = self._session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
            )
            common = self._common_attributes(label)
            public, _private = parameters.generate_keypair(
                store=True,
                label=label,
                id=common[Attribute.ID],
                private_template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.PRIVATE: True,
                },
            )
            der: bytes = encode_ec_public_key(public)
            return der

    def signer(self, label: str, chain: CertChain) -> PKCS11Signer:
        """A pyHanko signer for the key ``label`` with ``chain``'s certificates."""
        key = self._find(label)
        if key is None:
            raise TokenError(f"no private key labelled {label!r} in token {self.token_label!r}")
        return _TokenSigner(key, self._session, label, chain)

    def _find(self, label: str) -> _LockedKey | None:
        if (cached := self._keys.get(label)) is not None:
            return cached
        with self._lock:
            return self._find_locked(label)

    def _find_locked(self, label: str) -> _LockedKey | None:
        found = list(
            self._session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
            )
        )
        if not found:
            return None
        if len(found) > 1:
            raise TokenError(f"{len(found)} private keys are labelled {label!r}")
        key = self._keys[label] = _LockedKey(found[0], self._lock)
        return key

    @staticmethod
    def _common_attributes(label: str) -> dict[Attribute, Any]:
        return {
            Attribute.LABEL: label,
            Attribute.ID: label.encode(),
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
        }

    @staticmethod
    def _private_attributes(private: object) -> dict[Attribute, Any]:
        if isinstance(private, ec.EllipticCurvePrivateKey):
            curve = private.curve.name
            if curve not in _CURVES:
                raise ValueError(f"unsupported curve {curve!r}")
            size = (private.curve.key_size + 7) // 8
            return {
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.KEY_TYPE: KeyType.EC,
                Attribute.EC_PARAMS: encode_named_curve_parameters(curve),
                Attribute.VALUE: private.private_numbers().private_value.to_bytes(size, "big"),
            }
        if isinstance(private, rsa.RSAPrivateKey):
            der = private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
            attributes: dict[Attribute, Any] = decode_rsa_private_key(der)
            return attributes
        raise ValueError(f"only EC and RSA keys go into the token, not {type(private).__name__}")


# --- SoftHSM2 ----------------------------------------------------------------------------------


def softhsm_util() -> str:
    found = shutil.which(SOFTHSM_UTIL)
    if found is None:
        raise TokenError(
            "softhsm2-util is not installed: run scripts/setup.sh "
            "(or `apt-get install softhsm2`) to get SoftHSM2"
        )
    return found


def init_token(directory: Path, token_label: str, so_pin: str, user_pin: str) -> Path:
    """Write ``directory/softhsm2.conf`` (tokens kept in ``directory/tokens``) and initialise a
    token labelled ``token_label`` in the first free slot, unless one with that label exists.
    Returns the config path; callers set ``SOFTHSM2_CONF`` to it before opening the token."""
    util = softhsm_util()
    directory.mkdir(parents=True, exist_ok=True)
    tokens = directory / "tokens"
    tokens.mkdir(mode=0o700, exist_ok=True)
    config = directory / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(config)}
    shown = subprocess.run(  # noqa: S603  # fixed arguments, no shell
        [util, "--show-slots"], env=env, capture_output=True, text=True, check=True
    ).stdout
    labels = re.findall(r"^\s*Label:\s*(.*?)\s*$", shown, flags=re.MULTILINE)
    if token_label not in labels:
        done = subprocess.run(  # noqa: S603  # fixed arguments, no shell
            [
                util,
                "--init-token",
                "--free",
                "--label",
                token_label,
                "--so-pin",
                so_pin,
                "--pin",
                user_pin,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise TokenError(f"softhsm2-util --init-token failed: {done.stderr.strip()}")
    return config
