"""HTTP routes of the records service under ``/api/v1``."""

from records.api.audit import router as audit_router
from records.api.calendar import router as calendar_router
from records.api.classes import router as classes_router
from records.api.corrections import router as corrections_router
from records.api.forensics import router as forensics_router
from records.api.locks import router as locks_router
from records.api.progress import router as progress_router
from records.api.results import router as results_router
from records.api.sheets import router as sheets_router

routers = (
    calendar_router,
    classes_router,
    sheets_router,
    results_router,
    locks_router,
    corrections_router,
    forensics_router,
    audit_router,
    progress_router,
)

__all__ = ["routers"]
