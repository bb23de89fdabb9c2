"""The authorization matrix of attendance, generated from ``attendance.access.ENDPOINT_RULES``:
every route × every role × in scope / out of scope, and for teachers × how they stand to the
class.

The caller holds exactly one grant, of the role under test, at the tier that role is granted at:

- in scope: the province (province roles and the platform role archivist), the district office
  of the target's school (district roles), the target's school THCS itself (school roles);
- out of scope: a second province seeded here (province roles), the other district (district
  roles), the sibling primary school in the same district (school roles).

Every request is about one target: a grade-6 class of the THCS school with students, a
homeroom teacher (``homeroom``) and a teacher the timetable gives period 2 of every day,
Monday to Saturday (``period``); a third teacher of the school teaches nothing in it
(``unrelated``). Teachers come those three ways, each in and out of scope, so that the owner
checks are tested on their own: ``Owner.TEACHER_OF_CLASS`` admits the homeroom and the period
teacher, ``Owner.HOMEROOM`` the homeroom teacher (and the row's keeper roles),
``Owner.PERIOD_TEACHER`` only the period teacher.

The archivist is held only by a platform client (the archive service), so its token is a
client's acting for a person, as the archive's is; every other role's is a person's own.

Scope of a row, as the table defines it: ``Scope.SCHOOL`` needs a grant at the school or above
it; ``Scope.UNIT`` a grant at the unit the request names (the THCS school here: a calendar
day's unit, a report's ``unit_id``; the province for its settings) or above it;
``Scope.PROVINCE`` a grant anywhere in the resource's province (so a district or school role is
in scope even at its "out of scope" unit, which lies in the same province).

The clock stands at 08:00 on 10 October of the school year's first calendar year: the roll's
day is the school day before, the month closed is September. Writes whose success changes what
the next case sees (a roll, a period, a month close, an amendment's decision) get their own
class, led by the same homeroom teacher and timetabled for the same period teacher. Allowed
answers are 2xx; ``GET /classes`` filters instead of refusing: a teacher who does not teach
the class gets 200 without it. Refused answers are 403 problem+json with ``forbidden`` (role or
scope) or the owner check's own code (``not-homeroom-teacher``, ``not-period-teacher``), and a
refused write changes nothing: every attendance table and the outbox hash the same before and
after. That is also why the next case of the same route may send the refused request again
rather than build fresh state: the state is still as fresh as a new one.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from attendance.access import ENDPOINT_RULES, EndpointRule, Owner, Scope
from attendance.clock import CLOCK
from attendance.handlers.copies import record_org_unit
from attendance.testing import AttendanceWorld, local
from common.app import API_PREFIX
from common.events.identity import OrgLevel, OrgUnitCreated, Role

# Routes under /api/v1 without a row: any valid token, no role.
ROWLESS: Final = {("GET", "/me")}

# Which rows' refusals come from the owner check, and with which codes.
OWNER_CODES: Final[dict[Owner, frozenset[str]]] = {
    Owner.NONE: frozenset(),
    Owner.TEACHER_OF_CLASS: frozenset({"forbidden"}),
    Owner.HOMEROOM: frozenset({"not-homeroom-teacher"}),
    Owner.PERIOD_TEACHER: frozenset({"not-period-teacher"}),
}

PERIOD: Final = 2  # the period teacher's period, every school day
SESSION: Final = "morning"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Relation(StrEnum):
    IN_SCOPE = "in_scope"
    OUT_OF_SCOPE = "out_of_scope"


class Link(StrEnum):
    """How a teacher stands to the target class."""

    HOMEROOM = "homeroom"  # giáo viên chủ nhiệm
    PERIOD = "period"  # the timetable gives them period 2 of every school day
    UNRELATED = "unrelated"  # a teacher of the school who teaches nothing in the class


# Roles held only by platform service clients (identity.domain.roles): their tokens are a
# client's, acting for a person.
PLATFORM_ROLES: Final = frozenset({Role.ARCHIVIST})


def tier(role: Role) -> OrgLevel:
    if role in {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.ARCHIVIST}:
        return OrgLevel.PROVINCE
    if role in {Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}:
        return OrgLevel.DISTRICT
    return OrgLevel.SCHOOL


def links(role: Role) -> list[Link | None]:
    return list(Link) if role is Role.TEACHER else [None]


def in_scope(rule: EndpointRule, role: Role, relation: Relation) -> bool:
    if rule.scope is Scope.MINE:
        return True
    if rule.scope is Scope.PROVINCE:
        # Only a province role's out-of-scope unit lies in another province.
        return relation is Relation.IN_SCOPE or tier(role) is not OrgLevel.PROVINCE
    return relation is Relation.IN_SCOPE


def owner_passes(rule: EndpointRule, role: Role, link: Link | None) -> bool:
    """The owner checks bind teachers; other roles are admitted or refused by their role."""
    if role is not Role.TEACHER or rule.owner is Owner.NONE:
        return True
    if rule.owner is Owner.TEACHER_OF_CLASS:
        return link in {Link.HOMEROOM, Link.PERIOD}
    if rule.owner is Owner.HOMEROOM:
        return link is Link.HOMEROOM
    return link is Link.PERIOD  # Owner.PERIOD_TEACHER


def previous_school_day(day: date) -> date:
    """The last Monday-to-Saturday before ``day``."""
    day -= timedelta(days=1)
    while day.isoweekday() == 7:
        day -= timedelta(days=1)
    return day


def timetable(teacher: uuid.UUID) -> dict[str, Any]:
    """Period 2 of every day, Monday to Saturday, to ``teacher``."""
    return {
        "slots": [
            {"weekday": w, "period": PERIOD, "subject_code": "toan", "teacher_id": str(teacher)}
            for w in range(1, 7)
        ]
    }


@dataclass
class Target:
    """The class every request is about, the people around it, and the frozen day."""

    world: AttendanceWorld
    other_province: uuid.UUID
    class_id: uuid.UUID
    students: list[uuid.UUID]
    teachers: dict[Link, uuid.UUID]
    side_class: uuid.UUID
    today: date  # the frozen local day
    day: date  # the school day before it: the target's roll and period are of this day
    month: str  # the month before today's, over
    # A write's request whose state a refused case left as it was, for the next case to use.
    unspent: dict[tuple[str, str], Call] = field(default_factory=dict)

    @property
    def school(self) -> uuid.UUID:
        return self.world.units.thcs

    @property
    def client(self) -> httpx.AsyncClient:
        return self.world.client

    def holder(self, role: Role, relation: Relation) -> uuid.UUID:
        u = self.world.units
        inside = relation is Relation.IN_SCOPE
        match tier(role):
            case OrgLevel.PROVINCE:
                return u.province if inside else self.other_province
            case OrgLevel.DISTRICT:
                return u.district if inside else u.other_district
            case _:
                return u.thcs if inside else u.primary

    def caller(self, link: Link | None) -> uuid.UUID:
        return self.teachers[link] if link is not None else uuid.uuid4()

    def admin(self) -> dict[str, str]:
        return self.world.admin_of(self.school)

    def homeroom(self) -> dict[str, str]:
        return self.world.teacher(self.teachers[Link.HOMEROOM], self.school)

    def period_teacher(self) -> dict[str, str]:
        return self.world.teacher(self.teachers[Link.PERIOD], self.school)

    async def fresh_class(self) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """A class of its own, led by the homeroom teacher, period 2 to the period teacher."""
        class_id, _, students = await self.world.new_class(
            self.school, homeroom=self.teachers[Link.HOMEROOM]
        )
        put = await self.client.put(
            f"/classes/{class_id}/timetable",
            json=timetable(self.teachers[Link.PERIOD]),
            headers=self.admin(),
        )
        assert put.status_code == 200, put.text
        return class_id, students

    async def snapshot(self) -> dict[str, str]:
        return await self.world.fingerprint()


async def _seed_other_province(world: AttendanceWorld) -> uuid.UUID:
    province = uuid.uuid4()
    await record_org_unit(
        OrgUnitCreated(
            unit_id=province,
            kind=OrgLevel.PROVINCE,
            code=f"KH{province.hex[:6].upper()}",
            parent_id=None,
            levels=[],
            province_id=province,
            district_id=None,
            created_at=datetime.now(UTC),
            created_by=None,
        ),
        world.uow(),
    )
    return province


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(attendance_world: AttendanceWorld) -> AsyncIterator[Target]:
    world = attendance_world
    today = date(world.year_starts.year, 10, 10)
    CLOCK.freeze(local(today, time(8, 0)))
    try:
        day = previous_school_day(today)
        month = f"{today.year:04d}-{today.month - 1:02d}"
        teachers = {link: uuid.uuid4() for link in Link}
        other_province = await _seed_other_province(world)
        school = world.units.thcs
        side_class, _, _ = await world.new_class(school, 7)
        t = Target(world, other_province, uuid.uuid4(), [], teachers, side_class, today, day, month)
        t.class_id, t.students = await t.fresh_class()
        roll = await t.client.put(
            f"/classes/{t.class_id}/roll-calls/{day}/{SESSION}",
            json=world.roll(t.students, s1="absent_excused"),
            headers=t.homeroom(),
        )
        assert roll.status_code == 201, roll.text
        period = await t.client.put(
            f"/classes/{t.class_id}/periods/{day}/{PERIOD}",
            json={"not_present": {str(t.students[2]): "late"}},
            headers=t.period_teacher(),
        )
        assert period.status_code == 201, period.text
        yield t
    finally:
        CLOCK.thaw()


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    body: dict[str, Any] = response.json()
    assert body["title"]
    return body


# --- one valid request per route, about the target


@dataclass
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ok: frozenset[int] = frozenset({200, 201, 204})
    content_type: str = "application/json"
    # A listing whose owner check filters instead of refusing: the class id that must be
    # listed exactly when the owner check passes.
    listed: str | None = None


Builder = Callable[[Target], Awaitable[Call]]
# Calendar days set and removed by the matrix: at the end of the school year, where no roll,
# period or month of the matrix lies.
_calendar_days = itertools.count(1)


def _reader(path: str, content_type: str = "application/json", **params: str) -> Builder:
    """A read of ``path`` with the target's ids and days filled in."""

    async def build(t: Target) -> Call:
        u = t.world.units
        values = {
            "class_id": t.class_id,
            "school": t.school,
            "province": u.province,
            "day": t.day,
            "month": t.month,
            "month_start": t.day.replace(day=1),
            "year": t.world.year_code,
            "year_starts": t.world.year_starts,
            "year_ends": t.world.year_ends,
        }
        filled = path.format(**values)
        query = {k: v.format(**values) for k, v in params.items()}
        return Call("GET", filled, params=query or None, content_type=content_type)

    return build


