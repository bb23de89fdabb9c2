"""Alembic environment of the attendance service."""

from attendance.models import Base
from attendance.settings import AttendanceSettings
from common.migrations import run_alembic_env

run_alembic_env(AttendanceSettings().database_url, [Base.metadata])
