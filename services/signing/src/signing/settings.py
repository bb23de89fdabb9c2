"""Settings of the signing service, from ``SIGNING_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class SigningSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNING_", extra="ignore")

    service_name: str = "signing"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_signing"

    # The PKCS#11 token that holds the server-side keys: SoftHSM2 in development and tests, the
    # HSM's own module in production (the same code). SOFTHSM2_CONF names SoftHSM's token store.
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "hsdt-signing"  # noqa: S105 - a label, not a secret
    pkcs11_user_pin: SecretStr = SecretStr("")

    # Trust anchors: a PEM file of the roots a deployment trusts (the national roots in
    # production, the test PKI's root in development); intermediates may be added beside them.
    trust_anchors_file: Path = Path("/etc/hsdt/signing/anchors.pem")
    trust_intermediates_file: Path | None = None
    # The time-stamping authorities trusted as such (a trusted list's TSAs): an archived file's
    # timestamps are then proof of existence offline, after the TSA's revocation data is stale.
    trust_timestamp_anchors_file: Path | None = None
    # RFC 3161 timestamp authority; every signature is at least PAdES B-T.
    tsa_url: str = "http://127.0.0.1:9781/hsdt-test/tsa/tsa"
    # Whether validation may fetch OCSP/CRLs online (an archive validates offline).
    fetch_revocation: bool = True
    # How long a certificate found usable (chain, validity, OCSP) is not checked again.
    certificate_check_seconds: float = Field(default=300.0, ge=0)

    # The purpose a step-up token (TOTP through identity) must carry to unlock a server key.
    step_up_purpose: str = "signing"
    document_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    external_session_minutes: int = Field(default=15, gt=0, le=24 * 60)
    # Batch signing runs in the worker; it looks for queued batches this often.
    batch_every_seconds: float = Field(default=2.0, gt=0)
    # The public validation endpoint takes files up to this size.
    validation_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
