"""Archive's OpenAPI, fuzzed with Schemathesis: no answer is a 5xx, every 4xx is problem+json,
answers conform to the schema; and since the API only reads, no fuzzed request changes a row of
archive's tables or its outbox.

The world's app runs on the session's event loop, so Schemathesis (which calls synchronously,
through ``requests``) talks to it over a loopback port (``common.testing.serving``) from a worker
thread. The schema is taken from an app built at import time, so each operation is its own test.
Generation is positive and negative, with random path parameters and with those of a populated
school (its id, and a stored package whose PDF is in the bucket), so that requests get past the
404s and the document is really read back from object storage.

Each operation is fuzzed anonymously, by a teacher and by a school admin of the school. A school
admin is admitted everywhere; a teacher nowhere (``archive.access``: a teacher does not browse
the archive), so their fuzzing must never be answered with a 2xx, only ``/me`` answers them.

The fuzzing itself, its checks and how failures are reported: ``common.fuzzing``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final

import pytest
import pytest_asyncio
import schemathesis

from archive.access import ENDPOINT_RULES
from archive.app import create_app
from archive.settings import ArchiveSettings
from common.app import API_PREFIX
from common.events.identity import Role
from common.fuzzing import fuzz_operation, operations_of
from common.testing import serving

from .conftest import ArchiveWorld

SCHEMA: Final = schemathesis.openapi.from_dict(create_app(ArchiveSettings()).openapi())
OPERATIONS: Final = {op.label: op for op in operations_of(SCHEMA)}

MAX_EXAMPLES: Final = 25


@dataclass
class Fuzzed:
    world: ArchiveWorld
    base_url: str
    known: dict[str, str]  # path parameters of a populated school


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzed(archive_world: ArchiveWorld) -> AsyncIterator[Fuzzed]:
    world = archive_world
    package = await world.package()
    await world.package(world.units.sibling)
    await world.pending()
    known = {"school_id": str(world.units.school), "package_id": str(package.id)}
    async with serving(world.app) as base_url:
        yield Fuzzed(world, base_url, known)


def fuzz(
    label: str, base_url: str, headers: dict[str, str], known: dict[str, str], examples: int
) -> tuple[Counter[int], list[str]]:
    return fuzz_operation(OPERATIONS[label], base_url, headers, examples, known=known)


Caller = Callable[[Fuzzed], dict[str, str]]
CALLERS: Final[dict[str, tuple[Role | None, Caller]]] = {
    "anonymous": (None, lambda f: {}),
    "teacher": (
        Role.TEACHER,
        lambda f: f.world.as_(uuid.uuid4(), f"teacher@{f.world.units.school}"),
    ),
    "school_admin": (Role.SCHOOL_ADMIN, lambda f: f.world.admin_of(f.world.units.school)),
}


def _admits(label: str, role: Role) -> bool:
    """Whether the operation's row admits ``role`` (every role where there is no row)."""
    method, path = label.split(" ", 1)
    rule = ENDPOINT_RULES.get((method, path.removeprefix(API_PREFIX)))
    return rule is None or role in rule.roles


CASES: Final = [
    pytest.param(label, caller, id=f"{label}-{caller}")
    for label in OPERATIONS
    for caller in CALLERS
]


@pytest.mark.parametrize(("label", "caller"), CASES)
async def test_fuzz_operation(fuzzed: Fuzzed, label: str, caller: str) -> None:
    role, headers_of = CALLERS[caller]
    examples = MAX_EXAMPLES if role is not None else 5
    before = await fuzzed.world.fingerprint()

    statuses, failures = await asyncio.to_thread(
        fuzz, label, fuzzed.base_url, headers_of(fuzzed), fuzzed.known, examples
    )

    assert statuses.total() > 0
    assert failures == [], "\n\n".join(failures)
    assert await fuzzed.world.fingerprint() == before, "a read changed archive's tables"
    allowed = any(200 <= s < 300 for s in statuses)
    if role is None:
        assert set(statuses) == {401}, statuses
    elif _admits(label, role):
        # The known ids pass every check: at least one request is answered.
        assert allowed, f"never answered with a 2xx: {statuses}"
    else:
        assert not allowed, f"{caller} is admitted nowhere, yet got a 2xx: {statuses}"
        assert statuses[403] > 0, f"the token was never accepted: {statuses}"
