"""Records' OpenAPI, fuzzed with Schemathesis: no answer is a 5xx, every 4xx is problem+json,
answers conform to the schema; and a read-only caller fuzzing every route writes nothing.

The world's app runs on the session's event loop, so Schemathesis (which calls synchronously,
through ``requests``) talks to it over a loopback port (``common.testing.serving``) from a worker
thread. The schema is taken from an app built at import time, so each operation is its own test.
Generation is positive and negative, with random path parameters and with those of a populated
class (its students, the current school year), so that requests get past the 404s.

The fuzzing itself, its checks and how failures are reported: ``common.fuzzing``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import pytest
import pytest_asyncio
import schemathesis
from pydantic import SecretStr

from common.fuzzing import fuzz_operation, operations_of
from common.testing import serving
from records.app import create_app
from records.handlers.base import school_today
from records.settings import RecordsSettings
from records.testing import DATA_KEY, RecordsWorld

SCHEMA: Final = schemathesis.openapi.from_dict(
    create_app(RecordsSettings(data_key=SecretStr(DATA_KEY))).openapi()
)
OPERATIONS: Final = {op.label: op for op in operations_of(SCHEMA)}


MAX_EXAMPLES: Final = 25
NAMES: Final = ["Trần Văn Bình", "Nguyễn Thị An", "Lê Minh Anh"]


@dataclass
class Fuzzed:
    world: RecordsWorld
    base_url: str
    known: dict[str, str]  # path parameters of a populated class
    teacher: uuid.UUID


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzed(records_world: RecordsWorld) -> AsyncIterator[Fuzzed]:
    world = records_world
    school = world.units.thcs
    teacher = uuid.uuid4()
    class_id = await world.new_class(school, 6, homeroom=teacher)
    students = await world.add_students(class_id, school, NAMES, school_today() - timedelta(days=1))
    await world.assign(class_id, school, "toan", "term_1", teacher)
    known = {
        "class_id": str(class_id),
        "student_id": str(students[0]),
        "year_id": str(world.year_id),
        "sheet": "toan",
        "period": "term_1",
        "subject": "toan",
        "term": "term_1",
        "grade": "6",
    }
    async with serving(world.app) as base_url:
        yield Fuzzed(world, base_url, known, teacher)


def fuzz(
    label: str, base_url: str, headers: dict[str, str], known: dict[str, str], examples: int
) -> tuple[Counter[int], list[str]]:
    return fuzz_operation(OPERATIONS[label], base_url, headers, examples, known=known)


Caller = Callable[[Fuzzed], dict[str, str]]
CALLERS: Final[dict[str, Caller]] = {
    "anonymous": lambda f: {},
    "school_admin": lambda f: f.world.admin_of(f.world.units.thcs),
    "teacher": lambda f: f.world.teacher(f.teacher, f.world.units.thcs),
}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("label", list(OPERATIONS))
async def test_fuzz_operation(fuzzed: Fuzzed, label: str, caller: str) -> None:
    headers = CALLERS[caller](fuzzed)
    examples = MAX_EXAMPLES if caller != "anonymous" else 10

    statuses, failures = await asyncio.to_thread(
        fuzz, label, fuzzed.base_url, headers, fuzzed.known, examples
    )

    assert statuses.total() > 0
    assert failures == [], "\n\n".join(failures)
    answered = {s for s in statuses if s != 401}
    if caller == "anonymous" and "/api/v1/" in label:
        assert not any(200 <= s < 300 for s in statuses), statuses
    elif caller != "anonymous":
        assert answered, f"the token was never accepted: {statuses}"


async def test_a_province_inspector_fuzzing_every_route_writes_nothing(fuzzed: Fuzzed) -> None:
    world = fuzzed.world
    headers = world.as_(uuid.uuid4(), f"province_inspector@{world.units.province}")
    before = await world.fingerprint()

    failures: list[str] = []
    total: Counter[int] = Counter()
    for label in OPERATIONS:
        statuses, found = await asyncio.to_thread(
            fuzz, label, fuzzed.base_url, headers, fuzzed.known, 10
        )
        total += statuses
        failures += found

    assert await world.fingerprint() == before, "a read-only role changed records"
    assert total[403] > 0, total  # the writes were tried, and refused
    assert any(200 <= s < 300 for s in total), total  # the reads were answered
    assert failures == [], "\n\n".join(failures)
