"""OpenTelemetry for a service process: traces, metrics, propagation, instrumentation.

``setup_telemetry`` is called once per process (the API app and the worker each call it); later
calls return the same ``Telemetry`` so providers and instrumentations never stack. Spans leave
the process through OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the exporter
reads the standard ``OTEL_*`` variables itself); metrics are pulled by Prometheus from
``/metrics``.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, Response
from opentelemetry import metrics, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
from opentelemetry.instrumentation.asgi import get_host_port_url_tuple
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME, SERVICE_VERSION
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.trace import Span
    from sqlalchemy.ext.asyncio import AsyncEngine

    from common.settings import CommonSettings

logger = logging.getLogger(__name__)

# Probes and scrapes hit these every few seconds; tracing them only buries real traces.
_EXCLUDED_URLS: Final = "/healthz$,/readyz$,/metrics$"


@dataclass
class Telemetry:
    """The process's providers; keep it to flush spans on shutdown or add a test exporter."""

    service_name: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    _exporters: list[SpanExporter] = field(default_factory=list, repr=False)

    def add_span_exporter(self, exporter: SpanExporter) -> None:
        """Export every finished span to ``exporter`` synchronously (tests: in-memory)."""
        if any(e is exporter for e in self._exporters):
            return
        self._exporters.append(exporter)
        processor: SpanProcessor = SimpleSpanProcessor(exporter)
        self.tracer_provider.add_span_processor(processor)

    def flush(self, timeout_millis: int = 5_000) -> bool:
        """Push buffered spans out; the providers themselves shut down at interpreter exit."""
        return self.tracer_provider.force_flush(timeout_millis)


_lock = threading.Lock()
_telemetry: Telemetry | None = None
_instrumented_engines: weakref.WeakSet[Any] = weakref.WeakSet()


def setup_telemetry(
    service_name: str,
    settings: CommonSettings,
    *,
    span_exporter: SpanExporter | None = None,
    service_version: str | None = None,
) -> Telemetry:
    """Configure tracing, metrics and propagation for this process and instrument libraries.

    Sampling is parent-based with ``settings.trace_sample_ratio`` for root spans, so a trace
    started upstream (the gateway, a producer across the bus) is kept or dropped as a whole.
    ``span_exporter`` adds an exporter with a synchronous processor; passing one to a later
    call adds it to the existing provider.
    """
    global _telemetry  # noqa: PLW0603 - one set of providers per process is the point
    with _lock:
        if _telemetry is None:
            _telemetry = _create(service_name, settings, service_version)
        elif _telemetry.service_name != service_name:
            logger.warning(
                "telemetry already set up for another service; keeping it",
                extra={"configured": _telemetry.service_name, "requested": service_name},
            )
        if span_exporter is not None:
            _telemetry.add_span_exporter(span_exporter)
        return _telemetry


def _create(service_name: str, settings: CommonSettings, service_version: str | None) -> Telemetry:
    attributes: dict[str, str] = {
        SERVICE_NAME: service_name,
        "deployment.environment.name": settings.environment,
    }
    if service_version:
        attributes[SERVICE_VERSION] = service_version
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES; ours take precedence.
    resource = Resource.create(attributes)

    tracer_provider = TracerProvider(
        resource=resource,
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        # Imported here: the exporter pulls in protobuf, which a process without a collector
        # has no use for.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    if trace.get_tracer_provider() is not tracer_provider:
        logger.warning("a tracer provider was set before setup_telemetry; spans may be lost")

    # The reader registers with prometheus_client's default registry, next to the process
    # collectors, so /metrics exposes both.
    readers: list[MetricReader] = [PrometheusMetricReader()]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter,
        )

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)

    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )

    # Each instrumentor is a process-wide singleton that refuses a second instrument() call.
    for instrumentor in (AioPikaInstrumentor(), RedisInstrumentor(), HTTPXClientInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)

    return Telemetry(service_name, tracer_provider, meter_provider)


def get_telemetry() -> Telemetry | None:
    """The process's telemetry, if ``setup_telemetry`` has run."""
    return _telemetry


def _scrub_query(span: Span, scope: dict[str, Any]) -> None:
    # Query strings carry search terms (a student's name, a phone number); the route and path
    # are enough to find a request, so the full URL goes into the span without its query.
    if span.is_recording() and scope.get("query_string"):
        span.set_attribute("http.url", get_host_port_url_tuple(scope)[2])  # type: ignore[no-untyped-call]
        span.set_attribute("url.query", "[redacted]")


def instrument_app(app: FastAPI) -> None:
    """Trace the app's requests and record HTTP server metrics; idempotent per app."""
    tel = _telemetry
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tel.tracer_provider if tel else None,
        meter_provider=tel.meter_provider if tel else None,
        excluded_urls=_EXCLUDED_URLS,
        server_request_hook=_scrub_query,
    )


def instrument_engine(engine: AsyncEngine) -> None:
    """Trace the statements of one SQLAlchemy async engine; idempotent per engine.

    ``SQLAlchemyInstrumentor.instrument(engine=…)`` accepts only the first engine of a process
    (then it counts as "already instrumented"), and its global mode patches ``create_engine``;
    attaching the engine tracer directly instruments exactly the engines we are given.
    """
    sync_engine = engine.sync_engine
    with _lock:
        if sync_engine in _instrumented_engines:
            return
        _instrumented_engines.add(sync_engine)
    tel = _telemetry
    tracer = trace.get_tracer(
        "opentelemetry.instrumentation.sqlalchemy",
        tracer_provider=tel.tracer_provider if tel else None,
    )
    meter = (tel.meter_provider if tel else metrics.get_meter_provider()).get_meter(
        "opentelemetry.instrumentation.sqlalchemy"
    )
    connections_usage = meter.create_up_down_counter(
        "db.client.connections.usage",
        unit="connections",
        description="Connections of the pool, by state (idle, used)",
    )
    EngineTracer(tracer, sync_engine, connections_usage)  # type: ignore[no-untyped-call]


metrics_router = APIRouter(tags=["observability"])


@metrics_router.get("/metrics", include_in_schema=False)
def prometheus_metrics() -> Response:
    # A plain def: FastAPI runs it in the thread pool, so collecting every instrument does not
    # hold up the event loop.
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
