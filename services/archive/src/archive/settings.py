"""Settings of the archive service, from ``ARCHIVE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings


class ArchiveSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", extra="ignore")

    service_name: str = "archive"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_archive"

    # The object store: MinIO in production and compose, Ceph's RADOS gateway in tests and dev.
    s3_endpoint: str = "http://127.0.0.1:8191"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "hsdt-archive"
    s3_region: str = "us-east-1"
    # The "cloud" copy (Lào Cai: cloud storage with automatic updates); empty: no replica.
    replica_s3_endpoint: str = ""
    replica_s3_access_key: str = ""
    replica_s3_secret_key: SecretStr = SecretStr("")
    replica_s3_bucket: str = "hsdt-archive-replica"

    # The services archive reads and writes, and its platform client at identity.
    records_url: str = "http://127.0.0.1:8102/api/v1"
    signing_url: str = "http://127.0.0.1:8104/api/v1"
    identity_token_url: str = "http://127.0.0.1:8101/api/v1/oauth/token"  # noqa: S105 - a URL
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    # Printed as a QR code on every document: where anyone checks its signatures.
    public_validation_url: str = "http://127.0.0.1:8080/signing/api/v1/validation"

    pipeline_every_seconds: float = Field(default=2.0, gt=0)
    fixity_every_seconds: float = Field(default=60.0, gt=0)
    # Objects re-read per fixity round: the sweep is rate-limited so it never crowds out work.
    fixity_objects_per_round: int = Field(default=200, gt=0)
    fixity_min_age_days: float = Field(default=30.0, ge=0)
    export_link_minutes: int = Field(default=15, gt=0, le=24 * 60)
