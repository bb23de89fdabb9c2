"""Alembic environment of the identity service."""

from common.migrations import run_alembic_env
from identity.models import Base
from identity.settings import IdentitySettings

run_alembic_env(IdentitySettings().database_url, [Base.metadata])
