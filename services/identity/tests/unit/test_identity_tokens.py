"""Issuing side of the token contract: keys, JWKS, access tokens, refresh families. No network."""

from __future__ import annotations

import base64
import re
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.keys import (
    MAX_ACCESS_TOKEN_LIFETIME,
    VERIFIER_LEEWAY,
    KeyDecryptionError,
    KeyRing,
    NoSigningKeyError,
    SigningKey,
    jwk_thumbprint,
)
from identity.tokens import (
    RefreshFamily,
    Refused,
    ReuseDetected,
    Rotated,
    hash_refresh_token,
    mint_access_token,
    mint_step_up_token,
)

NOW = datetime(2025, 9, 5, 7, 30, tzinfo=UTC)
ISSUER = "hsdt-identity"
AUDIENCE = "hsdt"
PASSPHRASE = b"correct horse battery staple"


def mint(ring: KeyRing, **overrides: Any) -> tuple[str, dict[str, Any]]:
    args: dict[str, Any] = {
        "subject": "user-1",
        "kind": "user",
        "grants": ["homeroom_teacher@school-7"],
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": NOW,
    }
    args.update(overrides)
    return mint_access_token(ring, **args)


def decode_with_jwks(ring: KeyRing, token: str, at: datetime) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = (k for k in ring.jwks(at)["keys"] if k["kid"] == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims


# Access tokens


def test_access_token_carries_exactly_the_claims_the_verifier_reads() -> None:
    ring = KeyRing.create(NOW)
    token, claims = mint(ring, family_id="fam-1", lifetime=timedelta(minutes=5))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == ring.active(NOW).kid
    assert decode_with_jwks(ring, token, NOW) == claims
    assert set(claims) == {"iss", "aud", "sub", "kind", "grants", "iat", "nbf", "exp", "jti", "fid"}
    assert claims["iat"] == claims["nbf"] == int(NOW.timestamp())
    assert claims["exp"] == claims["iat"] + 300
    assert (claims["sub"], claims["kind"], claims["fid"]) == ("user-1", "user", "fam-1")
    assert claims["grants"] == ["homeroom_teacher@school-7"]


def test_a_client_token_may_name_the_teacher_it_acts_for() -> None:
    _, claims = mint(KeyRing.create(NOW), subject="client-9", kind="client", acting_for="user-3")
    assert (claims["kind"], claims["acting_for"]) == ("client", "user-3")
    assert "fid" not in claims


def test_every_token_gets_its_own_random_jti() -> None:
    ring = KeyRing.create(NOW)
    assert len({mint(ring)[1]["jti"] for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "lifetime", [timedelta(minutes=15, seconds=1), timedelta(0), -timedelta(1)]
)
def test_access_token_lifetime_is_capped_at_fifteen_minutes(lifetime: timedelta) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        mint(KeyRing.create(NOW), lifetime=lifetime)


def test_the_longest_allowed_lifetime_is_fifteen_minutes() -> None:
    _, claims = mint(KeyRing.create(NOW), lifetime=MAX_ACCESS_TOKEN_LIFETIME)
    assert claims["exp"] - claims["iat"] == 15 * 60


@pytest.mark.parametrize(
    "overrides",
    [
        {"grants": ["teacher-without-unit"]},
        {"kind": "robot"},
        {"subject": ""},
        {"acting_for": "user-3"},  # a user never works in another person's name
        {"kind": "client", "family_id": "fam-1"},  # client credentials have no refresh family
        {"now": NOW.replace(tzinfo=None)},
    ],
)
def test_tokens_the_verifier_would_refuse_are_not_minted(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        mint(KeyRing.create(NOW), **overrides)


# Step-up tokens


def mint_step_up(ring: KeyRing, **overrides: Any) -> tuple[str, dict[str, Any]]:
    args: dict[str, Any] = {
        "subject": "user-1",
        "purpose": "signing",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": NOW,
        "lifetime": timedelta(minutes=5),
    }
    args.update(overrides)
    return mint_step_up_token(ring, **args)


def test_a_step_up_token_is_for_another_audience_than_access_tokens() -> None:
    ring = KeyRing.create(NOW)
    token, claims = mint_step_up(ring, family_id="fam-1")
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == (
        "EdDSA",
        ring.active(NOW).kid,
        "step-up+jwt",
    )
    # No grants: a step-up proves who confirmed, never what they may do.
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "kind",
        "amr",
        "purpose",
        "iat",
        "nbf",
        "exp",
        "jti",
        "fid",
    }
    assert claims["aud"] == f"{AUDIENCE}:step-up"
    assert (claims["kind"], claims["amr"], claims["purpose"]) == ("step-up", ["otp"], "signing")
    assert claims["exp"] - claims["iat"] == 300
    with pytest.raises(jwt.InvalidAudienceError):
        decode_with_jwks(ring, token, NOW)  # as an access token: refused


@pytest.mark.parametrize(
    "overrides",
    [
        {"lifetime": timedelta(minutes=15, seconds=1)},
        {"lifetime": timedelta(0)},
        {"purpose": ""},
        {"purpose": "Signing"},
        {"purpose": "x" * 101},
        {"subject": ""},
    ],
)
def test_step_up_tokens_the_verifier_would_refuse_are_not_minted(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        mint_step_up(KeyRing.create(NOW), **overrides)


# Keys and the JWKS


def test_kid_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
    d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    private = Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(d + "="))
    key = replace(SigningKey.generate(NOW), private=private)
    jwk = key.public_jwk()
    assert jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_kid_is_stable_for_the_same_key() -> None:
    key = SigningKey.generate(NOW)
    again = SigningKey.from_stored(key.to_stored(PASSPHRASE), PASSPHRASE)
    assert again.kid == key.kid == jwk_thumbprint(key.public_jwk())
    assert SigningKey.generate(NOW).kid != key.kid


def test_jwks_publishes_public_ed25519_signing_keys_only() -> None:
    ring = KeyRing.create(NOW)
    (jwk,) = ring.jwks(NOW)["keys"]
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": jwk["x"],
        "kid": ring.active(NOW).kid,
        "use": "sig",
        "alg": "EdDSA",
    }
    assert "d" not in jwk


def test_a_rotated_key_stays_published_until_its_tokens_have_expired() -> None:
    ring = KeyRing.create(NOW - timedelta(days=3))
    old = ring.active(NOW)
    new = ring.rotate(NOW)
    assert ring.active(NOW) == new
    assert [k["kid"] for k in ring.jwks(NOW)["keys"]] == [new.kid, old.kid]
    last_moment = NOW + MAX_ACCESS_TOKEN_LIFETIME + VERIFIER_LEEWAY
    published_then = {k["kid"] for k in ring.jwks(last_moment - timedelta(seconds=1))["keys"]}
    assert published_then == {new.kid, old.kid}
    assert [k["kid"] for k in ring.jwks(last_moment)["keys"]] == [new.kid]


def test_a_retired_key_signs_nothing_more() -> None:
    ring = KeyRing.create(NOW)
    old = ring.active(NOW)
    ring.rotate(NOW + timedelta(hours=1))
    token, _ = mint(ring, now=NOW + timedelta(hours=1))
    assert jwt.get_unverified_header(token)["kid"] != old.kid


def test_a_key_past_not_after_stops_signing_and_is_dropped_later() -> None:
    ring = KeyRing.create(NOW, lifetime=timedelta(days=30))
    (only,) = ring.keys
    end = NOW + timedelta(days=30)
    assert not ring.needs_rotation(end - timedelta(days=2))
    assert ring.needs_rotation(end - timedelta(hours=1))
    with pytest.raises(NoSigningKeyError):
        ring.active(end)
    assert len(ring.jwks(end)["keys"]) == 1  # its tokens may still be alive
    gone = ring.prune(end + MAX_ACCESS_TOKEN_LIFETIME + VERIFIER_LEEWAY)
    assert [k.kid for k in gone] == [only.kid]
    assert ring.keys == ()


def test_prune_forgets_only_keys_no_longer_published() -> None:
    ring = KeyRing.create(NOW)
    first = ring.active(NOW)
    second = ring.rotate(NOW + timedelta(days=1))
    third = ring.rotate(NOW + timedelta(days=1, minutes=10))
    gone = ring.prune(NOW + timedelta(days=1, minutes=17))
    assert [k.kid for k in gone] == [first.kid]
    assert [k.kid for k in ring.keys] == [second.kid, third.kid]


def test_keys_are_stored_as_encrypted_pkcs8_pem() -> None:
    key = SigningKey.generate(NOW)
    stored = key.to_stored(PASSPHRASE)
    assert stored.private_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    again = SigningKey.from_stored(stored, PASSPHRASE)
    assert (again.kid, again.created_at, again.not_after, again.retired_at) == (
        key.kid,
        key.created_at,
        key.not_after,
        None,
    )
    assert again.public_jwk() == key.public_jwk()


def test_a_wrong_passphrase_fails_clearly() -> None:
    stored = SigningKey.generate(NOW).to_stored(PASSPHRASE)
    with pytest.raises(KeyDecryptionError, match=re.escape(stored.kid)):
        SigningKey.from_stored(stored, b"not the passphrase at all")


def test_a_stored_key_whose_id_does_not_match_is_refused() -> None:
    stored = SigningKey.generate(NOW).to_stored(PASSPHRASE)
    other = SigningKey.generate(NOW).to_stored(PASSPHRASE)
    with pytest.raises(KeyDecryptionError, match="does not match"):
        SigningKey.from_stored(replace(stored, private_pem=other.private_pem), PASSPHRASE)


def test_a_short_passphrase_is_refused() -> None:
    with pytest.raises(ValueError, match="passphrase"):
        SigningKey.generate(NOW).to_stored(b"short")


def test_a_key_ring_survives_storage_with_its_retired_keys() -> None:
    ring = KeyRing.create(NOW)
    ring.rotate(NOW + timedelta(minutes=1))
    again = KeyRing.from_stored(ring.to_stored(PASSPHRASE), PASSPHRASE)
    later = NOW + timedelta(minutes=2)
    assert again.jwks(later) == ring.jwks(later)
    assert again.active(later).kid == ring.active(later).kid
    assert [k.retired_at for k in again.keys] == [NOW + timedelta(minutes=1), None]


def test_private_keys_never_show_in_repr() -> None:
    key = SigningKey.generate(NOW)
    assert "private" not in repr(key)


# Refresh-token families


def test_a_refresh_token_is_256_random_url_safe_bits_stored_only_as_a_hash() -> None:
    family, token = RefreshFamily.issue_first("user-1", NOW)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)
    assert family.current_hash == hash_refresh_token(token)
    assert all(token not in str(getattr(family, f.name)) for f in fields(family))