async def _put_rules(t: Target) -> Call:
    # The platform's defaults, so that no other case's deadline or amendment rule moves.
    s = t.world.settings
    body = {
        "deadline_minutes": s.deadline_minutes,
        "day_rule": s.day_rule,
        "month_close_day": s.month_close_day,
        "absence_limit_days": s.absence_limit_days,
        "warn_from_days": s.warn_from_days,
        "amend_days": s.amend_days,
    }
    return Call("PUT", f"/provinces/{t.world.units.province}/settings", body)


def _calendar_day(t: Target) -> date:
    return t.world.year_ends - timedelta(days=next(_calendar_days))


async def _put_calendar_day(t: Target) -> Call:
    body = {"kind": "holiday", "name": "Ngày nghỉ thử"}
    return Call("PUT", f"/units/{t.school}/calendar-days/{_calendar_day(t)}", body)


async def _delete_calendar_day(t: Target) -> Call:
    day = _calendar_day(t)
    url = f"/units/{t.school}/calendar-days/{day}"
    put = await t.client.put(
        url, json={"kind": "holiday", "name": "Ngày nghỉ để xóa"}, headers=t.admin()
    )
    assert put.status_code == 200, put.text
    return Call("DELETE", url)


async def _put_bells(t: Target) -> Call:
    # The platform's default bells again, so that deadlines and periods stay where they are.
    body = {
        "sessions": [{"session": SESSION, "first_period_start": "07:00"}],
        "weekdays": [1, 2, 3, 4, 5, 6],
    }
    return Call("PUT", f"/schools/{t.school}/bell-schedule", body)


