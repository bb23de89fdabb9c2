"""HTTP routes of the identity service under ``/api/v1``: sign-in and tokens, administration."""

from identity.api.admin import router as admin_router
from identity.api.auth import router as auth_router
from identity.api.imports import router as imports_router

__all__ = ["admin_router", "auth_router", "imports_router"]
