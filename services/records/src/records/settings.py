"""Settings of the records service, from ``RECORDS_*`` environment variables.

The rule options are the facts DOMAIN research could not confirm ([U]/[S]); each default is the
most likely value, and ``docs/records.md`` lists them with the reasons.
"""

from __future__ import annotations

import logging
import secrets
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings

logger = logging.getLogger(__name__)

MIN_DATA_KEY_BYTES = 32


class RecordsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDS_", extra="ignore")

    service_name: str = "records"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_records"

    # Encrypts national ID numbers at rest (AES-256-GCM) and keys their look-up hash. Required
    # outside development; losing it loses those numbers, so it is backed up with the database.
    data_key: SecretStr | None = None

    # Days after a period's last day during which its entries may still be made (teachers enter
    # the last tests after the term ends; the lock, not the calendar, makes results final).
    entry_grace_days: int = Field(default=21, ge=0, le=120)

    # Rule options ([U] in the Ministry's texts as researched; docs/records.md).
    year_average_from_rounded_terms: bool = True
    absence_limit_days: int = Field(default=45, ge=0, le=365)
    primary_completion_min_score: int = Field(default=5, ge=1, le=10)
    adjustment_one_level_up: bool = True

    # Days a correction request (R27) stays open before it expires unapplied.
    correction_expiry_days: int = Field(default=14, ge=1, le=90)

    # Largest page of a list.
    max_page_size: int = Field(default=200, ge=10, le=1000)

    @model_validator(mode="after")
    def _data_key_present(self) -> Self:
        if self.data_key is None:
            if self.environment != "development":
                raise ValueError("RECORDS_DATA_KEY is required outside development")
            logger.warning("no data key configured: using a random one for this process only")
            self.data_key = SecretStr(secrets.token_urlsafe(32))
        elif len(self.data_key.get_secret_value().encode()) < MIN_DATA_KEY_BYTES:
            raise ValueError(f"RECORDS_DATA_KEY must be at least {MIN_DATA_KEY_BYTES} bytes")
        return self

    def data_key_bytes(self) -> bytes:
        assert self.data_key is not None  # the validator filled it in
        return self.data_key.get_secret_value().encode()
