"""Keys in the SoftHSM2 token: born there (production) or imported (the test PKI)."""

from __future__ import annotations

import re
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from signing.crypto.errors import TokenError
from signing.crypto.keys import init_token, softhsm_util
from signing.crypto_testing import SO_PIN, TOKEN_LABEL, USER_PIN, SigningPki


def test_a_key_born_in_the_token_never_leaves_it(signing_pki: SigningPki) -> None:
    keys = signing_pki.keys
    public = load_der_public_key(keys.generate_key("born-here"))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    assert keys.has_key("born-here")
    assert not keys.exportable("born-here")
    with pytest.raises(TokenError, match="already holds"):
        keys.generate_key("born-here")


def test_imported_keys_are_not_exportable_and_labels_are_unique(signing_pki: SigningPki) -> None:
    keys = signing_pki.keys
    assert all(not keys.exportable(label) for label in signing_pki.pki.signer_labels)
    assert not keys.has_key("nobody")
    with pytest.raises(TokenError, match="already holds"):
        keys.import_private_key("gv-toan", signing_pki.pki.key_path("gv-toan"))
    with pytest.raises(TokenError, match="no private key"):
        keys.signer("nobody", signing_pki.chain("gv-toan"))


def test_init_token_reuses_an_existing_token(signing_pki: SigningPki) -> None:
    directory = signing_pki.directory / "softhsm"
    config = init_token(directory, TOKEN_LABEL, SO_PIN, USER_PIN)
    shown = subprocess.run(
        [softhsm_util(), "--show-slots"],
        env={"SOFTHSM2_CONF": str(config)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.findall(r"Label:\s*(\S+)", shown).count(TOKEN_LABEL) == 1
    assert signing_pki.keys.has_key("gv-toan")  # the keys imported at set-up are still there
