"""The ``records_world`` fixture (a migrated records app with a small province) for every
integration test here."""

from records.testing import records_world

__all__ = ["records_world"]
