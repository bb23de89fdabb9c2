"""Pytest fixtures for the archive's object storage: a real S3 server with object lock (a
one-node Ceph RGW, memstore, started once per session) and fresh locked buckets on it.

Import the fixtures into a ``conftest.py``::

    from archive.storage_testing import object_store, replica_store, rgw

    def test_something(object_store: ObjectStore) -> None:
        stored = object_store.put("a/b.pdf", data, retention=retention_for(...))

Buckets are named after the run id (``HSDT_TEST_RUN_ID``, the ``run_id`` fixture of
``common.testing``) and are never emptied: locked objects cannot be deleted, and the whole
cluster is in RAM and goes with the gateway at the end of the session.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from archive.storage.rgw import CEPH_PACKAGES, RgwServer, missing_binaries, start
from archive.storage.store import ObjectStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bucket_name(run_id: str, stem: str) -> str:
    """A valid, unique S3 bucket name (3–63 of ``a-z0-9-``) carrying the run id."""
    run = re.sub(r"[^a-z0-9-]+", "-", run_id.lower()).strip("-")[:20] or "run"
    return f"hsdt-t-{run}-{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RgwServer]:
    """A memstore Ceph RGW on a free loopback port for the whole session (~1–2 s to start)."""
    missing = missing_binaries()
    if missing:
        pytest.fail(
            f"the object-store tests need Ceph's RADOS gateway; missing {', '.join(missing)}. "
            f"Run scripts/setup.sh, or apt-get install --no-install-recommends "
            f"{' '.join(CEPH_PACKAGES)}",
            pytrace=False,
        )
    directory = tmp_path_factory.mktemp("rgw")
    # The daemons run detached: should this session be killed, the watchdog still stops them.
    watchdog = subprocess.Popen(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-m", "archive.storage.rgw", "stop", "--dir", str(directory),
         "--after-pid", str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        began = time.monotonic()
        server = start(directory, free_port(), persistent=False)
        # Shown with -rP or on failure: what the fixture cost.
        print(f"RGW (memstore) on {server.endpoint} in {time.monotonic() - began:.1f}s")
        try:
            yield server
        finally:
            server.stop()
    finally:
        watchdog.terminate()
        watchdog.wait(timeout=10)


def _store(rgw: RgwServer, bucket: str) -> ObjectStore:
    store = ObjectStore(rgw.endpoint, rgw.access_key, rgw.secret_key, bucket)
    store.ensure_bucket()
    return store


@pytest.fixture
def object_store(rgw: RgwServer, run_id: str) -> ObjectStore:
    """The primary store on a fresh locked bucket of this run."""
    return _store(rgw, bucket_name(run_id, "archive"))


@pytest.fixture
def replica_store(rgw: RgwServer, run_id: str) -> ObjectStore:
    """A second locked bucket standing for the replica ("cloud") endpoint."""
    return _store(rgw, bucket_name(run_id, "replica"))
