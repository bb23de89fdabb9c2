"""The caller as a person with roles at org units: what every service's authorization starts from.

A token's grants say which role the caller holds at which org unit; a grant at a district office
or the department covers the schools under it. Each service keeps its own table of which roles
may call which route and adds its resource owner's checks (records: who teaches the class;
attendance: who is its homeroom teacher, who teaches the period).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, Self

from common.auth import Principal
from common.errors import Problem
from common.events.identity import Role


class Unit(Protocol):
    """An org unit as a service's copy of the tree holds it."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def province_id(self) -> uuid.UUID: ...
    @property
    def district_id(self) -> uuid.UUID | None: ...
    @property
    def code(self) -> str: ...


class Forbidden(Problem):
    def __init__(self, detail: str, code: str = "forbidden", title: str | None = None) -> None:
        super().__init__(403, code, title or "Không có quyền thực hiện thao tác này", detail)


@dataclass(frozen=True, slots=True)
class Actor:
    """The person a request is attributed to (R23): the user, or the user school software acts
    for; ``client_id`` names the software when there is one."""

    principal: Principal
    user_id: uuid.UUID | None
    client_id: str | None

    @classmethod
    def of(cls, principal: Principal) -> Self:
        person = principal.subject if principal.kind == "user" else principal.acting_for
        try:
            user_id = uuid.UUID(person) if person else None
        except ValueError:
            user_id = None
        client = principal.subject if principal.kind == "client" else None
        return cls(principal, user_id, client)

    def person(self) -> uuid.UUID:
        """The person for a write; school software must say whom it acts for."""
        if self.user_id is None:
            raise Forbidden(
                "Writes need a person: a client token must carry acting_for",
                code="acting-user-required",
                title="Cần xác định người thực hiện",
            )
        return self.user_id

    def roles_at(self, unit: Unit) -> frozenset[Role]:
        """Roles granted at ``unit`` or at a unit above it."""
        covering = {str(unit.id), str(unit.province_id)}
        if unit.district_id is not None:
            covering.add(str(unit.district_id))
        roles: set[Role] = set()
        for grant in self.principal.grants:
            if grant.unit_id in covering:
                try:
                    roles.add(Role(grant.role))
                except ValueError:
                    continue
        return frozenset(roles)

    def require(self, roles: frozenset[Role], unit: Unit, *, writes: bool) -> frozenset[Role]:
        """The caller's roles at ``unit`` among ``roles``; 403 when there are none."""
        held = self.roles_at(unit) & roles
        if not held:
            raise Forbidden(f"No role among {sorted(roles)} covers unit {unit.code}")
        if writes:
            self.person()
        return held

    def granted_unit_ids(self, roles: frozenset[Role]) -> set[uuid.UUID]:
        """Units at which the caller holds one of ``roles`` (to look them up in the tree)."""
        found: set[uuid.UUID] = set()
        for grant in self.principal.grants:
            if grant.role in roles:
                try:
                    found.add(uuid.UUID(grant.unit_id))
                except ValueError:
                    continue
        return found

    def require_in_province(
        self, roles: frozenset[Role], units: Mapping[uuid.UUID, Unit], unit: Unit
    ) -> frozenset[Role]:
        """Roles among ``roles`` granted anywhere in ``unit``'s province; 403 when none.

        ``units`` maps the ids of ``granted_unit_ids(roles)`` to the service's copy of them.
        """
        held: set[Role] = set()
        for grant in self.principal.grants:
            if grant.role not in roles:
                continue
            try:
                granted = units.get(uuid.UUID(grant.unit_id))
            except ValueError:
                continue
            if granted is not None and granted.province_id == unit.province_id:
                held.add(Role(grant.role))
        if not held:
            raise Forbidden(f"No role among {sorted(roles)} in the province of {unit.code}")
        return frozenset(held)
