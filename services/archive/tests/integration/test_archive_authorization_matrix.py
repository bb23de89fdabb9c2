"""The authorization matrix of archive, generated from ``archive.access.ENDPOINT_RULES``: every
route × every role × in scope / out of scope.

The caller holds exactly one grant, of the role under test, at the tier that role is granted at:

- in scope: the province (province roles and the platform role archivist), the district office
  of the school (district roles), the school itself (school roles);
- out of scope: a second province (province roles), the other district (district roles), a
  school of the other district (school roles).

Every request is about the school: its search, its pipeline, one of its packages and that
package's document. ``Scope.SCHOOL`` (the only scope of the table) needs a grant at the school or
above it. The archivist is held only by a platform client (the archive service itself), so its
token is a client's acting for a person; every other role's is a person's own. No row admits the
archivist today: the archive's own API is for people, not for the pipeline.

Allowed answers are 2xx with what the school holds (the search lists the school's package and
nothing of its sibling's; the document is the PDF's bytes as the bucket holds them); refused ones
are 403 problem+json ``forbidden``. Unknown ids are 404 to a caller the row admits, and every
route needs a token (401).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from archive.access import ENDPOINT_RULES, EndpointRule, Scope
from common.app import API_PREFIX
from common.events.identity import OrgLevel, Role
from common.testing import assert_problem

from .conftest import SCHOOL_YEAR, ArchiveWorld, Package, Pending

# Routes under /api/v1 without a row: any valid token, no role.
ROWLESS: Final = {("GET", "/me")}
# Roles held only by platform service clients (identity.domain.roles): their tokens are a
# client's, acting for a person.
PLATFORM_ROLES: Final = frozenset({Role.ARCHIVIST})
PDF: Final = "application/pdf"
JSON: Final = "application/json"


class Relation(StrEnum):
    IN_SCOPE = "in_scope"
    OUT_OF_SCOPE = "out_of_scope"


def tier(role: Role) -> OrgLevel:
    if role in {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.ARCHIVIST}:
        return OrgLevel.PROVINCE
    if role in {Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}:
        return OrgLevel.DISTRICT
    return OrgLevel.SCHOOL


def role_passes(rule: EndpointRule, role: Role, relation: Relation) -> bool:
    assert rule.scope is Scope.SCHOOL, f"a scope the matrix does not know: {rule.scope}"
    return role in rule.roles and relation is Relation.IN_SCOPE


@dataclass
class Target:
    """The school's package, its sibling school's, and the school's unfinished work."""

    world: ArchiveWorld
    package: Package
    sibling_package: Package
    pending: Pending

    @property
    def school(self) -> uuid.UUID:
        return self.world.units.school

    def holder(self, role: Role, relation: Relation) -> uuid.UUID:
        u = self.world.units
        inside = relation is Relation.IN_SCOPE
        match tier(role):
            case OrgLevel.PROVINCE:
                return u.province if inside else u.other_province
            case OrgLevel.DISTRICT:
                return u.district if inside else u.other_district
            case _:
                return u.school if inside else u.other_school

    def token(self, role: Role, unit: uuid.UUID) -> dict[str, str]:
        """``role`` at ``unit``: a person's own token, or for a platform role the platform
        client's acting for a person."""
        grant = f"{role.value}@{unit}"
        if role in PLATFORM_ROLES:
            return self.world.as_("hsdt-archive", grant, kind="client", acting_for=uuid.uuid4())
        return self.world.as_(uuid.uuid4(), grant)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(archive_world: ArchiveWorld) -> Target:
    world = archive_world
    return Target(
        world,
        await world.package(),
        await world.package(world.units.sibling),
        await world.pending(),
    )


# --- one valid request per route


@dataclass(frozen=True)
class Ids:
    """The ids a request names: the target's, or ones nothing has."""

    school: uuid.UUID
    package: uuid.UUID


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str] | None = None
    content_type: str = JSON
    # What an allowed answer holds, beyond its status and content type.
    check: Callable[[httpx.Response], None] | None = None


Builder = Callable[[Target, Ids], Call]


def _search(t: Target, ids: Ids) -> Call:
    def check(response: httpx.Response) -> None:
        found: list[dict[str, Any]] = response.json()
        assert {p["school_id"] for p in found} == {str(t.school)}, found
        listed = {p["id"]: p for p in found}
        package = listed[str(t.package.id)]
        assert package["document_sha256"] == t.package.sha256, package
        assert package["student_id"] == str(t.package.student_id), package
        assert str(t.sibling_package.id) not in listed

    params = {"kind": "transcript", "school_year": SCHOOL_YEAR}
    return Call("GET", f"/schools/{ids.school}/packages", params, check=check)


def _package(t: Target, ids: Ids) -> Call:
    def check(response: httpx.Response) -> None:
        package = response.json()
        assert package["id"] == str(t.package.id), package
        assert package["school_id"] == str(t.school), package
        assert package["legal_hold"] is True, package  # a transcript is kept forever
        assert [(o["path"], o["sha256"]) for o in package["objects"]] == [
            ("data/document.pdf", t.package.sha256)
        ], package

    return Call("GET", f"/packages/{ids.package}", check=check)


