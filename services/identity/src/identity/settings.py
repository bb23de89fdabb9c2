"""Settings of the identity service, from ``IDENTITY_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class IdentitySettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_identity"
