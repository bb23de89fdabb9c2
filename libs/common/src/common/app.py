"""The FastAPI application every service builds the same way.

``create_service_app`` wires what is common: JSON logs, telemetry, problem+json errors, the
request id, health and metrics at the root, the service's routers under ``/api/v1``, and a
frozen heap once start-up is over.
"""

from __future__ import annotations

import gc
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from starlette.datastructures import MutableHeaders

from common.auth import principal_router
from common.errors import install_problem_handlers
from common.health import ReadinessCheck, health_router
from common.logs import configure_logging, request_id_var
from common.telemetry import instrument_app, metrics_router, setup_telemetry

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from common.settings import CommonSettings

API_PREFIX: Final = "/api/v1"
REQUEST_ID_HEADER: Final = "X-Request-ID"
# The gateway's ids are hex or UUIDs; anything else (too long, odd characters) is replaced
# rather than copied into logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Mapping[str, Any] | None]]
ReadinessChecks = (
    Mapping[str, ReadinessCheck] | Callable[[FastAPI], Mapping[str, ReadinessCheck]] | None
)


class RequestIdMiddleware:
    """Take the gateway's request id (or make one), echo it, and tag the span and logs with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope["headers"]:
            if key == _REQUEST_ID_KEY:
                candidate = value.decode("latin-1")
                if _VALID_REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        if request_id is None:
            request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("hsdt.request_id", request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class RootPathMiddleware:
    """Tell the app the prefix the gateway serves it under (``/records``), for its docs' URLs.

    FastAPI's own ``root_path=`` argument is deprecated in favour of the server's setting; this
    keeps it in our settings, and a root path that the server does pass wins.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            scope["root_path"] = self.root_path
        await self.app(scope, receive, send)


def create_service_app(
    *,
    settings: CommonSettings,
    title: str,
    version: str,
    lifespan: Lifespan | None = None,
    routers: Sequence[APIRouter] = (),
    readiness_checks: ReadinessChecks = None,
    description: str = "",
) -> FastAPI:
    """Build a service's app.

    ``readiness_checks`` may be a callable taking the app: it is called once the service's
    lifespan has started, so checks can use the clients the lifespan put on ``app.state``.
    """
    configure_logging(settings.service_name, settings.log_level)
    telemetry = setup_telemetry(settings.service_name, settings, service_version=version)

    @asynccontextmanager
    async def service_lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with _maybe(lifespan, app) as state:
            checks = readiness_checks(app) if callable(readiness_checks) else readiness_checks
            app.state.readiness_checks = dict(checks or {})
            # Objects made during start-up live as long as the process; moving them out of the
            # collector's reach keeps full collections (30–60 ms here) from setting the p99.
            gc.collect()
            gc.freeze()
            try:
                yield state
            finally:
                gc.unfreeze()
                telemetry.flush()

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=service_lifespan,
    )
    app.state.readiness_checks = {}
    install_problem_handlers(app)
    # Added after the error middleware, so it wraps it: a 500 problem carries the id too.
    app.add_middleware(RequestIdMiddleware)
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    app.include_router(
        health_router(lambda: app.state.readiness_checks, service=settings.service_name)
    )
    app.include_router(metrics_router)
    # Every service answers GET /api/v1/me for a verified token.
    app.include_router(principal_router, prefix=API_PREFIX)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    instrument_app(app)
    return app


@asynccontextmanager
async def _maybe(
    lifespan: Lifespan | None, app: FastAPI
) -> AsyncIterator[Mapping[str, Any] | None]:
    if lifespan is None:
        yield None
        return
    async with lifespan(app) as state:
        yield state