async def _list_classes(t: Target) -> Call:
    params = {"school_id": str(t.school), "school_year": t.world.year_code}
    return Call("GET", "/classes", params=params, listed=str(t.class_id))


async def _put_timetable(t: Target) -> Call:
    # The side class's: the target's period teacher stays who they are.
    return Call("PUT", f"/classes/{t.side_class}/timetable", timetable(uuid.uuid4()))


async def _submit_roll(t: Target) -> Call:
    class_id, students = await t.fresh_class()
    url = f"/classes/{class_id}/roll-calls/{t.day}/{SESSION}"
    return Call("PUT", url, t.world.roll(students, s0="absent_unexcused"))


async def _pending_amendment(t: Target) -> str:
    """A roll of yesterday on a class of its own, and a change to it waiting for the leader."""
    class_id, students = await t.fresh_class()
    url = f"/classes/{class_id}/roll-calls/{t.day}/{SESSION}"
    first = await t.client.put(url, json=t.world.roll(students), headers=t.homeroom())
    assert first.status_code == 201, first.text
    body = t.world.roll(students, s1="absent_excused") | {"reason": "Phụ huynh báo muộn"}
    asked = await t.client.put(
        url, json=body, headers={**t.homeroom(), "If-Match": first.headers["etag"]}
    )
    assert asked.status_code == 202, asked.text
    amendment: str = asked.json()["amendment"]["amendment_id"]
    return amendment


