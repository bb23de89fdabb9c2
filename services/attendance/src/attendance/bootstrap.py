"""The composition root of the attendance service: settings in, clients out."""

from __future__ import annotations

from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.bootstrap import Deps, build_deps


def bootstrap(settings: AttendanceSettings | None = None) -> Deps:
    return build_deps(settings or AttendanceSettings(), AttendanceUnitOfWork)