def test_refreshing_spends_the_token_and_hands_out_the_next() -> None:
    family, first = RefreshFamily.issue_first("user-1", NOW)
    decision = family.rotate(first, NOW + timedelta(minutes=10))
    assert isinstance(decision, Rotated)
    assert decision.token != first
    assert decision.family.generation == 1
    assert decision.family.family_id == family.family_id
    assert decision.family.all_hashes() == {hash_refresh_token(first), family.current_hash} | {
        hash_refresh_token(decision.token)
    }


def test_a_replayed_refresh_token_revokes_the_whole_family() -> None:
    family, first = RefreshFamily.issue_first("user-1", NOW)
    rotated = family.rotate(first, NOW + timedelta(minutes=10))
    assert isinstance(rotated, Rotated)
    replay = rotated.family.rotate(first, NOW + timedelta(minutes=11))
    assert replay == ReuseDetected(
        family=rotated.family.revoke(), revoke_family_id=family.family_id
    )
    # The thief's token and the victim's current one are both dead now.
    assert isinstance(replay.family.rotate(rotated.token, NOW + timedelta(minutes=12)), Refused)


def test_an_unknown_token_is_refused_without_revoking() -> None:
    family, _ = RefreshFamily.issue_first("user-1", NOW)
    assert family.rotate("guessed", NOW) == Refused("unknown refresh token")


