"""What every handler of signing shares: the clock, look-ups that 404, authorization."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from common.errors import Problem, http_problem
from common.events.identity import OrgLevel, Role
from signing.access import Actor, EndpointRule, Scope
from signing.models import OrgUnitRow
from signing.uow import SigningUnitOfWork


def utcnow() -> datetime:
    return datetime.now(UTC)


def not_found(what: str, ident: object) -> Problem:
    return http_problem(404, f"{what} {ident} does not exist")


def invalid(code: str, title_vi: str, detail: str, **extensions: object) -> Problem:
    """Input the rules refuse: 422 with its own code; nothing is written."""
    return Problem(422, code, title_vi, detail, extensions=extensions or None)


def conflict(code: str, title_vi: str, detail: str, **extensions: object) -> Problem:
    return Problem(409, code, title_vi, detail, extensions=extensions or None)


async def unit_of(
    uow: SigningUnitOfWork, unit_id: uuid.UUID, kind: OrgLevel | None = None
) -> OrgUnitRow:
    unit = await uow.repo.org_unit(unit_id)
    if unit is None or (kind is not None and unit.kind != kind):
        raise not_found((kind or "Org unit").capitalize(), unit_id)
    return unit


async def authorize(
    uow: SigningUnitOfWork, actor: Actor, rule: EndpointRule, unit: OrgUnitRow
) -> frozenset[Role]:
    """The role check of ``rule`` at ``unit``; Scope.PROVINCE admits any grant in its province."""
    if rule.scope is Scope.PROVINCE:
        units = await uow.repo.org_units(actor.granted_unit_ids(rule.roles))
        return actor.require_in_province(rule.roles, units, unit)
    return actor.require(rule.roles, unit, writes=rule.writes)
