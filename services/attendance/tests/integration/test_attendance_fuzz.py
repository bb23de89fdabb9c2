"""Attendance's OpenAPI, fuzzed with Schemathesis: no answer is a 5xx, every 4xx is
problem+json, answers conform to the schema; and a teacher with no part in any class fuzzing
every route writes nothing.

The world's app runs on the session's event loop, so Schemathesis (which calls synchronously,
through ``requests``) talks to it over a loopback port (``common.testing.serving``) from a worker
thread. The schema is taken from an app built at import time, so each operation is its own test.
Generation is positive and negative, with random path parameters and with those of a populated
class (its roll of yesterday with an amendment waiting, its period, last month, its school,
district and province), so that requests get past the 404s.

Each operation is fuzzed anonymously and by every caller of a province admin, a school admin, a
school leader and the class's homeroom teacher (who also teaches its period 2) whose role the
operation's row in ``attendance.access.ENDPOINT_RULES`` admits. The clock stands at 08:00 on
10 October of the school year's first calendar year.

The fuzzing itself, its checks and how failures are reported: ``common.fuzzing``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Final

import pytest
import pytest_asyncio
import schemathesis

from attendance.access import ENDPOINT_RULES
from attendance.app import create_app
from attendance.clock import CLOCK
from attendance.settings import AttendanceSettings
from attendance.testing import AttendanceWorld, local
from common.app import API_PREFIX
from common.events.identity import Role
from common.fuzzing import fuzz_operation, operations_of
from common.testing import serving

SCHEMA: Final = schemathesis.openapi.from_dict(create_app(AttendanceSettings()).openapi())
OPERATIONS: Final = {op.label: op for op in operations_of(SCHEMA)}

MAX_EXAMPLES: Final = 20
PERIOD: Final = 2


@dataclass
class Fuzzed:
    world: AttendanceWorld
    base_url: str
    known: dict[str, str]  # path parameters of a populated class
    homeroom: uuid.UUID


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzed(attendance_world: AttendanceWorld) -> AsyncIterator[Fuzzed]:
    world = attendance_world
    u = world.units
    today = date(world.year_starts.year, 10, 10)
    CLOCK.freeze(local(today, time(8, 0)))
    try:
        day = today - timedelta(days=1)
        while day.isoweekday() == 7:
            day -= timedelta(days=1)
        class_id, homeroom, students = await world.new_class(u.thcs)
        slots = [
            {"weekday": w, "period": PERIOD, "subject_code": "toan", "teacher_id": str(homeroom)}
            for w in range(1, 7)
        ]
        teacher = world.teacher(homeroom, u.thcs)
        client = world.client
        put = await client.put(
            f"/classes/{class_id}/timetable", json={"slots": slots}, headers=world.admin_of(u.thcs)
        )
        assert put.status_code == 200, put.text
        url = f"/classes/{class_id}/roll-calls/{day}/morning"
        roll = await client.put(url, json=world.roll(students), headers=teacher)
        assert roll.status_code == 201, roll.text
        body = world.roll(students, s0="absent_excused") | {"reason": "Phụ huynh báo muộn"}
        asked = await client.put(
            url, json=body, headers={**teacher, "If-Match": roll.headers["etag"]}
        )
        assert asked.status_code == 202, asked.text
        period = await client.put(
            f"/classes/{class_id}/periods/{day}/{PERIOD}",
            json={"not_present": {str(students[1]): "late"}},
            headers=teacher,
        )
        assert period.status_code == 201, period.text
        known = {
            "class_id": str(class_id),
            "day": day.isoformat(),
            "session": "morning",
            "period": str(PERIOD),
            "month": f"{today.year:04d}-{today.month - 1:02d}",
            "school_id": str(u.thcs),
            "unit_id": str(u.thcs),
            "province_id": str(u.province),
            "amendment_id": asked.json()["amendment"]["amendment_id"],
        }
        async with serving(world.app) as base_url:
            yield Fuzzed(world, base_url, known, homeroom)
    finally:
        CLOCK.thaw()


def fuzz(
    label: str, base_url: str, headers: dict[str, str], known: dict[str, str], examples: int
) -> tuple[Counter[int], list[str]]:
    return fuzz_operation(OPERATIONS[label], base_url, headers, examples, known=known)


Caller = Callable[[Fuzzed], dict[str, str]]
CALLERS: Final[dict[str, tuple[Role | None, Caller]]] = {
    "anonymous": (None, lambda f: {}),
    "province_admin": (Role.PROVINCE_ADMIN, lambda f: f.world.province_admin()),
    "school_admin": (Role.SCHOOL_ADMIN, lambda f: f.world.admin_of(f.world.units.thcs)),
    "school_leader": (Role.SCHOOL_LEADER, lambda f: f.world.leader_of(f.world.units.thcs)),
    "homeroom_teacher": (Role.TEACHER, lambda f: f.world.teacher(f.homeroom, f.world.units.thcs)),
}


def _callers(label: str) -> list[str]:
    """Anonymous, and the callers the operation's row admits (a school admin without a row)."""
    method, path = label.split(" ", 1)
    rule = ENDPOINT_RULES.get((method, path.removeprefix(API_PREFIX)))
    admitted = rule.roles if rule is not None else frozenset({Role.SCHOOL_ADMIN})
    return [name for name, (role, _) in CALLERS.items() if role is None or role in admitted]


CASES: Final = [
    pytest.param(label, caller, id=f"{label}-{caller}")
    for label in OPERATIONS
    for caller in _callers(label)
]


@pytest.mark.parametrize(("label", "caller"), CASES)
async def test_fuzz_operation(fuzzed: Fuzzed, label: str, caller: str) -> None:
    headers = CALLERS[caller][1](fuzzed)
    examples = MAX_EXAMPLES if caller != "anonymous" else 5

    statuses, failures = await asyncio.to_thread(
        fuzz, label, fuzzed.base_url, headers, fuzzed.known, examples
    )

    assert statuses.total() > 0
    assert failures == [], "\n\n".join(failures)
    answered = {s for s in statuses if s != 401}
    if caller == "anonymous" and f"{API_PREFIX}/" in label:
        assert not any(200 <= s < 300 for s in statuses), statuses
    elif caller != "anonymous":
        assert answered, f"the token was never accepted: {statuses}"


async def test_an_unrelated_teacher_fuzzing_every_route_writes_nothing(fuzzed: Fuzzed) -> None:
    """A teacher of the school who leads no class and teaches no period: every write of
    attendance is refused them, whatever the request."""
    world = fuzzed.world
    headers = world.teacher(uuid.uuid4(), world.units.thcs)
    before = await world.fingerprint()

    failures: list[str] = []
    total: Counter[int] = Counter()
    for label in OPERATIONS:
        statuses, found = await asyncio.to_thread(
            fuzz, label, fuzzed.base_url, headers, fuzzed.known, 10
        )
        total += statuses
        failures += found

    assert await world.fingerprint() == before, "a teacher with no part in a class changed it"
    assert total[403] > 0, total  # the writes were tried, and refused
    assert any(200 <= s < 300 for s in total), total
    assert failures == [], "\n\n".join(failures)
