"""Settings of the attendance service, from ``ATTENDANCE_*`` environment variables."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class AttendanceSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="ATTENDANCE_", extra="ignore")

    service_name: str = "attendance"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_attendance"