def test_an_idle_refresh_token_expires() -> None:
    family, token = RefreshFamily.issue_first("user-1", NOW, idle_lifetime=timedelta(hours=1))
    assert family.rotate(token, NOW + timedelta(hours=1)) == Refused("refresh token expired")


def test_a_family_ends_at_its_absolute_lifetime_however_often_refreshed() -> None:
    family, token = RefreshFamily.issue_first(
        "user-1", NOW, idle_lifetime=timedelta(hours=12), family_lifetime=timedelta(days=1)
    )
    now = NOW
    for _ in range(3):
        now += timedelta(hours=8)
        decision = family.rotate(token, now)
        if isinstance(decision, Refused):
            break
        assert isinstance(decision, Rotated)
        family, token = decision.family, decision.token
        assert family.current_expires_at <= family.expires_at
    assert decision == Refused("refresh token expired")


Presentation = st.one_of(
    st.just("current"), st.just("unknown"), st.integers(min_value=0, max_value=30)
)


@settings(database=None, max_examples=200)
@given(st.lists(Presentation, max_size=40))
def test_each_refresh_token_is_accepted_once_and_any_replay_revokes_the_family(
    presentations: list[str | int],
) -> None:
    family, first = RefreshFamily.issue_first("user-1", NOW)
    issued, accepted, revoked = [first], set[str](), False
    now = NOW
    for choice in presentations:
        now += timedelta(minutes=5)
        if choice == "current":
            token = issued[-1]
        elif choice == "unknown":
            token = f"forged-{now.timestamp()}"
        else:
            token = issued[int(choice) % len(issued)]
        decision = family.rotate(token, now)
        if revoked:
            assert isinstance(decision, Refused)
        elif token in accepted:
            assert decision == ReuseDetected(family.revoke(), family.family_id)
            revoked = True
        elif token == issued[-1]:
            assert isinstance(decision, Rotated)
            accepted.add(token)
            issued.append(decision.token)
        else:
            assert decision == Refused("unknown refresh token")
        if not isinstance(decision, Refused):
            family = decision.family
        assert family.revoked == revoked
        assert family.generation == len(accepted)
