"""HTTP routes of the attendance service under ``/api/v1``."""

from attendance.api.months import router as months_router
from attendance.api.periods import router as periods_router
from attendance.api.reports import router as reports_router
from attendance.api.rollcalls import router as rollcalls_router
from attendance.api.schedule import router as schedule_router

routers = (schedule_router, rollcalls_router, periods_router, months_router, reports_router)

__all__ = ["routers"]
