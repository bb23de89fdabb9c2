"""Liveness and readiness endpoints.

``/healthz`` answers as long as the process serves HTTP (restart me if not); ``/readyz`` checks
the dependencies a request needs (send me traffic only if they answer). Checks run concurrently,
each with its own timeout, and without tracing: probes every few seconds would otherwise fill
the trace store with ``SELECT 1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import text

from common.errors import Problem, problem_response

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine

# A check returns when the dependency is usable and raises otherwise.
ReadinessCheck = Callable[[], Awaitable[None]]
ChecksSource = Mapping[str, ReadinessCheck] | Callable[[], Mapping[str, ReadinessCheck]]


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def redis_check(redis: Redis) -> ReadinessCheck:
    async def check() -> None:
        # redis-py's async typing does not say ping() is awaitable.
        ping = cast("Callable[[], Awaitable[Any]]", redis.ping)
        if not await ping():
            raise ConnectionError("Redis did not answer PING")

    return check


def broker_check(is_connected: Callable[[], bool]) -> ReadinessCheck:
    """``is_connected`` reads the broker connection's state, e.g. ``lambda: not conn.is_closed``."""

    async def check() -> None:
        if not is_connected():
            raise ConnectionError("broker connection is not open")

    return check


async def _run(check: ReadinessCheck, limit_seconds: float) -> str:
    try:
        with suppress_instrumentation():
            await asyncio.wait_for(check(), limit_seconds)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # noqa: BLE001 - whatever a check raises, it is not ready
        # The type only: messages of connection errors carry hosts and sometimes credentials.
        return f"failed: {type(exc).__name__}"
    return "ok"


async def run_checks(checks: Mapping[str, ReadinessCheck], limit_seconds: float) -> dict[str, str]:
    """Run every check at once, each bounded by ``limit_seconds``; name → "ok" or why not."""
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[n], limit_seconds) for n in names))
    return dict(zip(names, results, strict=True))


def health_router(
    checks: ChecksSource | None = None,
    *,
    service: str = "hsdt",
    timeout_seconds: float = 2.0,
) -> APIRouter:
    """``GET /healthz`` and ``GET /readyz``.

    ``checks`` may be a callable returning the mapping: the clients the checks need are often
    built in the lifespan, after the router exists.
    """
    router = APIRouter(tags=["health"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        current = checks() if callable(checks) else checks
        results = await run_checks(current or {}, timeout_seconds)
        failing = sorted(name for name, result in results.items() if result != "ok")
        if failing:
            problem = Problem(
                503,
                "not-ready",
                "Dịch vụ chưa sẵn sàng",
                f"Failing checks: {', '.join(failing)}",
                extensions={"service": service, "checks": results, "failing": failing},
            )
            return problem_response(problem, request.url.path)
        return JSONResponse({"status": "ok", "service": service, "checks": results})

    return router
