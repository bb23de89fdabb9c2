"""The pieces of sign-in that need no server: TOTP steps and replay, the secret box, settings,
the password hasher and client authentication parsing."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from pydantic import SecretStr, ValidationError
from starlette.requests import Request

from identity.api.auth import _basic_credentials
from identity.handlers.auth import (
    _accept_totp,
    _new_recovery_code,
    _normalise_recovery,
    hash_client_secret,
)
from identity.passwords import PasswordHasher
from identity.secretbox import SecretBoxError, identity_secret_box
from identity.settings import IdentitySettings

NOW = datetime(2026, 9, 5, 7, 30, 10, tzinfo=UTC)


@pytest.fixture
def totp() -> pyotp.TOTP:
    return pyotp.TOTP(pyotp.random_base32())


def test_totp_code_of_now_and_of_one_step_either_side_is_accepted(totp: pyotp.TOTP) -> None:
    step = totp.timecode(NOW)
    assert _accept_totp(totp, totp.at(NOW), None, NOW) == step
    assert _accept_totp(totp, totp.at(NOW - timedelta(seconds=30)), None, NOW) == step - 1
    assert _accept_totp(totp, totp.at(NOW + timedelta(seconds=30)), None, NOW) == step + 1
    assert _accept_totp(totp, totp.at(NOW - timedelta(seconds=90)), None, NOW) is None


def test_totp_code_is_not_accepted_twice_nor_an_older_one_after_it(totp: pyotp.TOTP) -> None:
    step = totp.timecode(NOW)
    assert _accept_totp(totp, totp.at(NOW), step, NOW) is None
    assert _accept_totp(totp, totp.at(NOW - timedelta(seconds=30)), step, NOW) is None
    assert _accept_totp(totp, totp.at(NOW + timedelta(seconds=30)), step, NOW) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_totp_refuses_malformed_codes(totp: pyotp.TOTP, code: str) -> None:
    assert _accept_totp(totp, code, None, NOW) is None


def test_recovery_codes_are_typed_forgivingly() -> None:
    code = _new_recovery_code()
    assert len(code) == 11
    assert code[5] == "-"
    assert _normalise_recovery(f" {code.upper()} ") == code.replace("-", "")


def test_secret_box_round_trips_and_binds_the_owner() -> None:
    box = identity_secret_box(b"a data key of enough length")
    sealed = box.encrypt(b"JBSWY3DPEHPK3PXP", owner="user-1")
    assert box.decrypt(sealed, owner="user-1") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(SecretBoxError):
        box.decrypt(sealed, owner="user-2")
    with pytest.raises(SecretBoxError):
        identity_secret_box(b"another data key, also long").decrypt(sealed, owner="user-1")
    assert box.keyed_hash("abc") == box.keyed_hash("abc") != box.keyed_hash("abd")


def test_settings_refuse_to_run_in_production_without_secrets() -> None:
    with pytest.raises(ValidationError, match="KEY_PASSPHRASE"):
        IdentitySettings(environment="production")
    with pytest.raises(ValidationError, match="at least 16 bytes"):
        IdentitySettings(key_passphrase=SecretStr("short"))
    with pytest.raises(ValidationError):
        IdentitySettings(access_token_minutes=16)
    # A step-up token relies on the access tokens' revocation markers: it lives no longer.
    with pytest.raises(ValidationError, match="STEP_UP_MINUTES"):
        IdentitySettings(access_token_minutes=4)
    assert IdentitySettings(access_token_minutes=5).step_up_lifetime == timedelta(minutes=5)
    dev = IdentitySettings()
    assert len(dev.passphrase_bytes()) >= 16
    assert dev.passphrase_bytes() != IdentitySettings().passphrase_bytes()  # random per process


async def test_hasher_says_no_without_a_hash_and_asks_to_rehash_old_parameters() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=8192, parallelism=1)
    stored = await hasher.hash("một mật khẩu dài")
    assert await hasher.verify(stored, "một mật khẩu dài")
    assert not await hasher.verify(stored, "một mật khẩu khác")
    assert not await hasher.verify(None, "một mật khẩu dài")
    assert not await hasher.verify("not a hash", "x")
    assert not hasher.needs_rehash(stored)
    assert PasswordHasher(time_cost=2, memory_kib=8192, parallelism=1).needs_rehash(stored)


def _request(authorization: str) -> Request:
    headers = [(b"authorization", authorization.encode())]
    return Request({"type": "http", "headers": headers})


def test_basic_client_credentials_are_form_decoded() -> None:
    raw = base64.b64encode(b"hsdt-1:a%2Bb%3Ac").decode()
    assert _basic_credentials(_request(f"Basic {raw}")) == ("hsdt-1", "a+b:c")
    assert _basic_credentials(_request("Basic !!!")) is None
    assert _basic_credentials(_request("Bearer x")) is None


def test_client_secrets_are_stored_as_hashes() -> None:
    stored = hash_client_secret("a-client-secret")
    assert stored.startswith("sha256:")
    assert "a-client-secret" not in stored
