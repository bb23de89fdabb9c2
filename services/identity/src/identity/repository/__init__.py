"""Every query of the identity service, by area."""

from identity.repository.admin import AdminRepository
from identity.repository.auth import AuthRepository

__all__ = ["AdminRepository", "AuthRepository"]
