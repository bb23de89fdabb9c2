"""HTTP routes of the identity service under ``/api/v1``: sign-in and tokens, administration."""

from identity.api.admin import router as admin_router
from identity.api.auth import router as auth_router

__all__ = ["admin_router", "auth_router"]
