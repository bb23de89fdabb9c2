"""The nginx gateway as `make run` renders it: accepted by `nginx -t`, then run for real in front
of a stub service to check the behaviour schools rely on (prefix routing, request ids,
forwarded headers, per-client rate limits, problem+json errors).

Needs the nginx binary, which scripts/setup.sh installs (`make test` runs it first).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "records", "attendance", "signing", "archive")
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Connections of an earlier user in TIME_WAIT do not make a port busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_ports(first: int, count: int) -> int:
    """A base such that base .. base+count-1 are all free, trying from ``first`` upwards."""
    for base in range(first, first + 2000, count + 3):
        if all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free ports")


def _nginx() -> str:
    if NGINX is None:
        pytest.fail("nginx is not installed: run scripts/setup.sh (make test does)")
    return NGINX


def _render(out_dir: Path, gateway_port: int, port_base: int, **extra: str) -> Path:
    env = {
        **os.environ,
        "HSDT_GATEWAY_PORT": str(gateway_port),
        "HSDT_PORT_BASE": str(port_base),
        **extra,
    }
    done = subprocess.run(
        ["bash", str(ROOT / "scripts/render-gateway.sh"), str(out_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    conf = Path(done.stdout.strip().splitlines()[-1])
    assert conf == out_dir / "nginx.conf"
    return conf


def _remove_temp_dir(out_dir: Path) -> None:
    marker = out_dir / "temp-dir"
    if marker.exists():
        shutil.rmtree(marker.read_text().strip(), ignore_errors=True)


def test_rendered_gateway_config_passes_nginx_t(tmp_path: Path) -> None:
    out = tmp_path / "nginx"
    conf = _render(out, 18080, 18100)
    try:
        rendered = (out / "gateway.conf").read_text(encoding="utf-8")
        assert "${" not in rendered, "a placeholder was left unrendered"
        assert "listen 127.0.0.1:18080;" in rendered
        for i, svc in enumerate(SERVICES, start=1):
            assert f"server 127.0.0.1:{18100 + i};" in rendered, svc
            assert f"location /{svc}/ {{" in rendered
        main = conf.read_text(encoding="utf-8")
        assert f"pid {out}/nginx.pid;" in main
        done = subprocess.run(
            [_nginx(), "-t", "-p", f"{out}/", "-c", str(conf), "-e", "stderr"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "test is successful" in done.stderr
    finally:
        _remove_temp_dir(out)


def test_render_refuses_unsafe_values(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        _render(tmp_path / "nginx", 18080, 18100, HSDT_RATE_LIMIT="20; evil")


# --- the gateway running in front of a stub service --------------------------------------------


class _Stub(BaseHTTPRequestHandler):
    """Answers with what it received, and an X-Request-ID of its own that must not leak."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", "from-the-service")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Gateway:
    def __init__(self, url: str, out_dir: Path) -> None:
        self.url = url
        self.out_dir = out_dir

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = _free_ports(28100, 6)
    gw_port = _free_ports(28080, 1)
    out = tmp_path_factory.mktemp("gateway") / "nginx"
    conf = _render(out, gw_port, base, HSDT_RATE_LIMIT="5", HSDT_RATE_BURST="10")
    # Only identity answers; records .. archive stay down (502).
    stub = ThreadingHTTPServer(("127.0.0.1", base + 1), _Stub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    nginx = subprocess.Popen(
        [_nginx(), "-p", f"{out}/", "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{gw_port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if nginx.poll() is not None or time.monotonic() > deadline:
                _, err = nginx.communicate(timeout=5)
                pytest.fail(f"nginx did not start: {err}")
            time.sleep(0.1)
        yield Gateway(url, out)
    finally:
        nginx.terminate()
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=10)
        if nginx.stderr is not None:
            nginx.stderr.close()
        stub.shutdown()
        stub.server_close()
        _remove_temp_dir(out)
    assert _free(gw_port), "nginx left its port open"


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://hsdt.vn/problems/{code}"
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert isinstance(body, dict)
    return body


def test_gateway_answers_its_own_healthz_with_a_request_id(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_service_prefix_is_stripped_and_forwarded_headers_are_set(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.get("/identity/api/v1/users?page=2", headers={"X-Client-Id": "fwd"})
    assert response.status_code == 200
    seen = response.json()
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert seen["path"] == "/api/v1/users?page=2"
    assert headers["x-forwarded-prefix"] == "/identity"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == gateway.url.removeprefix("http://")
    # One id for the whole request: the service got the one the client sees.
    assert headers["x-request-id"] == response.headers["x-request-id"]
    assert response.headers.get_list("x-request-id") == [headers["x-request-id"]]


def test_client_request_id_is_kept_when_well_formed_and_replaced_otherwise(
    gateway: Gateway,
) -> None:
    with gateway.client() as client:
        kept = client.get("/identity/healthz", headers={"X-Request-ID": "school-app:42.a_b-c"})
        replaced = client.get("/identity/healthz", headers={"X-Request-ID": "x" * 200})
    assert kept.headers["x-request-id"] == "school-app:42.a_b-c"
    assert kept.json()["headers"]["X-Request-ID"] == "school-app:42.a_b-c"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


def test_a_service_that_is_down_answers_502_problem_json(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.get("/records/healthz")
    _assert_problem(response, 502, "bad-gateway")


def test_unknown_paths_and_service_metrics_are_404_problem_json(gateway: Gateway) -> None:
    with gateway.client() as client:
        for path in ("/nowhere", "/identityx/healthz", "/identity/metrics"):
            _assert_problem(client.get(path), 404, "not-found")
        # The bare prefix is sent to the service's root, as nginx does for prefix locations.
        bare = client.get("/identity")
    assert bare.status_code == 301
    assert bare.headers["location"].endswith("/identity/")


def test_a_body_over_the_limit_is_refused_with_413_problem_json(gateway: Gateway) -> None:
    # Announce 60 MB and send none of it: nginx answers from the headers alone.
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /identity/api/v1/imports HTTP/1.1\r\nHost: gw\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 60000000\r\n"
            b"Connection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "payload-too-large"


def test_rate_limit_is_per_client_and_answers_429_problem_json(gateway: Gateway) -> None:
    # rate 5/s, burst 10 (set by the fixture): 40 quick requests must overflow.
    client_id = f"e2e-{uuid.uuid4().hex[:8]}"
    statuses: list[int] = []
    limited: httpx.Response | None = None
    with gateway.client() as client:
        for _ in range(40):
            response = client.get("/identity/healthz", headers={"X-Client-Id": client_id})
            statuses.append(response.status_code)
            if response.status_code == 429 and limited is None:
                limited = response
        assert limited is not None, statuses
        assert statuses[:5] == [200] * 5
        body = _assert_problem(limited, 429, "too-many-requests")
        assert body["title"] == "Quá nhiều yêu cầu"
        assert limited.headers["retry-after"] == "1"
        # Another client is not held back by the first one's burst, nor is the gateway's health.
        other = client.get("/identity/healthz", headers={"X-Client-Id": client_id + "-other"})
        assert other.status_code == 200
        assert client.get("/healthz").status_code == 200


def test_a_bearer_token_is_its_own_rate_limit_key(gateway: Gateway) -> None:
    token = uuid.uuid4().hex
    with gateway.client() as client:
        statuses = [
            client.get(
                "/identity/healthz",
                headers={"Authorization": f"Bearer {token}", "X-Client-Id": "shared"},
            ).status_code
            for _ in range(40)
        ]
        assert 429 in statuses
        fresh = client.get("/identity/healthz", headers={"X-Client-Id": "shared"})
    assert fresh.status_code == 200


def test_access_log_is_json_with_the_request_id(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.get("/identity/api/v1/ping?secret=do-not-log")
    request_id = response.headers["x-request-id"]
    log = gateway.out_dir / "logs" / "access.log"
    deadline = time.monotonic() + 5
    entry: dict[str, Any] | None = None
    while entry is None and time.monotonic() < deadline:
        for line in log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["request_id"] == request_id:
                entry = record
        time.sleep(0.05)
    assert entry is not None
    assert entry["path"] == "/identity/api/v1/ping"
    assert entry["status"] == 200
    assert "do-not-log" not in json.dumps(entry)
