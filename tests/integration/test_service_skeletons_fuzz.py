"""The skeleton services (attendance, signing, archive: /healthz, /readyz, /api/v1/me), their
OpenAPI fuzzed with Schemathesis: no answer is a 5xx, every 4xx is problem+json, answers conform
to the schema; unauthenticated and with a teacher's token from the test token issuer.

Each app is migrated and started as ``test_service_skeletons`` does, and served on a loopback port
(``common.testing.serving``) so that Schemathesis, which calls synchronously through ``requests``,
can reach it from a worker thread while the app runs on the session's event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from common.testing import DatabaseFactory, TokenIssuer, serving

REPO: Final = Path(__file__).resolve().parents[2]
SKELETONS: Final = ["attendance", "signing", "archive"]
CHECKS: Final = [status_code_conformance, content_type_conformance, response_schema_conformance]


Operation = APIOperation[Any, Any, Any, Any]


def operations_of(schema: BaseSchema) -> list[Operation]:
    """Every operation of ``schema``; one Schemathesis cannot read fails the test."""
    found: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


MAX_EXAMPLES: Final = 25


def _migrate(service: str, database_url: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            f"services/{service}/alembic.ini",
            "upgrade",
            "head",
        ],
        cwd=REPO,
        env={**os.environ, f"{service.upper()}_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        timeout=120,
    )


def fuzz(
    operation: Operation, base_url: str, headers: dict[str, str], examples: int
) -> tuple[Counter[int], list[str]]:
    """Fuzz one operation; returns (statuses answered, distinct failures)."""
    label = operation.label
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    failures: dict[str, str] = {}
    sent: Counter[int] = Counter()

    def fail(key: str, case: Case[Any], detail: str) -> None:
        failures.setdefault(key, f"{detail}\n  {case.as_curl_command(base_url=base_url)}")

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        status = response.status_code
        sent[status] += 1
        if status >= 500:
            fail(f"{status}", case, f"{label}: {status} {response.content[:2000]!r}")
            return
        content_type = response.headers.get("content-type", [""])[0]
        if status >= 400 and not content_type.startswith("application/problem+json"):
            fail(f"{status}-type", case, f"{label}: {status} as {content_type!r}")
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"check-{status}-{first}", case, f"{label}: {status}: {str(exc)[:1500]}")

    run()
    return sent, list(failures.values())


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
