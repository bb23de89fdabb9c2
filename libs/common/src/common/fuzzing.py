"""Schemathesis fuzzing of a service's OpenAPI, the same way for every service's tests.

Schemathesis calls synchronously (through ``requests``), so the app under test is served on a
loopback port (``common.testing.serving``) and ``fuzz_operation`` runs in a worker thread.
Failures are collected rather than raised inside Hypothesis, so nothing is shrunk and every
distinct failure (by operation, check and status) is listed with a curl command. The checks:
no 5xx; every 4xx is problem+json; status code, content type and body conform to the schema.

Test support only: Schemathesis is a development dependency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any, Final

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

CHECKS: Final = [status_code_conformance, content_type_conformance, response_schema_conformance]

Operation = APIOperation[Any, Any, Any, Any]


def operations_of(schema: BaseSchema) -> list[Operation]:
    """Every operation of ``schema``; one Schemathesis cannot read fails the test."""
    found: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


def fuzz_operation(
    operation: Operation,
    base_url: str,
    headers: Mapping[str, str],
    examples: int,
    *,
    known: Mapping[str, str] | None = None,
    undocumented_ok: Collection[int] = (),
) -> tuple[Counter[int], list[str]]:
    """Fuzz one operation; returns (statuses answered, distinct failures).

    ``known``: path parameters of real resources, so some requests get past the 404s.
    ``undocumented_ok``: statuses accepted though no operation documents them (a lockout's 429).
    """
    label = operation.label
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    wanted = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in (known or {}).items() if k in wanted}
    if fixed:
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=fixed)
        )
    failures: dict[str, str] = {}
    sent: Counter[int] = Counter()
    sent_headers = dict(headers)

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
    @given(case=st.one_of(strategies))
    def run(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=sent_headers, timeout=30)
        status = response.status_code
        sent[status] += 1
        if status >= 500:
            fail(f"{status}", case, f"{label}: {status} {response.content[:2000]!r}")
            return
        content_type = response.headers.get("content-type", [""])[0]
        if status >= 400 and not content_type.startswith("application/problem+json"):
            fail(f"{status}-type", case, f"{label}: {status} as {content_type!r}")
        checks = CHECKS
        if status in undocumented_ok:
            checks = [c for c in CHECKS if c is not status_code_conformance]
        try:
            case.validate_response(response, checks=checks, headers=sent_headers)
        except (AssertionError, FailureGroup) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"check-{status}-{first}", case, f"{label}: {status}: {str(exc)[:1500]}")

    run()
    return sent, list(failures.values())
