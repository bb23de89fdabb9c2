"""Alembic environment of the signing service."""

from common.migrations import run_alembic_env
from signing.models import Base
from signing.settings import SigningSettings

run_alembic_env(SigningSettings().database_url, [Base.metadata])
