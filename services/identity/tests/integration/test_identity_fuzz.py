"""Identity's OpenAPI, fuzzed with Schemathesis: no answer is a 5xx, every 4xx is problem+json,
answers conform to the schema; unauthenticated and as the seeded school leader.

The ``identity`` app runs on the session's event loop, so Schemathesis (synchronous, through
``requests``) talks to it over a loopback port (``common.testing.serving``) from a worker thread.
The leader's token is minted by the app's own key ring, afresh for each operation, so that the
fuzzed ``/auth/logout`` (which revokes the token it is called with) spoils only its own cases.
Sign-in lockout answers 429 to repeated failures: that is expected, and documented.

The fuzzing itself, its checks and how failures are reported: ``common.fuzzing``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Final

import schemathesis

from common.fuzzing import Operation, fuzz_operation, operations_of
from common.testing import serving
from identity.handlers.auth import utcnow
from identity.testing import SCHOOL, Identity
from identity.tokens import mint_access_token

MAX_EXAMPLES: Final = 20
# Sign-in lockout after repeated failures: expected, whether an operation documents it or not.
LOCKOUT: Final = (429,)
STEP_UP_OPERATIONS: Final = (
    "POST /api/v1/auth/me/totp",
    "POST /api/v1/auth/me/totp/confirm",
    "POST /api/v1/auth/step-up",
)


def fuzz(
    operation: Operation, base_url: str, headers: dict[str, str], examples: int
) -> tuple[Counter[int], list[str]]:
    return fuzz_operation(operation, base_url, headers, examples, undocumented_ok=LOCKOUT)


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
    # The person's own second-factor routes, fuzzed with a person's token (the leader has TOTP).
    for label in STEP_UP_OPERATIONS:
        assert by_label[label].total() > 0, label
