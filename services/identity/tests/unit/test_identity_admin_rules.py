"""The administration routes and their one table of rules agree, and the table keeps the
house rules: inspectors never write, every route needs a token."""

from __future__ import annotations

from fastapi.routing import APIRoute

from common.auth import current_principal
from identity.api.admin import ENDPOINT_RULES, INSPECTORS, ScopeRule, router
from identity.api.imports import router as imports_router


def _routes() -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in [*router.routes, *imports_router.routes]
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def test_every_admin_route_has_exactly_one_rule() -> None:
    assert _routes() == set(ENDPOINT_RULES)


def test_inspectors_hold_no_write_rule() -> None:
    for key, rule in ENDPOINT_RULES.items():
        assert rule.writes == (key[0] != "GET"), key
        if rule.writes:
            assert not rule.roles & INSPECTORS, key


def test_listings_are_cut_to_the_callers_subtree() -> None:
    for (method, path), rule in ENDPOINT_RULES.items():
        # The template is a file download, not a listing.
        if method == "GET" and "{" not in path and path != "/imports/staff/template":
            assert rule.scope is ScopeRule.SUBTREE, path


def test_every_admin_route_requires_a_verified_caller() -> None:
    def depends_on_principal(dependant: object) -> bool:
        calls = [getattr(d, "call", None) for d in getattr(dependant, "dependencies", [])]
        return current_principal in calls or any(
            depends_on_principal(d) for d in getattr(dependant, "dependencies", [])
        )

    for route in [*router.routes, *imports_router.routes]:
        assert isinstance(route, APIRoute)
        assert depends_on_principal(route.dependant), route.path
