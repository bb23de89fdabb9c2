"""Settings of the records service, from ``RECORDS_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class RecordsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDS_", extra="ignore")

    service_name: str = "records"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_records"
