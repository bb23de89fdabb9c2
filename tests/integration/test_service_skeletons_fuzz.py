"""The skeleton services (archive: /healthz, /readyz, /api/v1/me), their
OpenAPI fuzzed with Schemathesis: no answer is a 5xx, every 4xx is problem+json, answers conform
to the schema; unauthenticated and with a teacher's token from the test token issuer.

Each app is migrated and started as ``test_service_skeletons`` does, and served on a loopback port
(``common.testing.serving``) so that Schemathesis, which calls synchronously through ``requests``,
can reach it from a worker thread while the app runs on the session's event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections import Counter
from pathlib import Path
from typing import Final

import pytest
import schemathesis

from common.fuzzing import Operation, fuzz_operation, operations_of
from common.testing import DatabaseFactory, TokenIssuer, alembic, serving

REPO: Final = Path(__file__).resolve().parents[2]
# Attendance left the list with #6, signing after it: their own fuzz tests cover their APIs.
SKELETONS: Final = ["archive"]
MAX_EXAMPLES: Final = 25


def _migrate(service: str, database_url: str) -> None:
    alembic(service, database_url)


def fuzz(
    operation: Operation, base_url: str, headers: dict[str, str], examples: int
) -> tuple[Counter[int], list[str]]:
    return fuzz_operation(operation, base_url, headers, examples)


@pytest.mark.parametrize("service", SKELETONS)
async def test_fuzz_skeleton_service(
    service: str,
    make_database: DatabaseFactory,
    amqp_url: str,
    redis_url: str,
    redis_prefix: str,
    token_issuer: TokenIssuer,
) -> None:
    database_url = await make_database(f"fuzz_{service}")
    _migrate(service, database_url)
    settings_class = getattr(
        importlib.import_module(f"{service}.settings"), f"{service.capitalize()}Settings"
    )
    app = importlib.import_module(f"{service}.app").create_app(
        settings_class(
            database_url=database_url,
            amqp_url=amqp_url,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            jwks_url=token_issuer.jwks_url,
        )
    )
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = operations_of(schema)
    teacher = token_issuer.headers(uuid.uuid4(), f"teacher@{uuid.uuid4()}")
    failures: list[str] = []
    by_caller: dict[str, dict[str, Counter[int]]] = {"anonymous": {}, "teacher": {}}

    async with app.router.lifespan_context(app), serving(app) as base_url:
        for caller, headers in (("anonymous", {}), ("teacher", teacher)):
            for operation in operations:
                statuses, found = await asyncio.to_thread(
                    fuzz, operation, base_url, headers, MAX_EXAMPLES
                )
                by_caller[caller][operation.label] = statuses
                failures += found

    assert failures == [], "\n\n".join(failures)
    # /healthz, /readyz and /metrics stay out of the OpenAPI (test_service_skeletons covers
    # them); /api/v1/me is what a skeleton documents.
    assert set(by_caller["teacher"]) == {"GET /api/v1/me"}
    assert by_caller["teacher"]["GET /api/v1/me"][200] > 0, by_caller
    assert set(by_caller["anonymous"]["GET /api/v1/me"]) == {401}, by_caller
