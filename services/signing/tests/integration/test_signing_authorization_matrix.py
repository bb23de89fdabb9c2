"""The authorization matrix of signing, generated from ``signing.access.ENDPOINT_RULES``: every
route × every role × in scope / out of scope, and for the owner checks × how the caller stands
to the request's chain of signers.

The caller holds exactly one grant, of the role under test, at the tier that role is granted at:

- in scope: the province (province roles and the platform role archivist), the district office
  of the school (district roles), the school itself (school roles);
- out of scope: a second province seeded here (province roles), the other district (district
  roles), the sibling school in the same district (school roles).

Every request is about the school. The target request's chain is: ``at_turn`` (subject teacher,
position 1, whose turn it is), ``later`` (homeroom teacher, position 2: in the chain, not at
their turn), a school leader nobody plays and the seal; ``outsider`` is a person of the school
with a certificate and no place in it. The three hold the test PKI's named certificates with
their keys in the token, so no spare certificate is used. Where an owner check binds the role,
the caller is one of them, in and out of scope:

- ``Owner.TURN`` (sign, the two steps of the client-side flow, refuse) binds every signer role:
  only ``at_turn`` is admitted; ``later`` gets 409 ``not-your-turn``, ``outsider`` 403
  ``not-a-signer``;
- ``Owner.IN_CHAIN`` (reading requests) binds teachers and staff: ``at_turn`` and ``later`` read,
  ``outsider`` gets 403 ``not-in-chain``; the listing filters instead of refusing: 200 without
  the request.

At the seal's place the turn is the school leader's by role: a leader the chain does not name
applies it, every other signer role is ``not-a-signer`` (a test of its own, every role × scope).

Scope of a row, as the table defines it: ``Scope.SCHOOL`` needs a grant at the school or above
it; ``Scope.UNIT`` a grant at the unit the request names (the province, for its chains) or above
it; ``Scope.PROVINCE`` a grant anywhere in the resource's province (so a district or school role
is in scope even at its "out of scope" unit, which lies in the same province); ``Scope.MINE`` any
grant of the row's roles (a batch is read by the person who queued it: the case calls as them);
``Scope.PUBLIC`` no grant at all: ``POST /validation`` answers every caller, with or without a
token.

The archivist is held only by a platform client (the archive service), so its token is a
client's acting for a person, as the archive's is (the person owns what it opens); every other
role's is a person's own. It opens, restarts and reads requests, and never signs, refuses or
batches.

Allowed answers are 2xx, and an allowed write changes something; refused ones are
problem+json: 403 ``forbidden`` (role or scope) or the owner check's own answer, and a refused
write changes nothing: every signing table and the outbox hash the same before and after. That
is also why the next case of the same route may send the refused request again rather than build
fresh state. Writes that succeed get fresh state: a request of their own, opened by the school's
admin; the signing routes carry a step-up (TOTP) token of the person the request was prepared
for.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from common.app import API_PREFIX
from common.events.identity import OrgLevel, OrgUnitCreated, Role
from signing.access import ENDPOINT_RULES, EndpointRule, Owner, Scope
from signing.handlers.copies import record_org_unit
from signing.testing import Signer, SigningWorld

# Routes under /api/v1 without a row: any valid token, no role.
ROWLESS: Final = {("GET", "/me")}
# The roles ``Owner.IN_CHAIN`` binds; the others read every request of their scope.
CHAIN_BOUND: Final = frozenset({Role.TEACHER, Role.STAFF})
PDF: Final = "application/pdf"


class Relation(StrEnum):
    IN_SCOPE = "in_scope"
    OUT_OF_SCOPE = "out_of_scope"


class Link(StrEnum):
    """How the caller stands to the target request's chain."""

    AT_TURN = "at_turn"  # position 1, the current place
    LATER = "later"  # position 2: in the chain, not at their turn
    OUTSIDER = "outsider"  # a person of the school with a certificate and no place in the chain