def _document(t: Target, ids: Ids) -> Call:
    def check(response: httpx.Response) -> None:
        assert response.content == t.package.pdf
        assert response.headers["etag"] == f'"{t.package.sha256}"'

    return Call("GET", f"/packages/{ids.package}/document", content_type=PDF, check=check)


def _pipeline(t: Target, ids: Ids) -> Call:
    def check(response: httpx.Response) -> None:
        found = {(p["kind"], p["id"]): p for p in response.json()}
        job = found[("class_job", str(t.pending.class_job_id))]
        assert (job["state"], job["last_error"]) == ("pending", "records: 503"), job
        assert found[("document_version", str(t.pending.version_id))]["state"] == "signing"
        assert len(found) == 2, found  # the stored package's job and version are done

    return Call("GET", f"/schools/{ids.school}/pipeline", check=check)


BUILDERS: Final[dict[tuple[str, str], Builder]] = {
    ("GET", "/schools/{school_id}/packages"): _search,
    ("GET", "/packages/{package_id}"): _package,
    ("GET", "/packages/{package_id}/document"): _document,
    ("GET", "/schools/{school_id}/pipeline"): _pipeline,
}


def _ids(t: Target) -> Ids:
    return Ids(t.school, t.package.id)


async def _send(t: Target, call: Call, auth: dict[str, str]) -> httpx.Response:
    return await t.world.client.request(call.method, call.path, params=call.params, headers=auth)


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


async def test_every_route_has_a_row_and_a_request(archive_world: ArchiveWorld) -> None:
    routes = _api_routes(archive_world.app)

    without_row = sorted(routes - ENDPOINT_RULES.keys() - ROWLESS)
    stale = sorted((ENDPOINT_RULES.keys() | ROWLESS) - routes)

    assert without_row == [], f"routes with no row in ENDPOINT_RULES: {without_row}"
    assert stale == [], f"rows for routes that do not exist: {stale}"
    assert BUILDERS.keys() == ENDPOINT_RULES.keys(), "each row needs a request in BUILDERS"
    # The matrix sends each request once per role: a write would need fresh state per case and
    # a check that a refused one changed nothing (as signing's matrix does).
    writes = sorted(key for key, rule in ENDPOINT_RULES.items() if rule.writes)
    assert writes == [], f"archive's API only reads; the matrix needs writes handled: {writes}"


# --- the matrix

CASES: Final = [
    pytest.param(method, path, role, relation, id=f"{method} {path}-{role.value}-{relation}")
    for method, path in ENDPOINT_RULES
    for role in Role
    for relation in Relation
]


@pytest.mark.parametrize(("method", "path", "role", "relation"), CASES)
async def test_authorization_matrix(
    target: Target, method: str, path: str, role: Role, relation: Relation
) -> None:
    t = target
    call = BUILDERS[method, path](t, _ids(t))
    assert call.method == method

    response = await _send(t, call, t.token(role, t.holder(role, relation)))

    if role_passes(ENDPOINT_RULES[method, path], role, relation):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(call.content_type), response
        if call.check is not None:
            call.check(response)
    else:
        assert_problem(response, 403, "forbidden")


# --- unknown ids

UNKNOWN: Final = [
    *(
        pytest.param(method, path, "unknown", id=f"{method} {path}-unknown")
        for method, path in ENDPOINT_RULES
    ),
    *(
        pytest.param(method, path, "a district", id=f"{method} {path}-a district")
        for method, path in ENDPOINT_RULES
        if "{school_id}" in path
    ),
]


@pytest.mark.parametrize(("method", "path", "named"), UNKNOWN)
async def test_an_unknown_id_is_not_found(
    target: Target, method: str, path: str, named: str
) -> None:
    """To a caller the row admits anywhere (the province's admin): an id nothing has, or the
    district office's id where a school's is wanted."""
    t = target
    school = t.world.units.district if named == "a district" else uuid.uuid4()
    call = BUILDERS[method, path](t, Ids(school, uuid.uuid4()))
    assert Role.PROVINCE_ADMIN in ENDPOINT_RULES[method, path].roles

    response = await _send(t, call, t.token(Role.PROVINCE_ADMIN, t.world.units.province))

    assert_problem(response, 404)


# --- no token, no access


async def test_every_route_needs_a_token(target: Target) -> None:
    wrong: list[str] = []
    for method, path in sorted(ENDPOINT_RULES):
        call = BUILDERS[method, path](target, _ids(target))
        for auth in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await _send(target, call, auth)
            ok = (
                response.status_code == 401
                and response.headers.get("content-type", "").startswith("application/problem+json")
                and response.json().get("code") == "unauthenticated"
            )
            if not ok:
                wrong.append(f"{method} {path} {auth}: {response.status_code} {response.text}")
    assert wrong == []
