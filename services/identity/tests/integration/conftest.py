"""The ``identity`` fixture (a seeded identity app) for every integration test here."""

from identity.testing import identity

__all__ = ["identity"]