# The owner checks' refusals: (owner, link) -> (status, code).
OWNER_REFUSALS: Final[dict[tuple[Owner, Link], tuple[int, str]]] = {
    (Owner.TURN, Link.LATER): (409, "not-your-turn"),
    (Owner.TURN, Link.OUTSIDER): (403, "not-a-signer"),
    (Owner.IN_CHAIN, Link.OUTSIDER): (403, "not-in-chain"),
}


# Roles held only by platform service clients (identity.domain.roles): their tokens are a
# client's, acting for a person.
PLATFORM_ROLES: Final = frozenset({Role.ARCHIVIST})


def tier(role: Role) -> OrgLevel:
    if role in {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.ARCHIVIST}:
        return OrgLevel.PROVINCE
    if role in {Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}:
        return OrgLevel.DISTRICT
    return OrgLevel.SCHOOL


def binds(rule: EndpointRule, role: Role) -> bool:
    """Whether the row's owner check applies to a caller of ``role`` the row admits."""
    if rule.owner is Owner.TURN:
        return role in rule.roles
    if rule.owner is Owner.IN_CHAIN:
        return role in CHAIN_BOUND and role in rule.roles
    return False


def links(rule: EndpointRule, role: Role) -> list[Link | None]:
    return list(Link) if binds(rule, role) else [None]


def in_scope(rule: EndpointRule, role: Role, relation: Relation) -> bool:
    if rule.scope in {Scope.MINE, Scope.PUBLIC}:
        return True
    if rule.scope is Scope.PROVINCE:
        # Only a province role's out-of-scope unit lies in another province.
        return relation is Relation.IN_SCOPE or tier(role) is not OrgLevel.PROVINCE
    return relation is Relation.IN_SCOPE


def role_passes(rule: EndpointRule, role: Role, relation: Relation) -> bool:
    if rule.scope is Scope.PUBLIC:
        return True
    return role in rule.roles and in_scope(rule, role, relation)


def owner_passes(rule: EndpointRule, role: Role, link: Link | None) -> bool:
    if not binds(rule, role):
        return True
    if rule.owner is Owner.TURN:
        return link is Link.AT_TURN
    return link in {Link.AT_TURN, Link.LATER}  # Owner.IN_CHAIN


@dataclass
class Target:
    """The school's people around the target request, and what the builders share."""

    world: SigningWorld
    other_province: uuid.UUID
    people: dict[Link, Signer]
    at_turn_key: ec.EllipticCurvePrivateKey  # the key of ``at_turn``'s certificate
    pdf: bytes
    class_id: uuid.UUID  # the target request's own class, so that the listing finds it
    request: dict[str, Any]  # the target request: opened, never signed
    batch: tuple[uuid.UUID, str]  # (who queued it, its id)
    # A write's request whose state a refused case left as it was, for the next case to use.
    unspent: dict[tuple[str, str], Call] = field(default_factory=dict)

    @property
    def school(self) -> uuid.UUID:
        return self.world.units.school

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
                return u.school if inside else u.sibling

    def caller(self, call: Call, link: Link | None) -> uuid.UUID:
        if link is not None:
            return self.people[link].user_id
        return call.caller or uuid.uuid4()

    def token(self, role: Role, person: uuid.UUID, unit: uuid.UUID) -> dict[str, str]:
        """``role`` at ``unit``: a person's own token, or for a platform role the platform
        client's acting for ``person``."""
        grant = f"{role.value}@{unit}"
        if role in PLATFORM_ROLES:
            return self.world.issuer.headers(
                "hsdt-archive", grant, kind="client", acting_for=person
            )
        return self.world.as_(person, grant)

    async def fresh_request(self) -> dict[str, Any]:
        """A request of its own with the target's chain, in a class of its own."""
        nobody = Signer(uuid.uuid4(), "hieu-truong", self.school, "school_leader")
        return await self.world.open_request(
            [
                ("subject_teacher", self.people[Link.AT_TURN]),
                ("homeroom_teacher", self.people[Link.LATER]),
                ("school_leader", nobody),
            ],
            document=self.pdf,
            class_id=uuid.uuid4(),
            visible=False,
        )


async def _seed_other_province(world: SigningWorld) -> uuid.UUID:
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


