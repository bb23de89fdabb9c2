"""What every service's composition root builds the same way: clients and their lifecycle.

A service's ``bootstrap.py`` calls :func:`build_deps` with its settings and unit-of-work class
and adds its own ports (a signer, an object store); nothing else constructs clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common.auth import JwksVerifier
from common.db import create_engine, create_sessionmaker
from common.health import ReadinessCheck, broker_check, database_check, redis_check
from common.messaging.bus import Bus
from common.settings import CommonSettings
from common.telemetry import instrument_engine
from common.uow import UnitOfWork


@dataclass
class Deps:
    settings: CommonSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    bus: Bus
    http: httpx.AsyncClient
    verifier: JwksVerifier
    uow_factory: Callable[[], UnitOfWork]

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        return {
            "database": database_check(self.engine),
            "broker": broker_check(self.bus.is_connected),
            "redis": redis_check(self.redis),
        }

    async def aclose(self) -> None:
        await self.bus.close()
        await self.http.aclose()
        await self.redis.aclose()
        await self.engine.dispose()


def build_deps(settings: CommonSettings, uow_class: type[UnitOfWork] = UnitOfWork) -> Deps:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        application_name=settings.service_name,
    )
    instrument_engine(engine)
    sessionmaker = create_sessionmaker(engine)
    redis = Redis.from_url(settings.redis_url)
    http = httpx.AsyncClient(timeout=5.0)
    verifier = JwksVerifier(
        jwks_url=settings.jwks_url,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        cache_seconds=settings.jwks_cache_seconds,
        http_client=http,
        redis=redis,
        redis_prefix=settings.redis_prefix,
    )
    return Deps(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        redis=redis,
        bus=Bus(settings.amqp_url, settings.events_exchange),
        http=http,
        verifier=verifier,
        uow_factory=lambda: uow_class(sessionmaker, source=settings.service_name),
    )


def api_lifespan(
    make_deps: Callable[[], Deps],
) -> Callable[[FastAPI], Any]:
    """A FastAPI lifespan that builds the deps, connects the bus and closes all on exit."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        deps = make_deps()
        app.state.deps = deps
        app.state.token_verifier = deps.verifier
        try:
            await deps.bus.connect()
        except Exception:  # noqa: BLE001 — /readyz reports the broker; the API starts anyway
            app.state.broker_error = True
        try:
            yield
        finally:
            await deps.aclose()

    return lifespan
