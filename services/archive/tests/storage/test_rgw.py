"""The one-node Ceph RGW: idempotent start, a persistent cluster across restarts, the
command line (start / stop / serve)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.storage import ObjectStore, StoreUnavailable
from archive.storage import rgw as rgw_module
from archive.storage.rgw import CephMissing, RgwError, RgwServer, main, start
from archive.storage_testing import free_port


def daemon_pids(directory: Path) -> list[int]:
    return [int(p.read_text()) for p in (directory / "run").glob("*.pid")]


def read_env(directory: Path) -> dict[str, str]:
    lines = (directory / "s3.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_start_is_idempotent_on_a_running_cluster(rgw: RgwServer) -> None:
    port = int(rgw.endpoint.rsplit(":", 1)[1])
    began = time.monotonic()
    again = start(rgw.directory, port, persistent=False)
    assert again == rgw
    assert time.monotonic() - began < 5


def test_missing_ceph_is_reported_with_the_packages_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rgw_module, "_BINARIES", ("ceph-mon", "hsdt-no-such-ceph-tool"))
    with pytest.raises(CephMissing, match=r"hsdt-no-such-ceph-tool.*apt-get install"):
        start(tmp_path, free_port(), persistent=False)
    assert not any(tmp_path.iterdir())


def test_a_directory_that_is_not_a_cluster_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RgwError, match="not touching it"):
        start(tmp_path, free_port(), persistent=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_a_persistent_cluster_keeps_objects_and_user_across_restarts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, port = tmp_path / "s3", free_port()
    assert main(["start", "--dir", str(directory), "--port", str(port), "--persistent"]) == 0
    try:
        env = read_env(directory)
        assert env["ARCHIVE_S3_ENDPOINT"] == f"http://127.0.0.1:{port}"
        assert json.loads((directory / "cluster.json").read_text())["objectstore"] == "bluestore"
        store = ObjectStore(
            env["ARCHIVE_S3_ENDPOINT"], env["ARCHIVE_S3_ACCESS_KEY"], env["ARCHIVE_S3_SECRET_KEY"],
            "kept",
        )  # fmt: skip
        store.ensure_bucket()
        stored = store.put("a.pdf", b"kept across restarts", legal_hold=True)

        assert main(["stop", "--dir", str(directory)]) == 0
        assert daemon_pids(directory) == []
        with pytest.raises(StoreUnavailable):
            store.get("a.pdf")

        assert main(["start", "--dir", str(directory), "--port", str(port), "--persistent"]) == 0
        assert read_env(directory) == env
        assert store.get("a.pdf", stored.version_id) == b"kept across restarts"
        # A persistent cluster is never silently turned into a throwaway one.
        with pytest.raises(RgwError, match="bluestore"):
            start(directory, port, persistent=False)
    finally:
        main(["stop", "--dir", str(directory)])
    out = capsys.readouterr().out
    assert "(bluestore), ready in" in out


def test_serve_runs_until_sigterm_and_stops_the_daemons(tmp_path: Path) -> None:
    directory, port = tmp_path / "s3", free_port()
    command = [sys.executable, "-m", "archive.storage.rgw", "serve"]
    serve = subprocess.Popen(
        [*command, "--dir", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        assert "(memstore), ready in" in first, first
        assert len(daemon_pids(directory)) == 3
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            rgw_module.stop(directory)
    assert daemon_pids(directory) == []


def test_sigterm_while_serve_is_starting_leaves_no_daemon(tmp_path: Path) -> None:
    directory = tmp_path / "s3"
    command = [sys.executable, "-m", "archive.storage.rgw", "serve"]
    serve = subprocess.Popen(
        [*command, "--dir", str(directory), "--port", str(free_port())],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (directory / "run" / "mon.a.pid").exists():  # the monitor is up
            assert time.monotonic() < deadline
            time.sleep(0.02)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
        rgw_module.stop(directory)
    assert daemon_pids(directory) == []
