"""A one-node Ceph RADOS gateway (RGW) on 127.0.0.1: S3 with object lock, for tests and dev.

There is no MinIO server on these machines and moto does not enforce object lock, so tests and
the run command use Debian's Ceph 16: one monitor, one OSD and ``radosgw`` with the beast
frontend. Every file of the cluster lives in one directory (no /etc/ceph, no systemd)::

    cluster.json   fsid, monitor port, object store    ceph.conf   written on every start
    keyrings/      mon., client.admin, osd.0, rgw       mon/a/      monitor store
    osd/0/         OSD data (osd/0.block: bluestore)    rgw/        gateway data
    run/           pid files, admin sockets             log/        one log per daemon
    s3.env         ARCHIVE_S3_* lines (written by ``hsdt-archive-rgw start``)

The OSD is ``memstore`` when not persistent (RAM only: a fresh cluster starts in ~2 s) and
``bluestore`` on a sparse file when persistent: bluestore is Ceph 16's default and supported
store and needs no block device (it runs on a regular file, as Ceph's own vstart does), while
filestore is deprecated in 16 and gone in 18. Daemons run as the current user; nothing here
needs root.

Command line (``hsdt-archive-rgw``)::

    start --dir D --port P [--persistent]   daemons in the background; writes D/s3.env
    stop  --dir D [--after-pid PID]         stops the daemons of D (once PID has exited)
    serve --dir D --port P [--persistent]   foreground until SIGTERM/SIGINT (a Procfile line)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from archive.storage.ceph import (
    DAEMONS,
    MON,
    Cluster,
    RgwError,
    alive,
    objectstore,
    port_is_free,
)

__all__ = ["CEPH_PACKAGES", "CephMissing", "RgwError", "RgwServer", "main", "start", "stop"]

CEPH_PACKAGES: Final = ("ceph-mon", "ceph-osd", "radosgw")
"""Debian packages with everything used here (ceph-common and ceph-base come as dependencies)."""

_BINARIES: Final = (
    "ceph",
    "ceph-authtool",
    "monmaptool",
    "ceph-mon",
    "ceph-osd",
    "radosgw",
    "radosgw-admin",
)


class CephMissing(RuntimeError):  # noqa: N818 — named for what happened
    """The Ceph binaries are not installed."""


@dataclass(frozen=True, slots=True)
class RgwServer:
    """A running gateway and the S3 user made for the platform."""

    directory: Path
    endpoint: str
    access_key: str
    secret_key: str
    persistent: bool

    def env_lines(self) -> list[str]:
        return [
            f"ARCHIVE_S3_ENDPOINT={self.endpoint}",
            f"ARCHIVE_S3_ACCESS_KEY={self.access_key}",
            f"ARCHIVE_S3_SECRET_KEY={self.secret_key}",
        ]

    def stop(self) -> None:
        stop(self.directory)


def missing_binaries() -> list[str]:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    return [name for name in _BINARIES if shutil.which(name, path=path) is None]


def start(directory: Path, port: int, *, persistent: bool) -> RgwServer:
    """Start (creating it first if needed) the cluster in ``directory`` with the gateway on
    ``127.0.0.1:port``; returns once S3 answers.

    Idempotent: daemons already running are left running, a persistent cluster is reused with
    its data and user. A non-persistent cluster none of whose daemons runs has lost its data
    with them, so it is made anew.
    """
    missing = missing_binaries()
    if missing:
        raise CephMissing(
            f"Ceph is not installed (missing {', '.join(missing)}): run scripts/setup.sh or "
            f"apt-get install --no-install-recommends {' '.join(CEPH_PACKAGES)}"
        )
    directory = directory.resolve()
    cluster = Cluster(directory)
    state = cluster.read_state()
    running = [name for name in DAEMONS if cluster.pid_of(name) is not None]
    if state is not None and state["objectstore"] != objectstore(persistent=persistent):
        if running or state["objectstore"] == "bluestore":
            raise RgwError(
                f"{directory} holds a {state['objectstore']} cluster; asked for "
                f"persistent={persistent}. Stop it and use another directory."
            )
        state = None
    if state is not None and not persistent and not running:
        state = None
    try:
        if state is None:
            cluster.create(port, persistent=persistent)
        else:
            if MON not in running and not port_is_free(int(state["mon_port"])):
                state = cluster.move_mon(state)
            cluster.write_conf(state, port)
            cluster.start_daemons(port)
        cluster.wait_until_ready(port)
        access_key, secret_key = cluster.ensure_user()
    except BaseException:
        for name in reversed(DAEMONS):
            if name not in running:
                cluster.stop_daemon(name)
        raise
    return RgwServer(directory, f"http://127.0.0.1:{port}", access_key, secret_key, persistent)


def stop(directory: Path) -> None:
    """Stop the daemons of the cluster in ``directory`` (gateway, OSD, monitor); the files stay."""
    cluster = Cluster(directory.resolve())
    for name in reversed(DAEMONS):
        cluster.stop_daemon(name)


# --- command line -----------------------------------------------------------------------------
def _write_env(server: RgwServer) -> Path:
    path = server.directory / "s3.env"
    path.write_text("\n".join(server.env_lines()) + "\n")
    path.chmod(0o600)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hsdt-archive-rgw", description="A one-node Ceph RGW (S3) on 127.0.0.1."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("start", "start the daemons in the background and write DIR/s3.env"),
        ("serve", "start, wait for SIGTERM or SIGINT, stop (for a Procfile)"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--dir", type=Path, required=True)
        sub.add_argument("--port", type=int, required=True)
        sub.add_argument("--persistent", action="store_true", help="bluestore: data survives")
    stopper = commands.add_parser("stop", help="stop the daemons of DIR")
    stopper.add_argument("--dir", type=Path, required=True)
    stopper.add_argument(
        "--after-pid",
        type=int,
        metavar="PID",
        help="first wait until process PID has exited (a watchdog for a test session)",
    )
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "stop":
        while args.after_pid is not None and alive(args.after_pid):
            time.sleep(1)
        stop(args.dir)
        out.write(f"stopped the cluster in {args.dir}\n")
        return 0
    serving = args.command == "serve"
    # SIGTERM as SIGINT, from here on: whenever it comes, what was started is stopped (start()
    # itself stops what it started when interrupted; serve stops everything on its way out).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    began = time.monotonic()
    try:
        server = start(args.dir, args.port, persistent=args.persistent)
        env_file = _write_env(server)
        out.write(
            f"RGW on {server.endpoint} ({'bluestore' if server.persistent else 'memstore'}), "
            f"ready in {time.monotonic() - began:.1f}s; ARCHIVE_S3_* (secret too) in {env_file}\n"
        )
        out.flush()
        while serving:
            signal.pause()
    except (CephMissing, RgwError) as exc:
        sys.stderr.write(f"hsdt-archive-rgw: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 0 if serving else 130
    finally:
        if serving:
            # A second signal (a process group's SIGTERM after a SIGINT) must not cut it short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            stop(args.dir)
            out.write("stopped\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
