"""The step-up token contract shared by identity and ``common.testing.TokenIssuer``; verifying
and spending tokens needs a JWKS and Redis (identity's integration tests cover it)."""

from __future__ import annotations

import pytest

from common.step_up import STEP_UP_KIND, is_purpose, step_up_audience, step_up_claims


def test_step_up_audience_never_equals_the_access_token_audience() -> None:
    assert step_up_audience("hsdt") == "hsdt:step-up"
    assert step_up_audience("hsdt") != "hsdt"


@pytest.mark.parametrize("purpose", ["signing", "signing:record.v2", "a", "x" * 100, "a_b-c"])
def test_purposes_are_short_lowercase_names(purpose: str) -> None:
    assert is_purpose(purpose)


@pytest.mark.parametrize("purpose", ["", "Signing", "sign ing", "ký", "x" * 101, "a/b", "a\n"])
def test_other_purposes_are_refused(purpose: str) -> None:
    assert not is_purpose(purpose)
    with pytest.raises(ValueError, match="purpose"):
        step_up_claims(
            issuer="i", audience="a", subject="u", purpose=purpose, issued_at=0, expires_at=1
        )


def test_claims_carry_the_kind_the_purpose_and_the_family() -> None:
    claims = step_up_claims(
        issuer="hsdt-identity",
        audience="hsdt",
        subject="user-1",
        purpose="signing",
        issued_at=100,
        expires_at=400,
        family_id="fam-1",
    )
    assert claims["aud"] == "hsdt:step-up"
    assert (claims["kind"], claims["amr"], claims["fid"]) == (STEP_UP_KIND, ["otp"], "fam-1")
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (100, 100, 400)
    other = step_up_claims(
        issuer="i", audience="a", subject="u", purpose="signing", issued_at=0, expires_at=1
    )
    assert "fid" not in other
    assert other["jti"] != claims["jti"]
