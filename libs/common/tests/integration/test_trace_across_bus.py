"""One trace covers an HTTP request, the outbox, the relay's publish and the consumer's handling
(DESIGN.md, Observability; issue #2)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import insert

from common.app import create_service_app
from common.settings import CommonSettings
from common.telemetry import instrument_engine, setup_telemetry
from common.testing import Unique, wait_until
from common.uow import UnitOfWork

from .support import Pinged, running_world, writes


async def test_consumer_span_continues_the_trace_of_the_request(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    exporter = InMemorySpanExporter()
    settings = CommonSettings(
        service_name="trace-test", database_url=database_url, amqp_url=amqp_url
    )
    handled_in: list[trace.SpanContext] = []

    async def remember_span(event: Pinged, uow: UnitOfWork) -> None:
        handled_in.append(trace.get_current_span().get_span_context())

    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
        handlers=[remember_span],
    ) as world:
        router = APIRouter()

        @router.post("/pings/{n}", status_code=202)
        async def ping(n: int, request: Request) -> dict[str, int]:
            uow = world.producer_uow
            async with uow:
                await uow.session.execute(insert(writes).values(n=n))
                uow.emit(Pinged(key=f"k{n}", n=n))
                await uow.commit()
            return {"n": n}

        app = create_service_app(settings=settings, title="trace", version="0", routers=[router])
        setup_telemetry("trace-test", settings, span_exporter=exporter)
        instrument_engine(world.engine)  # as build_deps does for every service
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            response = await client.post("/api/v1/pings/7")
        assert response.status_code == 202

        async def handled() -> bool:
            return bool(handled_in)

        assert await wait_until(handled, timeout=10)

    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}
    [server] = [s for s in spans.values() if s.kind is SpanKind.SERVER and "pings" in s.name]
    trace_id = server.context.trace_id
    assert handled_in[0].trace_id == trace_id

    handler_span = spans[handled_in[0].span_id]
    chain = _ancestors(handler_span, spans)
    names = [s.name for s in chain]
    kinds = [s.kind for s in chain]
    # consumer span → producer (relay publish) span → … → the HTTP server span, one trace.
    assert chain[-1] is server, names
    assert SpanKind.CONSUMER in kinds, names
    assert any(s.kind is SpanKind.PRODUCER and Pinged.event_type in s.name for s in chain), names
    assert all(s.context.trace_id == trace_id for s in chain)
    # The database insert of the business transaction belongs to the same trace too.
    assert any(
        s.context.trace_id == trace_id and "INSERT" in s.name.upper() for s in spans.values()
    )


def _ancestors(span: ReadableSpan, spans: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = [span]
    while chain[-1].parent is not None and chain[-1].parent.span_id in spans:
        chain.append(spans[chain[-1].parent.span_id])
    return chain
