from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from common import metrics
from common.app import create_service_app
from common.health import ReadinessCheck
from common.settings import CommonSettings
from common.telemetry import setup_telemetry

router = APIRouter()


@router.get("/classes/{class_id}")
async def get_class(class_id: str) -> dict[str, str]:
    return {"class_id": class_id}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


def settings(**overrides: Any) -> CommonSettings:
    return CommonSettings(service_name="records", **overrides)


@pytest.fixture
def app() -> FastAPI:
    return create_service_app(
        settings=settings(), title="Records", version="1.2.3", routers=[router]
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_service_routes_live_under_api_v1_and_health_at_the_root(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/v1/classes/10A1")).json() == {"class_id": "10A1"}
    assert (await client.get("/classes/10A1")).status_code == 404
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "records"}
    assert (await client.get("/readyz")).json()["status"] == "ok"


async def test_the_gateways_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/classes/10A1", headers={"X-Request-ID": "gw-7f3a.1"})
    assert response.headers["X-Request-ID"] == "gw-7f3a.1"


async def test_a_request_id_is_made_when_missing_or_unusable(client: httpx.AsyncClient) -> None:
    made = (await client.get("/healthz")).headers["X-Request-ID"]
    assert len(made) == 32
    int(made, 16)
    odd = await client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert odd.headers["X-Request-ID"] != "a b\tc" + "x" * 200
    assert len(odd.headers["X-Request-ID"]) == 32


async def test_an_unhandled_error_still_carries_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["X-Request-ID"] == "req-500"


async def test_the_request_span_carries_the_request_id(app: FastAPI) -> None:
    exporter = InMemorySpanExporter()
    # Telemetry is one per process: whichever test set it up first named the service.
    telemetry = setup_telemetry("records", settings(), span_exporter=exporter)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        await c.get("/api/v1/classes/10A1", headers={"X-Request-ID": "req-span"})
        await c.get("/healthz")
    server_spans = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [s.name for s in server_spans] == ["GET /api/v1/classes/{class_id}"]
    assert server_spans[0].attributes is not None
    assert server_spans[0].attributes["hsdt.request_id"] == "req-span"
    assert server_spans[0].resource.attributes["service.name"] == telemetry.service_name


def test_setting_up_telemetry_twice_keeps_one_provider() -> None:
    first = setup_telemetry("records", settings())
    second = setup_telemetry("records", settings())
    assert first is second
    assert trace.get_tracer_provider() is first.tracer_provider


async def test_metrics_are_exposed_in_prometheus_text_format(client: httpx.AsyncClient) -> None:
    metrics.events_published.add(3, {"event_type": "vn.hsdt.records.term.locked.v1"})
    await client.get("/api/v1/classes/10A1")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'hsdt_events_published_total{event_type="vn.hsdt.records.term.locked.v1"' in text
    assert "http_server_duration" in text


async def test_openapi_is_3_1_with_the_service_title_and_version(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"] == {"title": "Records", "version": "1.2.3"}
    assert "/api/v1/classes/{class_id}" in doc["paths"]
    assert "/healthz" not in doc["paths"]


async def test_root_path_is_announced_in_the_openapi() -> None:
    app = create_service_app(
        settings=settings(root_path="/records"), title="Records", version="1", routers=[router]
    )
    # The gateway strips the prefix: the app sees /openapi.json and /api/v1/…
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        doc = (await c.get("/openapi.json")).json()
        routed = await c.get("/api/v1/classes/10A1")
        docs_page = (await c.get("/docs")).text
    assert doc["servers"] == [{"url": "/records"}]
    assert routed.json() == {"class_id": "10A1"}
    assert "/records/openapi.json" in docs_page
    # A root path given by the server itself (uvicorn --root-path) wins.
    transport = httpx.ASGITransport(app=app, root_path="/other")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        doc = (await c.get("/other/openapi.json")).json()
    assert doc["servers"] == [{"url": "/other"}]


async def test_lifespan_resolves_readiness_checks_and_freezes_the_heap() -> None:
    entered: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = True
        entered.append("start")
        yield
        entered.append("stop")

    async def failing() -> None:
        raise ConnectionError("down")

    def checks(app: FastAPI) -> dict[str, ReadinessCheck]:
        assert app.state.ready  # built after the service's own start-up
        return {"thing": failing}

    app = create_service_app(
        settings=settings(),
        title="Records",
        version="1",
        lifespan=lifespan,
        readiness_checks=checks,
    )
    async with app.router.lifespan_context(app):
        assert entered == ["start"]
        assert gc.get_freeze_count() > 0
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            response = await c.get("/readyz")
        assert response.status_code == 503
        assert response.json()["failing"] == ["thing"]
    assert entered == ["start", "stop"]
    assert gc.get_freeze_count() == 0
