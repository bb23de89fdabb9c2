"""Settings from the environment, one prefix per service (``RECORDS_DATABASE_URL`` …)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """What every service reads the same way; a service subclasses it with its own prefix.

    A subclass sets ``model_config = SettingsConfigDict(env_prefix="RECORDS_")`` and its own
    ``service_name`` default; the fields below then come from ``RECORDS_DATABASE_URL`` and so on.
    """

    model_config = SettingsConfigDict(env_prefix="HSDT_", extra="ignore")

    service_name: str = "hsdt"
    environment: str = "development"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt"
    database_pool_size: int = 10
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Key prefix in Redis so that test runs and deployments sharing one server never collide.
    redis_prefix: str = "hsdt:"
    events_exchange: str = "hsdt.events"
    # Behind the gateway a service lives under /<service>/; FastAPI needs it for its docs.
    root_path: str = ""
    jwks_url: str = "http://127.0.0.1:8101/api/v1/.well-known/jwks.json"
    jwks_cache_seconds: int = 300
    token_issuer: str = "hsdt-identity"  # noqa: S105 — a name, not a secret
    token_audience: str = "hsdt"  # noqa: S105
    log_level: str = "INFO"
    # Parent-based ratio sampling; 1.0 in development, lower in production.
    trace_sample_ratio: float = 1.0
    outbox_poll_seconds: float = 1.0
    outbox_batch_size: int = 500
    consumer_prefetch: int = 50
    # Seconds to wait before each retry of a failed message; after the last, the dead-letter queue.
    consumer_retry_delays: list[float] = Field(default_factory=lambda: [1.0, 10.0, 60.0])
    shutdown_grace_seconds: float = 20.0
    # Sent outbox rows are kept a while for inspection; inbox rows must outlive any redelivery
    # or dead-letter replay of the same event, or a replay would apply it a second time.
    outbox_keep_sent_days: float = 7.0
    inbox_keep_days: float = 90.0
    prune_every_seconds: float = 3600.0
    # The worker has no HTTP app: with a port set, it serves Prometheus metrics (outbox
    # backlog, events published and consumed, dead letters) on it. 0 serves none.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