def _decide(verb: str) -> Builder:
    async def build(t: Target) -> Call:
        amendment = await _pending_amendment(t)
        return Call("POST", f"/amendments/{amendment}/{verb}", {"note": "Đã xem"})

    return build


async def _submit_period(t: Target) -> Call:
    class_id, students = await t.fresh_class()
    body = {"not_present": {str(students[0]): "absent_unexcused"}}
    return Call("PUT", f"/classes/{class_id}/periods/{t.day}/{PERIOD}", body)


async def _close_month(t: Target) -> Call:
    class_id, _ = await t.fresh_class()
    return Call("POST", f"/classes/{class_id}/months/{t.month}/close")


ROLL: Final = "/classes/{class_id}/roll-calls/{day}/" + SESSION
REPORT: Final = {"unit_id": "{school}", "from": "{month_start}", "to": "{day}"}

BUILDERS: Final[dict[tuple[str, str], Builder]] = {
    ("GET", "/provinces/{province_id}/settings"): _reader("/provinces/{province}/settings"),
    ("PUT", "/provinces/{province_id}/settings"): _put_rules,
    ("GET", "/units/{unit_id}/calendar-days"): _reader(
        "/units/{school}/calendar-days", **{"from": "{year_starts}", "to": "{year_ends}"}
    ),
    ("PUT", "/units/{unit_id}/calendar-days/{day}"): _put_calendar_day,
    ("DELETE", "/units/{unit_id}/calendar-days/{day}"): _delete_calendar_day,
    ("GET", "/schools/{school_id}/bell-schedule"): _reader("/schools/{school}/bell-schedule"),
    ("PUT", "/schools/{school_id}/bell-schedule"): _put_bells,
    ("GET", "/schools/{school_id}/school-days"): _reader(
        "/schools/{school}/school-days",
        school_year="{year}",
        **{"from": "{month_start}", "to": "{day}"},
    ),
    ("GET", "/classes"): _list_classes,
    ("GET", "/classes/{class_id}/timetable"): _reader("/classes/{class_id}/timetable"),
    ("PUT", "/classes/{class_id}/timetable"): _put_timetable,
    ("GET", "/classes/{class_id}/roll-calls"): _reader(
        "/classes/{class_id}/roll-calls", **{"from": "{month_start}", "to": "{day}"}
    ),
    ("GET", "/classes/{class_id}/roll-calls/{day}/{session}"): _reader(ROLL),
    ("PUT", "/classes/{class_id}/roll-calls/{day}/{session}"): _submit_roll,
    ("GET", "/classes/{class_id}/roll-calls/{day}/{session}/history"): _reader(f"{ROLL}/history"),
    ("GET", "/schools/{school_id}/amendments"): _reader("/schools/{school}/amendments"),
    ("POST", "/amendments/{amendment_id}/approve"): _decide("approve"),
    ("POST", "/amendments/{amendment_id}/reject"): _decide("reject"),
    ("GET", "/classes/{class_id}/periods/{day}/{period}"): _reader(
        f"/classes/{{class_id}}/periods/{{day}}/{PERIOD}"
    ),
    ("PUT", "/classes/{class_id}/periods/{day}/{period}"): _submit_period,
    ("GET", "/classes/{class_id}/months/{month}"): _reader("/classes/{class_id}/months/{month}"),
    ("POST", "/classes/{class_id}/months/{month}/close"): _close_month,
    ("GET", "/reports/compliance"): _reader("/reports/compliance", **REPORT),
    ("GET", "/reports/compliance.xlsx"): _reader("/reports/compliance.xlsx", XLSX, **REPORT),
    ("GET", "/schools/{school_id}/absence-limit"): _reader("/schools/{school}/absence-limit"),
    ("GET", "/schools/{school_id}/absence-limit.xlsx"): _reader(
        "/schools/{school}/absence-limit.xlsx", XLSX
    ),
}


