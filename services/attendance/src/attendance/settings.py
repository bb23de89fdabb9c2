"""Settings of the attendance service, from ``ATTENDANCE_*`` environment variables."""

from __future__ import annotations

from datetime import time

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class AttendanceSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="ATTENDANCE_", extra="ignore")

    service_name: str = "attendance"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_attendance"

    # A department's defaults until its admin sets its own (PUT /provinces/{id}/settings).
    # R14 (LC Đ7.2): the roll is in no later than 30 minutes after the first period starts.
    deadline_minutes: int = Field(default=30, ge=0, le=240)
    # How a two-session day counts towards the one-session plan (DOMAIN §7.3): whole_day or
    # any_session; see attendance.domain.counting.DayRule.
    day_rule: str = "whole_day"
    # Day of the next month on which the platform closes a month nobody closed (BP: monthly).
    month_close_day: int = Field(default=5, ge=1, le=28)
    absence_limit_days: int = Field(default=45, ge=0, le=366)
    warn_from_days: int = Field(default=36, ge=0, le=366)
    # Days after a roll's day on which the homeroom teacher still amends it without the
    # leader's approval; 0 = the same day only (the rule).
    amend_days: int = Field(default=0, ge=0, le=31)

    # A school that has not set its bells gets these (Mon–Sat, one morning session).
    default_first_period: time = time(7, 0)
    default_weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6])

    # The deadline sweep and the month close run in the worker, one replica at a time.
    sweep_every_seconds: float = Field(default=20.0, gt=0)
    sweep_days_back: int = Field(default=1, ge=0, le=7)
    idempotency_keep_hours: float = Field(default=48.0, gt=0)
    # How long a replica keeps a school's bells, holidays and rules before reading them again;
    # a change made through the same replica applies at once.
    context_cache_seconds: float = Field(default=30.0, ge=0)
