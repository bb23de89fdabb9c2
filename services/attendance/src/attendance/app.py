"""The attendance service's HTTP app: ``uvicorn --factory attendance.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from attendance import __version__
from attendance.api import routers
from attendance.bootstrap import bootstrap
from attendance.settings import AttendanceSettings
from common.app import create_service_app
from common.bootstrap import api_lifespan


def create_app(settings: AttendanceSettings | None = None) -> FastAPI:
    settings = settings or AttendanceSettings()
    return create_service_app(
        settings=settings,
        title="HSĐT — Điểm danh",
        description=(
            "Bell schedules and school days, the daily roll call within 30 minutes of the first "
            "period (R14), per-period attendance, month totals for the 45-day rule, and the "
            "compliance reports of schools, districts and the province."
        ),
        version=__version__,
        lifespan=api_lifespan(lambda: bootstrap(settings)),
        routers=list(routers),
        readiness_checks=lambda app: app.state.deps.readiness_checks(),
    )