async def _send(t: Target, call: Call, auth: dict[str, str]) -> httpx.Response:
    return await t.client.request(
        call.method, call.path, json=call.json, params=call.params, headers={**call.headers, **auth}
    )


# --- the table covers every route


def _api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path.startswith(f"{API_PREFIX}/"):
            assert isinstance(route.original_route, APIRoute), path
            methods = set(route.methods or ()) - {"HEAD", "OPTIONS"}
            found.update((m, path.removeprefix(API_PREFIX)) for m in methods)
    return found


async def test_every_route_has_a_row_and_a_request(attendance_world: AttendanceWorld) -> None:
    routes = _api_routes(attendance_world.app)

    without_row = sorted(routes - ENDPOINT_RULES.keys() - ROWLESS)
    stale = sorted((ENDPOINT_RULES.keys() | ROWLESS) - routes)

    assert without_row == [], f"routes with no row in ENDPOINT_RULES: {without_row}"
    assert stale == [], f"rows for routes that do not exist: {stale}"
    assert BUILDERS.keys() == ENDPOINT_RULES.keys(), "each row needs a request in BUILDERS"


# --- the matrix

CASES: Final = [
    pytest.param(
        method,
        path,
        role,
        relation,
        link,
        id=f"{method} {path}-{role.value}{f'({link})' if link else ''}-{relation}",
    )
    for (method, path) in ENDPOINT_RULES
    for role in Role
    for relation in Relation
    for link in links(role)
]


