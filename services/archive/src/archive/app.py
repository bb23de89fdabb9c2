"""The archive service's HTTP app: ``uvicorn --factory archive.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from archive import __version__
from archive.api import router
from archive.bootstrap import bootstrap
from archive.settings import ArchiveSettings
from common.app import create_service_app
from common.bootstrap import api_lifespan


def create_app(settings: ArchiveSettings | None = None) -> FastAPI:
    settings = settings or ArchiveSettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Lưu trữ",
        description="PDF/A rendering, object storage with retention, fixity.",
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=[router],
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
