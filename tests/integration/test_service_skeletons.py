"""Every service migrates its own database, starts, and answers health and readiness (issue #2)."""

from __future__ import annotations

import importlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from common.testing import DatabaseFactory, alembic

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["identity", "records", "attendance", "signing", "archive"]


def _alembic(service: str, database_url: str, *args: str) -> None:
    alembic(service, database_url, *args)


@pytest.mark.parametrize("service", SERVICES)
async def test_service_migrates_starts_and_is_ready(
    service: str, make_database: DatabaseFactory, amqp_url: str, redis_url: str, redis_prefix: str
) -> None:
    database_url = await make_database(f"svc_{service}")
    _alembic(service, database_url, "upgrade", "head")
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        tables = set(
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
        )
    await engine.dispose()
    assert {"outbox", "inbox", "alembic_version"} <= tables

    settings_module = importlib.import_module(f"{service}.settings")
    settings_class = getattr(settings_module, f"{service.capitalize()}Settings")
    settings = settings_class(
        database_url=database_url, amqp_url=amqp_url, redis_url=redis_url, redis_prefix=redis_prefix
    )
    app = importlib.import_module(f"{service}.app").create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client,
    ):
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        openapi = await client.get("/openapi.json")
    assert health.status_code == 200
    assert health.json()["service"] == service
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}
    assert openapi.json()["openapi"].startswith("3.1")
    assert openapi.json()["info"]["title"].startswith("HSĐT")

    _alembic(service, database_url, "downgrade", "base")


async def test_readiness_fails_with_problem_details_when_the_database_is_gone(
    make_database: DatabaseFactory, amqp_url: str, redis_url: str
) -> None:
    from records.app import create_app  # noqa: PLC0415
    from records.settings import RecordsSettings  # noqa: PLC0415

    settings = RecordsSettings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/hsdt_no_such_database",
        amqp_url=amqp_url,
        redis_url=redis_url,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client,
    ):
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/problem+json")
    assert "database" in ready.text
