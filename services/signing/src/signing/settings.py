"""Settings of the signing service, from ``SIGNING_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class SigningSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNING_", extra="ignore")

    service_name: str = "signing"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_signing"
