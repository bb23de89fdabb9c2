"""The files and daemons of a one-node Ceph cluster in one directory (see ``rgw``): its
ceph.conf, keyrings, monitor map, and the monitor, OSD and gateway processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Final

STATE: Final = "cluster.json"  # written last: the directory holds a complete cluster
MARKER: Final = ".hsdt-rgw"  # written first: the directory is ours to wipe
USER: Final = "hsdt"
# Daemon name → the pid file Ceph writes ("$name.pid"); started in this order, stopped reversed.
MON, OSD, RGW = "mon.a", "osd.0", "client.rgw.a"
DAEMONS: Final = (MON, OSD, RGW)
_MEMSTORE_BYTES: Final = 2 << 30  # capacity it reports; data lives in RAM as written
_BLUESTORE_BYTES: Final = 20 << 30  # a sparse file: disk is used as data is written
_READY_SECONDS: Final = 120.0
_STOP_SECONDS: Final = 30.0


class RgwError(RuntimeError):
    """The cluster could not be created, started or asked something."""


def objectstore(*, persistent: bool) -> str:
    return "bluestore" if persistent else "memstore"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As servers do (Ceph's too): a port whose old connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def alive(pid: int) -> bool:
    """Running and not a zombie: a zombie answers ``kill(pid, 0)`` until its parent reaps it,
    and the daemons' parent after they fork away is PID 1, which may never reap."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill()
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.conf = directory / "ceph.conf"

    # --- files ------------------------------------------------------------------------------
    def read_state(self) -> dict[str, str | int] | None:
        path = self.dir / STATE
        if not path.exists():
            return None
        state: dict[str, str | int] = json.loads(path.read_text())
        return state

    def write_conf(self, state: dict[str, str | int], port: int) -> None:
        d = self.dir
        run = d / "run"
        # A unix socket path has at most 107 bytes; without the socket the daemons still run.
        asok = f"{run}/$name.asok" if len(f"{run}/client.rgw.a.asok") < 100 else ""
        self.conf.write_text(
            f"""# Written by archive.storage.rgw on every start; edits are lost.
[global]
fsid = {state["fsid"]}
mon host = [v2:127.0.0.1:{state["mon_port"]}]
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = {d}/keyrings/$name.keyring
run dir = {run}
pid file = {run}/$name.pid
admin socket = {asok}
log file = {d}/log/$name.log
log to stderr = false
crash dir = {d}/crash
# One OSD: pools of one copy, few placement groups, no manager (nothing needs one).
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
# Commit monitor changes at once instead of batching them for a second: the gateway's first
# start makes about twenty of them (pools), which took ~10 s at the default interval.
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = {d}/mon/$id
mon cluster log file = {d}/log/cluster.log

[osd]
osd data = {d}/osd/$id
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd objectstore = {state["objectstore"]}
memstore device bytes = {_MEMSTORE_BYTES}
bluestore block path = {d}/osd/$id.block
bluestore block create = true
bluestore block size = {_BLUESTORE_BYTES}
osd memory target = {1 << 30}

[{RGW}]
rgw data = {d}/rgw
rgw frontends = beast endpoint=127.0.0.1:{port}
rgw enable apis = s3
rgw thread pool size = 64
"""
        )

    def create(self, port: int, *, persistent: bool) -> None:
        d = self.dir
        if d.exists() and any(d.iterdir()):
            if not (d / MARKER).exists():
                raise RgwError(f"{d} is not empty and holds no cluster of ours; not touching it")
            for name in reversed(DAEMONS):  # left by a start that failed half-way
                self.stop_daemon(name)
            shutil.rmtree(d)
        d.mkdir(parents=True, exist_ok=True)
        (d / MARKER).write_text("a Ceph cluster made by archive.storage.rgw\n")
        for sub in ("keyrings", "mon/a", "osd/0", "rgw", "run", "log", "crash"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "keyrings").chmod(0o700)
        state: dict[str, str | int] = {
            "fsid": str(uuid.uuid4()),
            "mon_port": free_port(),
            "objectstore": objectstore(persistent=persistent),
            "osd_uuid": str(uuid.uuid4()),
        }
        self.write_conf(state, port)
        keyrings = d / "keyrings"
        mon_keyring = keyrings / f"{MON}.keyring"
        caps = {
            "mon.": ["mon", "allow *"],
            "client.admin": ["mon", "allow *", "osd", "allow *", "mgr", "allow *"],
            OSD: ["mon", "allow profile osd", "osd", "allow *", "mgr", "allow profile osd"],
            RGW: ["mon", "allow rw", "osd", "allow rwx"],
        }
        # Every key goes into the monitor's keyring before its mkfs, which loads them all
        # into the auth database: no `ceph auth add` round trips later.
        for name, cap in caps.items():
            path = mon_keyring if name == "mon." else keyrings / f"{name}.keyring"
            args = ["--create-keyring", str(path), "--gen-key", "-n", name]
            for i in range(0, len(cap), 2):
                args += ["--cap", cap[i], cap[i + 1]]
            self.run("ceph-authtool", *args)
            if name != "mon.":
                self.run("ceph-authtool", str(mon_keyring), "--import-keyring", str(path))
        monmap = self.make_monmap(state)
        self.run("ceph-mon", "-c", str(self.conf), "--mkfs", "-i", "a", "--monmap", str(monmap))
        # The OSD's mkfs is local (bluestore's takes ~2 s): run it while the monitor starts.
        with self.popen(
            "ceph-osd", "-c", str(self.conf), "-i", "0", "--mkfs", "--no-mon-config",
            "--osd-uuid", str(state["osd_uuid"]),
        ) as mkfs:  # fmt: skip
            self.start_daemon(MON, port)
            self.ceph("osd", "new", str(state["osd_uuid"]), "0")
            _, err = mkfs.communicate(timeout=300)
            if mkfs.returncode != 0:
                raise RgwError(f"ceph-osd --mkfs failed: {err.strip()[-2000:]}")
        (d / STATE).write_text(json.dumps(state, indent=2) + "\n")
        self.start_daemon(OSD, port)
        self.start_daemon(RGW, port)

    def make_monmap(self, state: dict[str, str | int]) -> Path:
        monmap = self.dir / "mon" / "monmap"
        self.run(
            "monmaptool", "--create", "--clobber", "--fsid", str(state["fsid"]), "--addv", "a",
            f"[v2:127.0.0.1:{state['mon_port']}]", str(monmap),
        )  # fmt: skip
        return monmap

    def move_mon(self, state: dict[str, str | int]) -> dict[str, str | int]:
        """Give the stopped monitor a free port: its address is part of the cluster's state
        (the monitor map), and a loopback port may have been taken since it last ran."""
        state = {**state, "mon_port": free_port()}
        self.write_conf(state, 0)
        monmap = self.make_monmap(state)
        self.run("ceph-mon", "-c", str(self.conf), "-i", "a", "--inject-monmap", str(monmap))
        (self.dir / STATE).write_text(json.dumps(state, indent=2) + "\n")
        return state

    # --- processes --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"CEPH_ARGS", "CEPH_CONF", "PYTHONPATH", "PYTHONHOME"}
        }
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), "/usr/sbin", "/usr/bin"])
        return env

    def run(self, *args: str, timeout: float = 120) -> str:
        try:
            done = subprocess.run(  # noqa: S603 — Ceph's own tools, arguments built here
                args,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise RgwError(f"{args[0]} did not finish within {timeout}s") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise RgwError(f"{' '.join(args[:4])} … failed ({done.returncode}): {output}")
        return done.stdout

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 — Ceph's own tools, arguments built here
            args,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ceph(self, *args: str) -> str:
        return self.run("ceph", "-c", str(self.conf), "--connect-timeout", "60", *args)

    def pid_of(self, name: str) -> int | None:
        """The pid of daemon ``name`` if it runs with this directory's configuration."""
        try:
            pid = int((self.dir / "run" / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        if not alive(pid):
            return None
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(self.conf).encode() not in cmdline:
                return None  # a recycled pid
        return pid

    def start_daemon(self, name: str, port: int) -> None:
        if self.pid_of(name) is not None:
            return
        conf = ("-c", str(self.conf))
        if name == MON:
            self.run("ceph-mon", *conf, "-i", "a")
        elif name == OSD:
            self.run("ceph-osd", *conf, "-i", "0")
        else:
            if not port_is_free(port):
                raise RgwError(f"port 127.0.0.1:{port} is taken; the gateway cannot listen on it")
            self.run("radosgw", *conf, "-n", RGW)
        # The daemons fork into the background; the child writes the pid file.

    def start_daemons(self, port: int) -> None:
        rgw = self.pid_of(RGW)
        if rgw is not None and f"127.0.0.1:{port}" not in self._rgw_listening():
            self.stop_daemon(RGW)
        for name in DAEMONS:
            self.start_daemon(name, port)

    def _rgw_listening(self) -> str:
        path = self.dir / "run" / "rgw.endpoint"
        return path.read_text() if path.exists() else ""

    def stop_daemon(self, name: str) -> None:
        pid = self.pid_of(name)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_SECONDS
        while alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "run" / f"{name}.pid").unlink()

    def wait_until_ready(self, port: int) -> None:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + _READY_SECONDS
        while True:
            # The pid file appears once the gateway has forked; it may take a moment.
            pid_file = self.dir / "run" / f"{RGW}.pid"
            if pid_file.exists() and self.pid_of(RGW) is None:
                raise RgwError(f"radosgw exited while starting:\n{self.log_tail(RGW)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if "x-amz-request-id" in response.headers:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RgwError(
                    f"the gateway did not answer on {url} within {_READY_SECONDS:.0f}s:\n"
                    f"{self.log_tail(RGW)}"
                )
            time.sleep(0.1)
        (self.dir / "run" / "rgw.endpoint").write_text(f"127.0.0.1:{port}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.dir / "log" / f"{name}.log"
        if not path.exists():
            return f"(no {path})"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def ensure_user(self) -> tuple[str, str]:
        admin = ("radosgw-admin", "-c", str(self.conf), "-n", "client.admin")
        try:
            info = self.run(*admin, "user", "info", "--uid", USER)
        except RgwError:
            info = self.run(*admin, "user", "create", "--uid", USER, "--display-name", "HSDT")
        keys = json.loads(info)["keys"]
        if not keys:
            raise RgwError(f"S3 user {USER} has no keys")
        return str(keys[0]["access_key"]), str(keys[0]["secret_key"])
