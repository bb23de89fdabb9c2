"""The ``attendance_world`` fixture (a migrated attendance app with a small province)."""

from attendance.testing import attendance_world

__all__ = ["attendance_world"]
