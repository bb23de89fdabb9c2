"""Alembic environment of the archive service."""

from archive.models import Base
from archive.settings import ArchiveSettings
from common.migrations import run_alembic_env

run_alembic_env(ArchiveSettings().database_url, [Base.metadata])
