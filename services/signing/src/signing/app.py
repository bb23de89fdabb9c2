"""The signing service's HTTP app: ``uvicorn --factory signing.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.bootstrap import api_lifespan
from signing import __version__
from signing.api import router
from signing.bootstrap import bootstrap
from signing.settings import SigningSettings


def create_app(settings: SigningSettings | None = None) -> FastAPI:
    settings = settings or SigningSettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Ký số",
        description="PAdES signatures with keys in a PKCS#11 token.",
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=[router],
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
