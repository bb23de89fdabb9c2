"""The identity service's HTTP app: ``uvicorn --factory identity.app:create_app``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
from fastapi import FastAPI

from common.app import API_PREFIX, create_service_app
from common.auth import JwksVerifier
from common.bootstrap import api_lifespan
from identity import __version__
from identity.api import admin_router, auth_router, imports_router
from identity.bootstrap import IdentityDeps, bootstrap
from identity.handlers.auth import utcnow
from identity.settings import IdentitySettings

# Identity checks the tokens it issued (logout, admin routes) against its own JWKS, in process:
# the same verifier code as every other service, without a network hop to itself.
_SELF = "http://identity.internal"


def _lifespan(settings: IdentitySettings) -> Callable[[FastAPI], Any]:
    base = api_lifespan(lambda: bootstrap(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with base(app):
            deps = cast("IdentityDeps", app.state.deps)
            # Creates the first signing key, or rotates and prunes, before the first request.
            await deps.auth_services.keys.load(utcnow())
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=_SELF
            ) as self_client:
                app.state.token_verifier = JwksVerifier(
                    jwks_url=f"{_SELF}{API_PREFIX}/.well-known/jwks.json",
                    issuer=settings.token_issuer,
                    audience=settings.token_audience,
                    cache_seconds=settings.jwks_cache_seconds,
                    http_client=self_client,
                    redis=deps.redis,
                    redis_prefix=settings.redis_prefix,
                )
                yield

    return lifespan


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Định danh và phân quyền",
        description="Org tree, accounts, roles and scoped grants, tokens.",
        version=__version__,
        lifespan=_lifespan(settings),
        routers=[auth_router, admin_router, imports_router],
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
