"""Alembic environment of the records service."""

from common.migrations import run_alembic_env
from records.models import Base
from records.settings import RecordsSettings

run_alembic_env(RecordsSettings().database_url, [Base.metadata])
