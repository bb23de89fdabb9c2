"""Settings of the identity service, from ``IDENTITY_*`` environment variables.

Two secrets have no default anywhere in the repository: ``IDENTITY_KEY_PASSPHRASE`` (encrypts the
token signing keys at rest) and ``IDENTITY_DATA_KEY`` (encrypts TOTP secrets, peppers recovery
codes). Outside ``environment == "development"`` the service refuses to start without them; in
development a missing one is replaced by a random value for the life of the process, so a test or
a first local start works, but keys and TOTP secrets stored with it are unreadable after a restart
(the run command generates both into ``.run/`` instead).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings
from identity.keys import MAX_ACCESS_TOKEN_LIFETIME, MIN_PASSPHRASE_BYTES

logger = logging.getLogger(__name__)

_MAX_ACCESS_MINUTES = int(MAX_ACCESS_TOKEN_LIFETIME.total_seconds() // 60)


class IdentitySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_identity"

    # Secrets: required in production, never defaulted in the repository (see the module doc).
    key_passphrase: SecretStr | None = None
    data_key: SecretStr | None = None

    # Tokens. The access token is short because the revocation list is the only other brake.
    access_token_minutes: int = Field(default=10, ge=1, le=_MAX_ACCESS_MINUTES)
    refresh_idle_hours: float = Field(default=12.0, gt=0)
    refresh_family_days: float = Field(default=7.0, gt=0)
    # JWKS: how long a cache (the gateway, a verifier) may keep the key set; see docs/identity.md.
    jwks_max_age_seconds: int = Field(default=60, ge=0, le=3600)
    # How often an instance re-reads the key ring, so rotations by another replica show up.
    key_reload_seconds: float = Field(default=60.0, gt=0)

    # Lockout (Redis): failures counted in a window; reaching the threshold locks for a while.
    lockout_window_minutes: int = Field(default=15, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    lockout_account_failures: int = Field(default=5, ge=1)
    # A whole school often signs in from one NAT address: a higher bar than for an account.
    lockout_address_failures: int = Field(default=50, ge=1)

    # argon2id (RFC 9106; OWASP's first recommended set): 19 MiB, 2 passes, 1 lane. Measured
    # 22–27 ms per hash on the 2-core machines; a whole sign-in (lockout, database, token)
    # reaches ~37 a second per replica, half the raw hashing rate (`python -m bench.identity`).
    # Scale sign-in with replicas, not weaker parameters. At most ``argon2_concurrency``
    # hashes run at once, which bounds the memory to 38 MiB.
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8 * 1024)
    argon2_parallelism: int = Field(default=1, ge=1)
    argon2_concurrency: int = Field(default=2, ge=1)

    # The gateway appends the caller's address to X-Forwarded-For; its last entry is the one
    # address nobody outside can forge. Off when identity is reachable other than via the gateway.
    trust_forwarded_for: bool = True

    # TOTP (RFC 6238): 30-second steps, one step of clock drift either way.
    totp_issuer: str = "HSĐT"
    totp_enrolment_minutes: int = Field(default=10, ge=1, le=60)
    # Step-up tokens (POST /auth/step-up): long enough to finish the action they confirm, and
    # never longer than an access token, whose revocation markers and keys they rely on.
    step_up_minutes: int = Field(default=5, ge=1, le=_MAX_ACCESS_MINUTES)

    @model_validator(mode="after")
    def _step_up_within_access(self) -> Self:
        if self.step_up_minutes > self.access_token_minutes:
            raise ValueError(
                "IDENTITY_STEP_UP_MINUTES must not exceed IDENTITY_ACCESS_TOKEN_MINUTES"
            )
        return self

    @model_validator(mode="after")
    def _secrets_present(self) -> Self:
        for name in ("key_passphrase", "data_key"):
            value: SecretStr | None = getattr(self, name)
            if value is None:
                if self.environment != "development":
                    raise ValueError(f"IDENTITY_{name.upper()} is required outside development")
                logger.warning(
                    "no %s configured: using a random one for this process only",
                    name,
                )
                setattr(self, name, SecretStr(secrets.token_urlsafe(32)))
            elif len(value.get_secret_value().encode()) < MIN_PASSPHRASE_BYTES:
                raise ValueError(
                    f"IDENTITY_{name.upper()} must be at least {MIN_PASSPHRASE_BYTES} bytes"
                )
        return self

    def passphrase_bytes(self) -> bytes:
        assert self.key_passphrase is not None  # the validator filled it in
        return self.key_passphrase.get_secret_value().encode()

    def data_key_bytes(self) -> bytes:
        assert self.data_key is not None
        return self.data_key.get_secret_value().encode()

    @property
    def access_token_lifetime(self) -> timedelta:
        return timedelta(minutes=self.access_token_minutes)

    @property
    def step_up_lifetime(self) -> timedelta:
        return timedelta(minutes=self.step_up_minutes)

    @property
    def refresh_idle_lifetime(self) -> timedelta:
        return timedelta(hours=self.refresh_idle_hours)

    @property
    def refresh_family_lifetime(self) -> timedelta:
        return timedelta(days=self.refresh_family_days)
