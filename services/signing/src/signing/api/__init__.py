"""HTTP routes of the signing service under ``/api/v1``."""

from signing.api.batches import router as batches_router
from signing.api.requests import router as requests_router
from signing.api.settings import router as settings_router
from signing.api.validation import router as validation_router

routers = (settings_router, requests_router, batches_router, validation_router)

__all__ = ["routers"]
