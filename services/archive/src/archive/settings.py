"""Settings of the archive service, from ``ARCHIVE_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class ArchiveSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", extra="ignore")

    service_name: str = "archive"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_archive"
