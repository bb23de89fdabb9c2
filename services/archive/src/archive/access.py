"""Who may call what in archive: the role at a scope. ``ENDPOINT_RULES`` is the one table of it;
the authorization-matrix test generates its cases from it.

Archived records are children's personal data kept forever: the school's board and the
supervisors read them; a teacher does not browse the archive (they see their class's records in
records itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from common.access import Actor, Forbidden
from common.events.identity import Role

SCHOOL_KEEPERS: Final = frozenset({Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN})
SUPERVISORS: Final = frozenset(
    {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}
)
READERS: Final = SUPERVISORS | SCHOOL_KEEPERS
OPERATORS: Final = frozenset({Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN}) | SCHOOL_KEEPERS


class Scope(StrEnum):
    SCHOOL = "school"  # a grant at the resource's school or above it


@dataclass(frozen=True, slots=True)
class EndpointRule:
    roles: frozenset[Role]
    scope: Scope
    writes: bool


R = EndpointRule
ENDPOINT_RULES: Final[dict[tuple[str, str], EndpointRule]] = {
    # Packages: listed and searched by school, class, student and record type.
    ("GET", "/schools/{school_id}/packages"): R(READERS, Scope.SCHOOL, False),
    ("GET", "/packages/{package_id}"): R(READERS, Scope.SCHOOL, False),
    ("GET", "/packages/{package_id}/document"): R(READERS, Scope.SCHOOL, False),
    # The pipeline of a school: what is waiting, for what, and why it failed.
    ("GET", "/schools/{school_id}/pipeline"): R(OPERATORS, Scope.SCHOOL, False),
}
del R


def rule(method: str, path: str) -> EndpointRule:
    return ENDPOINT_RULES[(method, path)]


__all__ = ["ENDPOINT_RULES", "Actor", "EndpointRule", "Forbidden", "Scope", "rule"]
