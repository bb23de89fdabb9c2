"""A memstore Ceph RGW for the session and fresh locked buckets (``archive.storage_testing``)."""

from __future__ import annotations

from archive.storage_testing import object_store, replica_store, rgw

__all__ = ["object_store", "replica_store", "rgw"]
