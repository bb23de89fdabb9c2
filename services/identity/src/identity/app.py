"""The identity service's HTTP app: ``uvicorn --factory identity.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.bootstrap import api_lifespan
from identity import __version__
from identity.api import admin_router, auth_router
from identity.bootstrap import bootstrap
from identity.settings import IdentitySettings


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Định danh và phân quyền",
        description="Org tree, accounts, roles and scoped grants, tokens.",
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=[auth_router, admin_router],
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
