"""Identity's OpenAPI, fuzzed with Schemathesis: no answer is a 5xx, every 4xx is problem+json,
answers conform to the schema; unauthenticated and as the seeded school leader.

The ``identity`` app runs on the session's event loop, so Schemathesis (synchronous, through
``requests``) talks to it over a loopback port (``common.testing.serving``) from a worker thread.
The leader's token is minted by the app's own key ring, afresh for each operation, so that the
fuzzed ``/auth/logout`` (which revokes the token it is called with) spoils only its own cases.
Sign-in lockout answers 429 to repeated failures: that is expected, and documented.

Failures are collected rather than raised inside Hypothesis, so nothing is shrunk and every
distinct failure (by operation, check and status) is listed with a curl command.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Final

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

from common.testing import serving
from identity.handlers.auth import utcnow
from identity.testing import SCHOOL, Identity
from identity.tokens import mint_access_token

CHECKS: Final = [status_code_conformance, content_type_conformance, response_schema_conformance]


Operation = APIOperation[Any, Any, Any, Any]


def operations_of(schema: BaseSchema) -> list[Operation]:
    """Every operation of ``schema``; one Schemathesis cannot read fails the test."""
    found: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


MAX_EXAMPLES: Final = 20


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
        checks = CHECKS
        if status == 429:
            # Sign-in lockout after repeated failures: expected, whether documented or not.
            checks = [c for c in checks if c is not status_code_conformance]
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"check-{status}-{first}", case, f"{label}: {status}: {str(exc)[:1500]}")

    run()
    return sent, list(failures.values())


def _operations(identity: Identity) -> list[Operation]:
    schema = schemathesis.openapi.from_dict(identity.app.openapi())
    return operations_of(schema)


async def _leader_headers(identity: Identity) -> dict[str, str]:
    """A token for the seeded leader, signed by the app's own key ring."""
    settings = identity.deps.settings
    ring = await identity.deps.auth_services.keys.ring(utcnow())
    token, _ = mint_access_token(
        ring,
        subject=str(identity.users["leader"]),
        kind="user",
        grants=[f"school_leader@{SCHOOL}"],
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        now=utcnow(),
    )
    return {"Authorization": f"Bearer {token}"}


async def test_fuzz_identity_unauthenticated(identity: Identity) -> None:
    failures: list[str] = []
    total: Counter[int] = Counter()
    async with serving(identity.app) as base_url:
        for operation in _operations(identity):
            statuses, found = await asyncio.to_thread(fuzz, operation, base_url, {}, MAX_EXAMPLES)
            total += statuses
            failures += found

    assert total.total() > 0
    assert failures == [], "\n\n".join(failures)


async def test_fuzz_identity_as_the_school_leader(identity: Identity) -> None:
    failures: list[str] = []
    total: Counter[int] = Counter()
    by_label: dict[str, Counter[int]] = {}
    async with serving(identity.app) as base_url:
        for operation in _operations(identity):
            headers = await _leader_headers(identity)
            statuses, found = await asyncio.to_thread(
                fuzz, operation, base_url, headers, MAX_EXAMPLES
            )
            total += statuses
            by_label[operation.label] = statuses
            failures += found

    assert total.total() > 0
    assert failures == [], "\n\n".join(failures)
    assert by_label["GET /api/v1/me"][200] > 0, f"the token was never accepted: {by_label}"