@pytest.mark.parametrize(("method", "path", "role", "relation", "link"), CASES)
async def test_authorization_matrix(
    target: Target, method: str, path: str, role: Role, relation: Relation, link: Link | None
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    call = t.unspent.pop((method, path), None) or await BUILDERS[method, path](t)
    assert call.method == method
    grant = f"{role.value}@{t.holder(role, relation)}"
    if role in PLATFORM_ROLES:
        auth = t.world.issuer.headers(
            "hsdt-archive", grant, kind="client", acting_for=t.caller(link)
        )
    else:
        auth = t.world.as_(t.caller(link), grant)
    before = await t.snapshot() if rule.writes else None

    response = await _send(t, call, auth)

    role_ok = role in rule.roles and in_scope(rule, role, relation)
    owner_ok = owner_passes(rule, role, link)
    if role_ok and (owner_ok or call.listed is not None):
        assert response.status_code in call.ok, response.text
        if response.status_code != 204:
            assert response.headers["content-type"].startswith(call.content_type), response
        if call.listed is not None:
            listed = {item["class_id"] for item in response.json()}
            assert (call.listed in listed) is owner_ok, listed
    else:
        body = _problem(response, 403)
        expected = {"forbidden"} if not role_ok else OWNER_CODES[rule.owner]
        assert body["code"] in expected, body
        if rule.writes:
            assert await t.snapshot() == before, "a refused write changed something"
            # Nothing changed, so its state is as fresh as a new one: the next case takes it.
            t.unspent[method, path] = call


def test_the_archive_writes_nothing_in_attendance() -> None:
    """The archivist is no role of a school's attendance: no write admits it (the rows open to
    any role, the province's settings and calendar, are reads)."""
    assert [
        f"{method} {path}"
        for (method, path), rule in ENDPOINT_RULES.items()
        if Role.ARCHIVIST in rule.roles and rule.writes
    ] == []


# --- school software must say whom it acts for

WRITES: Final = [
    pytest.param(method, path, id=f"{method} {path}")
    for (method, path), rule in ENDPOINT_RULES.items()
    if rule.writes
]


def _writer(t: Target, rule: EndpointRule) -> tuple[Role, uuid.UUID | None]:
    """A role the row admits and, for teachers, the one the owner check admits."""
    order = [Role.SCHOOL_ADMIN, Role.SCHOOL_LEADER, Role.PROVINCE_ADMIN]
    role = next((r for r in order if r in rule.roles), Role.TEACHER)
    if role is not Role.TEACHER:
        return role, None
    link = Link.PERIOD if rule.owner is Owner.PERIOD_TEACHER else Link.HOMEROOM
    return role, t.teachers[link]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_client_token_without_acting_for_writes_nothing(
    target: Target, method: str, path: str
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    role, _ = _writer(t, rule)
    call = await BUILDERS[method, path](t)
    auth = t.world.issuer.headers(
        f"phan-mem-{uuid.uuid4().hex[:6]}",
        f"{role.value}@{t.holder(role, Relation.IN_SCOPE)}",
        kind="client",
    )
    before = await t.snapshot()

    response = await _send(t, call, auth)

    body = _problem(response, 403)
    assert body["code"] == "acting-user-required", body
    assert await t.snapshot() == before, "a client without acting_for changed something"


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_client_token_acting_for_an_allowed_person_writes_as_them(
    target: Target, method: str, path: str
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    role, person = _writer(t, rule)
    call = await BUILDERS[method, path](t)
    acting_for = person or uuid.uuid4()
    auth = t.world.issuer.headers(
        "phan-mem-truong",
        f"{role.value}@{t.holder(role, Relation.IN_SCOPE)}",
        kind="client",
        acting_for=acting_for,
    )

    response = await _send(t, call, auth)

    assert response.status_code in call.ok, response.text


# --- no token, no access


async def test_every_route_with_a_row_needs_a_token(target: Target) -> None:
    wrong: list[str] = []
    for method, path in sorted(ENDPOINT_RULES):
        call = await BUILDERS[method, path](target)
        for auth in ({}, {"Authorization": "Bearer not-a-token"}):
            before = await target.snapshot()
            response = await _send(target, call, auth)
            ok = (
                response.status_code == 401
                and response.headers.get("content-type", "").startswith("application/problem+json")
                and response.json().get("code") == "unauthenticated"
            )
            if not ok:
                wrong.append(f"{method} {path} {auth}: {response.status_code} {response.text}")
            if await target.snapshot() != before:
                wrong.append(f"{method} {path} {auth}: changed something")
    assert wrong == []


async def test_a_replayed_idempotency_key_answers_only_whom_the_row_admits(target: Target) -> None:
    """School software keeps one ``Idempotency-Key`` space per person it acts for: the answer
    stored for the homeroom teacher's roll is no answer for a teacher the row refuses."""
    t = target
    call = await _submit_roll(t)
    software = "phan-mem-diem-danh"
    key = {"Idempotency-Key": f"roll-{uuid.uuid4().hex}"}

    def acting_for(link: Link) -> dict[str, str]:
        return t.world.issuer.headers(
            software, f"teacher@{t.school}", kind="client", acting_for=t.teachers[link]
        )

    first = await _send(t, call, {**acting_for(Link.HOMEROOM), **key})
    assert first.status_code == 201, first.text

    replayed = await _send(t, call, {**acting_for(Link.UNRELATED), **key})

    body = _problem(replayed, 403)
    assert body["code"] == "not-homeroom-teacher", body
