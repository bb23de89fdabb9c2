"""Readiness against the real PostgreSQL and Redis, and against ones that are not there."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.errors import install_problem_handlers
from common.health import (
    ChecksSource,
    broker_check,
    database_check,
    health_router,
    redis_check,
)

PG_HOST = os.environ.get("HSDT_TEST_PG_HOST", "127.0.0.1")
# Only SELECT 1 runs, so the maintenance database serves; no test database is needed.
DATABASE_URL = f"postgresql+asyncpg://postgres@{PG_HOST}:5432/postgres"
REDIS_URL = os.environ.get("HSDT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(DATABASE_URL)
    yield eng
    await eng.dispose()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def get(checks: ChecksSource, path: str, limit_seconds: float = 2.0) -> httpx.Response:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(health_router(checks, service="records", timeout_seconds=limit_seconds))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_ready_when_database_redis_and_broker_answer(
    engine: AsyncEngine, redis: Redis
) -> None:
    checks = {
        "database": database_check(engine),
        "redis": redis_check(redis),
        "broker": broker_check(lambda: True),
    }
    response = await get(checks, "/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "records",
        "checks": {"database": "ok", "redis": "ok", "broker": "ok"},
    }


async def test_not_ready_lists_the_failing_checks(engine: AsyncEngine) -> None:
    dead_redis = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    dead_db = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/x")
    try:
        checks = {
            "database": database_check(engine),
            "redis": redis_check(dead_redis),
            "other_db": database_check(dead_db),
            "broker": broker_check(lambda: False),
        }
        response = await get(checks, "/readyz")
    finally:
        await dead_redis.aclose()
        await dead_db.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not-ready"
    assert body["title"] == "Dịch vụ chưa sẵn sàng"
    assert body["failing"] == ["broker", "other_db", "redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("failed: ")
    assert body["checks"]["broker"] == "failed: ConnectionError"
    assert "127.0.0.1" not in response.text  # no connection details leak


async def test_checks_run_concurrently_each_with_a_timeout() -> None:
    # Each of a, b, c finishes only once all three have started: run one after another they
    # would each time out. Concurrency shows in the answer, not in a wall-clock figure that a
    # busy machine would break.
    started = 0
    all_started = asyncio.Event()

    async def waits_for_the_others() -> None:
        nonlocal started
        started += 1
        if started == 3:
            all_started.set()
        await all_started.wait()

    async def hanging() -> None:
        await asyncio.sleep(60)

    checks = {"a": waits_for_the_others, "b": waits_for_the_others, "c": waits_for_the_others}
    response = await get({**checks, "stuck": hanging}, "/readyz", limit_seconds=2.0)
    assert response.status_code == 503
    assert response.json()["checks"] == {"a": "ok", "b": "ok", "c": "ok", "stuck": "timeout"}


async def test_liveness_does_not_depend_on_the_checks() -> None:
    response = await get({"broker": broker_check(lambda: False)}, "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "records"}


async def test_checks_can_be_supplied_late() -> None:
    registry: dict[str, object] = {}
    app_checks = {"broker": broker_check(lambda: bool(registry))}
    assert (await get(lambda: app_checks, "/readyz")).status_code == 503
    registry["connected"] = True
    assert (await get(lambda: app_checks, "/readyz")).status_code == 200
