"""The records service's HTTP app: ``uvicorn --factory records.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.bootstrap import api_lifespan
from records import __version__
from records.api import router
from records.bootstrap import bootstrap
from records.settings import RecordsSettings


def create_app(settings: RecordsSettings | None = None) -> FastAPI:
    settings = settings or RecordsSettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Hồ sơ học sinh",
        description=(
            "School years, classes, students, assessments, results, locks, corrections, audit."
        ),
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=[router],
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