async def _queue_batch(world: SigningWorld, person: uuid.UUID) -> str:
    response = await world.client.post(
        "/signing-batches",
        json={"school_id": str(world.units.school), "step_up_token": world.step_up(person)},
        headers=world.as_(person, f"teacher@{world.units.school}"),
    )
    assert response.status_code == 202, response.text
    batch_id: str = response.json()["id"]
    return batch_id


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(signing_world: SigningWorld) -> AsyncIterator[Target]:
    world = signing_world
    labels = {Link.AT_TURN: "gv-toan", Link.LATER: "gv-cn", Link.OUTSIDER: "hieu-truong"}
    people = {link: await world.signer(label=label) for link, label in labels.items()}
    key = serialization.load_pem_private_key(
        world.pki.pki.key_path(labels[Link.AT_TURN]).read_bytes(), None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    await world.seal()
    class_id = uuid.uuid4()
    request = await world.open_request(
        [
            ("subject_teacher", people[Link.AT_TURN]),
            ("homeroom_teacher", people[Link.LATER]),
            ("school_leader", Signer(uuid.uuid4(), "hieu-truong", world.units.school)),
        ],
        class_id=class_id,
    )
    owner = uuid.uuid4()
    batch = (owner, await _queue_batch(world, owner))
    yield Target(
        world,
        await _seed_other_province(world),
        people,
        key,
        world.document(),
        class_id,
        request,
        batch,
    )


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    body: dict[str, Any] = response.json()
    assert body["title"]
    return body


# --- one valid request per route


@dataclass
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ok: frozenset[int] = frozenset({200, 201, 202})
    content_type: str = "application/json"
    # A listing whose owner check filters instead of refusing: the request id that must be
    # listed exactly when the owner check passes.
    listed: str | None = None
    # The person the request was prepared for (its step-up token, the batch they queued); the
    # case calls as them unless the owner check picks the caller.
    caller: uuid.UUID | None = None


Builder = Callable[[Target], Awaitable[Call]]


def _reader(path: str, content_type: str = "application/json", **params: str) -> Builder:
    """A read of ``path`` with the target's ids filled in."""

    async def build(t: Target) -> Call:
        values = {
            "province": t.world.units.province,
            "school": t.school,
            "request": t.request["id"],
            "class_id": t.class_id,
        }
        query = {k: v.format(**values) for k, v in params.items()}
        return Call("GET", path.format(**values), params=query or None, content_type=content_type)

    return build


async def _put_chain(t: Target) -> Call:
    # The default chain of teaching plans again, so that no other case's chain moves.
    body = {"roles": ["subject_teacher", "school_leader", "school_seal"]}
    return Call("PUT", f"/provinces/{t.world.units.province}/signer-chains/teaching_plan", body)


async def _put_person_certificate(t: Target) -> Call:
    # The outsider's own certificate again: the import stands where it stood.
    outsider = t.people[Link.OUTSIDER]
    body = {"chain_pem": t.world.chain_pem(outsider.label), "key_label": outsider.label}
    return Call("PUT", f"/schools/{t.school}/certificates/people/{outsider.user_id}", body)


async def _put_seal(t: Target) -> Call:
    body = {"chain_pem": t.world.chain_pem("school"), "key_label": "school"}
    return Call("PUT", f"/schools/{t.school}/certificates/seal", body)


async def _open_request(t: Target) -> Call:
    signers = [
        ("subject_teacher", t.people[Link.AT_TURN].user_id),
        ("homeroom_teacher", t.people[Link.LATER].user_id),
        ("school_leader", uuid.uuid4()),
        ("school_seal", None),
    ]
    body = {
        "document_id": str(uuid.uuid4()),
        "kind": "transcript",
        "title": "Học bạ — Trần Thị Bình",
        "school_id": str(t.school),
        "school_year": "2025-2026",
        "term": "year",
        "class_id": str(uuid.uuid4()),
        "student_id": str(uuid.uuid4()),
        "document": base64.b64encode(t.pdf).decode(),
        "signers": [
            {"role": role, "user_id": str(user) if user else None, "field": f"Sig{i}"}
            for i, (role, user) in enumerate(signers, start=1)
        ],
    }
    return Call("POST", "/signing-requests", body)


async def _list_requests(t: Target) -> Call:
    params = {"school_id": str(t.school), "class_id": str(t.class_id)}
    return Call("GET", "/signing-requests", params=params, listed=t.request["id"])


async def _sign(t: Target) -> Call:
    request = await t.fresh_request()
    person = t.people[Link.AT_TURN].user_id
    body = {"document_sha256": request["document_sha256"], "step_up_token": t.world.step_up(person)}
    return Call("POST", f"/signing-requests/{request['id']}/sign", body, caller=person)


async def _start_external(t: Target) -> Call:
    request = await t.fresh_request()
    body = {"document_sha256": request["document_sha256"]}
    return Call("POST", f"/signing-requests/{request['id']}/external-signatures", body)


async def _finish_external(t: Target) -> Call:
    """A session ``at_turn`` started, and the value their key gives: only the finish is left."""
    request = await t.fresh_request()
    url = f"/signing-requests/{request['id']}/external-signatures"
    started = await t.client.post(
        url,
        json={"document_sha256": request["document_sha256"]},
        headers=t.world.of(t.people[Link.AT_TURN]),
    )
    assert started.status_code == 201, started.text
    session = started.json()
    value = t.at_turn_key.sign(base64.b64decode(session["to_sign"]), ec.ECDSA(hashes.SHA256()))
    body = {"signature": base64.b64encode(value).decode()}
    return Call("POST", f"{url}/{session['session_id']}", body)


async def _refuse(t: Target) -> Call:
    request = await t.fresh_request()
    body = {"reason": "Điểm Ngữ văn học kỳ II chưa đúng"}
    return Call("POST", f"/signing-requests/{request['id']}/refuse", body)


async def _restart(t: Target) -> Call:
    request = await t.fresh_request()
    url = f"/signing-requests/{request['id']}"
    refused = await t.client.post(
        f"{url}/refuse",
        json={"reason": "Sai họ tên học sinh"},
        headers=t.world.of(t.people[Link.AT_TURN]),
    )
    assert refused.status_code == 200, refused.text
    return Call("POST", f"{url}/restart", {})


async def _queue(t: Target) -> Call:
    # Someone with nothing waiting: the batch is done at once, and signs nothing.
    person = uuid.uuid4()
    body = {"school_id": str(t.school), "step_up_token": t.world.step_up(person)}
    return Call("POST", "/signing-batches", body, caller=person)


async def _read_batch(t: Target) -> Call:
    owner, batch_id = t.batch
    return Call("GET", f"/signing-batches/{batch_id}", caller=owner)


async def _validate(t: Target) -> Call:
    return Call("POST", "/validation", content=t.pdf, headers={"Content-Type": PDF})


REQUEST: Final = "/signing-requests/{request_id}"
BUILDERS: Final[dict[tuple[str, str], Builder]] = {
    ("GET", "/provinces/{province_id}/signer-chains"): _reader(
        "/provinces/{province}/signer-chains"
    ),
    ("PUT", "/provinces/{province_id}/signer-chains/{kind}"): _put_chain,
    ("GET", "/schools/{school_id}/certificates"): _reader("/schools/{school}/certificates"),
    ("PUT", "/schools/{school_id}/certificates/people/{user_id}"): _put_person_certificate,
    ("PUT", "/schools/{school_id}/certificates/seal"): _put_seal,
    ("POST", "/signing-requests"): _open_request,
    ("GET", "/signing-requests"): _list_requests,
    ("GET", REQUEST): _reader("/signing-requests/{request}"),
    ("GET", f"{REQUEST}/document"): _reader("/signing-requests/{request}/document", PDF),
    ("POST", f"{REQUEST}/sign"): _sign,
    ("POST", f"{REQUEST}/external-signatures"): _start_external,
    ("POST", f"{REQUEST}/external-signatures/{{session_id}}"): _finish_external,
    ("POST", f"{REQUEST}/refuse"): _refuse,
    ("POST", f"{REQUEST}/restart"): _restart,
    ("POST", "/signing-batches"): _queue,
    ("GET", "/signing-batches/{batch_id}"): _read_batch,
    ("POST", "/validation"): _validate,
}


async def _send(t: Target, call: Call, auth: dict[str, str]) -> httpx.Response:
    return await t.client.request(
        call.method,
        call.path,
        json=call.json,
        params=call.params,
        content=call.content,
        headers={**call.headers, **auth},
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


async def test_every_route_has_a_row_and_a_request(signing_world: SigningWorld) -> None:
    routes = _api_routes(signing_world.app)

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
    for (method, path), rule in ENDPOINT_RULES.items()
    for role in Role
    for relation in Relation
    for link in links(rule, role)
]


@pytest.mark.parametrize(("method", "path", "role", "relation", "link"), CASES)
async def test_authorization_matrix(
    target: Target, method: str, path: str, role: Role, relation: Relation, link: Link | None
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    call = t.unspent.pop((method, path), None) or await BUILDERS[method, path](t)
    assert call.method == method
    auth = t.token(role, t.caller(call, link), t.holder(role, relation))
    before = await t.world.fingerprint() if rule.writes else None

    response = await _send(t, call, auth)

    role_ok = role_passes(rule, role, relation)
    owner_ok = owner_passes(rule, role, link)
    if role_ok and (owner_ok or call.listed is not None):
        assert response.status_code in call.ok, response.text
        assert response.headers["content-type"].startswith(call.content_type), response
        if call.listed is not None:
            listed = {item["id"] for item in response.json()["requests"]}
            assert (call.listed in listed) is owner_ok, listed
        if rule.writes:
            assert await t.world.fingerprint() != before, "an allowed write changed nothing"
        return
    if not role_ok:
        status, codes = 403, {"forbidden"}
    else:
        assert link is not None
        status, code = OWNER_REFUSALS[rule.owner, link]
        codes = {code}
    body = _problem(response, status)
    assert body["code"] in codes, body
    if rule.writes:
        assert await t.world.fingerprint() == before, "a refused write changed something"
        # Nothing changed, so its state is as fresh as a new one: the next case takes it.
        t.unspent[method, path] = call


# --- the seal: the school leader's at its turn, whether or not the chain names them

SIGN: Final = ("POST", "/signing-requests/{request_id}/sign")
SEAL: Final = ("POST", "seal")  # the key of the seal's unspent call


async def _at_the_seal(t: Target) -> Call:
    """A request whose three people have signed: only the seal is left. The caller prepared
    for is a person the chain does not name."""
    people = [t.people[Link.AT_TURN], t.people[Link.LATER], t.people[Link.OUTSIDER]]
    request = await t.world.open_request(
        list(zip(("subject_teacher", "homeroom_teacher", "school_leader"), people, strict=True)),
        document=t.pdf,
        visible=False,
    )
    for person in people:
        signed = await t.world.sign(request, person)
        assert signed.status_code == 200, signed.text
    sha256: str = signed.json()["document_sha256"]
    caller = uuid.uuid4()
    body = {"document_sha256": sha256, "step_up_token": t.world.step_up(caller)}
    return Call("POST", f"/signing-requests/{request['id']}/sign", body, caller=caller)


SEAL_CASES: Final = [
    pytest.param(role, relation, id=f"{role.value}-{relation}")
    for role in Role
    for relation in Relation
]


@pytest.mark.parametrize(("role", "relation"), SEAL_CASES)
async def test_the_seal_is_applied_at_its_turn_by_a_school_leader_only(
    target: Target, role: Role, relation: Relation
) -> None:
    """``Owner.TURN`` at the seal's place: a school leader of the school applies it though the
    chain does not name them; any other signer role is not a signer of it."""
    t = target
    call = t.unspent.pop(SEAL, None) or await _at_the_seal(t)
    assert call.caller is not None
    auth = t.token(role, call.caller, t.holder(role, relation))
    before = await t.world.fingerprint()

    response = await _send(t, call, auth)

    if not role_passes(ENDPOINT_RULES[SIGN], role, relation):
        code = "forbidden"
    elif role is Role.SCHOOL_LEADER:
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "completed"
        return
    else:
        code = "not-a-signer"
    body = _problem(response, 403)
    assert body["code"] == code, body
    assert await t.world.fingerprint() == before, "a refused seal changed something"
    t.unspent[SEAL] = call


# --- school software must say whom it acts for

WRITES: Final = [
    pytest.param(method, path, id=f"{method} {path}")
    for (method, path), rule in ENDPOINT_RULES.items()
    if rule.writes
]
# Routes that use a person's server-side key: software cannot present their second factor (R23).
STEP_UP: Final = {("POST", "/signing-requests/{request_id}/sign"), ("POST", "/signing-batches")}


def _writer(t: Target, call: Call, rule: EndpointRule) -> tuple[Role, uuid.UUID]:
    """A role the row admits and the person it admits: whose turn it is, for a turn's row."""
    order = [Role.SCHOOL_ADMIN, Role.SCHOOL_LEADER, Role.PROVINCE_ADMIN]
    role = next(r for r in order if r in rule.roles)
    link = Link.AT_TURN if binds(rule, role) else None
    return role, t.caller(call, link)


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_client_token_without_acting_for_writes_nothing(
    target: Target, method: str, path: str
) -> None:
    t = target
    call = t.unspent.pop((method, path), None) or await BUILDERS[method, path](t)
    role, _ = _writer(t, call, ENDPOINT_RULES[method, path])
    auth = t.world.issuer.headers(
        f"phan-mem-{uuid.uuid4().hex[:6]}",
        f"{role.value}@{t.holder(role, Relation.IN_SCOPE)}",
        kind="client",
    )
    before = await t.world.fingerprint()

    response = await _send(t, call, auth)

    body = _problem(response, 403)
    assert body["code"] == "acting-user-required", body
    assert await t.world.fingerprint() == before, "a client without acting_for changed something"
    t.unspent[method, path] = call


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_client_token_acting_for_an_allowed_person_writes_as_them(
    target: Target, method: str, path: str
) -> None:
    """School software acting for the person the row admits writes as them, except where a
    server-side key needs the person's own second factor: 403 ``step-up-needs-person``."""
    t = target
    call = t.unspent.pop((method, path), None) or await BUILDERS[method, path](t)
    role, person = _writer(t, call, ENDPOINT_RULES[method, path])
    auth = t.world.issuer.headers(
        "phan-mem-truong",
        f"{role.value}@{t.holder(role, Relation.IN_SCOPE)}",
        kind="client",
        acting_for=person,
    )
    before = await t.world.fingerprint()

    response = await _send(t, call, auth)

    if (method, path) in STEP_UP:
        body = _problem(response, 403)
        assert body["code"] == "step-up-needs-person", body
        assert await t.world.fingerprint() == before, "software used a person's key"
        t.unspent[method, path] = call
    else:
        assert response.status_code in call.ok, response.text


# --- no token, no access (but anyone may validate a document)


async def test_every_route_but_validation_needs_a_token(target: Target) -> None:
    wrong: list[str] = []
    for method, path in sorted(ENDPOINT_RULES):
        rule = ENDPOINT_RULES[method, path]
        call = target.unspent.pop((method, path), None) or await BUILDERS[method, path](target)
        for auth in ({}, {"Authorization": "Bearer not-a-token"}):
            before = await target.world.fingerprint()
            response = await _send(target, call, auth)
            if rule.scope is Scope.PUBLIC:
                ok = response.status_code in call.ok
            else:
                ok = (
                    response.status_code == 401
                    and response.headers.get("content-type", "").startswith(
                        "application/problem+json"
                    )
                    and response.json().get("code") == "unauthenticated"
                )
            if not ok:
                wrong.append(f"{method} {path} {auth}: {response.status_code} {response.text}")
            if await target.world.fingerprint() != before:
                wrong.append(f"{method} {path} {auth}: changed something")
        if rule.writes:
            target.unspent[method, path] = call
    assert wrong == []
