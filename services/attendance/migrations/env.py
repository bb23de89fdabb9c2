"""Alembic environment of the attendance service."""

from common.migrations import run_alembic_env

from attendance.models import Base
from attendance.settings import AttendanceSettings

run_alembic_env(AttendanceSettings().database_url, [Base.metadata])
