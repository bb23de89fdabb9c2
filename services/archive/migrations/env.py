"""Alembic environment of the archive service."""

from common.migrations import run_alembic_env

from archive.models import Base
from archive.settings import ArchiveSettings

run_alembic_env(ArchiveSettings().database_url, [Base.metadata])
