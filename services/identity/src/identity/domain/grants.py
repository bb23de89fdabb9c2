"""Grants (phân quyền, R33): a role at an org unit, to a user or a group, for a time window.

A grant applies to its unit and every unit below. Granting and revoking follow one rule, no
escalation: the grantor needs a grant, valid at that moment, whose unit contains the target
unit and whose role may grant the role in question (``roles.grantable_roles``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from common.events.identity import GranteeKind, Role
from identity.domain.errors import DomainError
from identity.domain.org import OrgTree, OrgUnit, OrgUnitId, OrgUnitRef
from identity.domain.roles import (
    check_grantable_to_people,
    grantable_roles,
    is_platform_role,
    is_role_valid_at,
)


class Status(StrEnum):
    """Trạng thái of an account or a group: a disabled one holds no grants."""

    ACTIVE = "active"
    DISABLED = "disabled"


def _require_aware(at: datetime, what: str) -> None:
    # A naive time in a province-wide system is a bug waiting for a server in another zone.
    if at.tzinfo is None or at.utcoffset() is None:
        raise DomainError("time_not_aware", "Thời điểm phải có múi giờ", what)


@dataclass(frozen=True, slots=True)
class Grantee:
    """Who holds a grant: a user, or a group (nhóm, tổ chuyên môn, bộ phận) of users."""

    kind: GranteeKind
    id: uuid.UUID

    @classmethod
    def user(cls, user_id: uuid.UUID) -> Grantee:
        return cls(GranteeKind.USER, user_id)

    @classmethod
    def group(cls, group_id: uuid.UUID, kind: GranteeKind = GranteeKind.GROUP) -> Grantee:
        if kind is GranteeKind.USER:
            raise DomainError("grantee_not_group", "Đối tượng được cấp quyền không phải nhóm")
        return cls(kind, group_id)

    @property
    def is_group(self) -> bool:
        return self.kind is not GranteeKind.USER


@dataclass(frozen=True, slots=True)
class Grant:
    """A role at a unit, valid from ``valid_from`` (inclusive) to ``valid_to`` (exclusive)."""

    id: uuid.UUID
    role: Role
    unit_id: OrgUnitId
    grantee: Grantee
    valid_from: datetime
    granted_by: uuid.UUID  # every grant names who made it; bootstrap names the platform's id
    valid_to: datetime | None = None

    def __post_init__(self) -> None:
        # A platform role (archivist) is a platform client's scope, never a person's grant.
        check_grantable_to_people(self.role)
        _require_aware(self.valid_from, "valid_from")
        if self.valid_to is not None:
            _require_aware(self.valid_to, "valid_to")
            if self.valid_to <= self.valid_from:
                raise DomainError(
                    "grant_window_empty",
                    "Thời hạn hiệu lực của quyền không hợp lệ",
                    "valid_to must be after valid_from",
                )

    def is_valid_at(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


@dataclass(frozen=True, slots=True)
class GroupMembership:
    """A user's membership of a group, with the group's own status."""

    user_id: uuid.UUID
    group_id: uuid.UUID
    group_status: Status = Status.ACTIVE


def effective_grants(
    user_id: uuid.UUID,
    direct_grants: Iterable[Grant],
    group_memberships: Iterable[GroupMembership],
    group_grants: Iterable[Grant],
    at: datetime,
    *,
    user_status: Status = Status.ACTIVE,
) -> tuple[Grant, ...]:
    """The grants ``user_id`` holds at ``at``: their own, and those of their active groups.

    A disabled user holds nothing. Grants given to someone else, or to a group the user is not
    an active member of, are ignored rather than trusted, whatever the caller passed in.
    """
    _require_aware(at, "at")
    if user_status is Status.DISABLED:
        return ()
    me = Grantee.user(user_id)
    groups = {
        m.group_id
        for m in group_memberships
        if m.user_id == user_id and m.group_status is Status.ACTIVE
    }
    found: dict[uuid.UUID, Grant] = {}
    for grant in direct_grants:
        if grant.grantee == me and grant.is_valid_at(at):
            found.setdefault(grant.id, grant)
    for grant in group_grants:
        if grant.grantee.is_group and grant.grantee.id in groups and grant.is_valid_at(at):
            found.setdefault(grant.id, grant)
    return tuple(found.values())


@dataclass(frozen=True, slots=True)
class GrantDecision:
    """Whether a grantor may grant (or revoke) a role at a unit, and why; ``via`` is the
    grantor's grant that allows it."""

    allowed: bool
    code: str
    title_vi: str
    detail: str = ""
    via: Grant | None = None

    def raise_if_refused(self) -> None:
        if not self.allowed:
            raise GrantRefusedError(self.code, self.title_vi, self.detail)


class GrantRefusedError(DomainError):
    """A grant or revocation the grantor has no right to make (HTTP 403)."""


def _refuse(code: str, title_vi: str, detail: str) -> GrantDecision:
    return GrantDecision(False, code, title_vi, detail)


def _decide(
    grantor_grants: Iterable[Grant], role: Role, unit: OrgUnitRef, tree: OrgTree, at: datetime
) -> GrantDecision:
    _require_aware(at, "at")
    target = tree.find(unit)
    if target is None:
        unknown = unit.id if isinstance(unit, OrgUnit) else unit
        return _refuse("org_unit_unknown", "Không tìm thấy đơn vị", str(unknown))
    held = [g for g in grantor_grants if g.is_valid_at(at) and g.unit_id in tree]
    if not held:
        return _refuse(
            "grantor_has_no_valid_grant",
            "Người cấp quyền không có quyền nào còn hiệu lực",
            f"at {at.isoformat()}",
        )
    in_scope = [g for g in held if tree.contains(g.unit_id, target)]
    if not in_scope:
        return _refuse(
            "outside_grantor_scope",
            "Đơn vị nằm ngoài phạm vi quản lý của người cấp quyền",
            f"{target.code} is not within any unit the grantor holds a role at",
        )
    for grant in in_scope:
        if role in grantable_roles(grant.role):
            return GrantDecision(True, "allowed", "Được phép", via=grant)
    return _refuse(
        "role_above_grantor",
        "Vai trò vượt quá quyền hạn của người cấp quyền",
        f"no role the grantor holds over {target.code} may grant {role}",
    )


def can_grant(
    grantor_grants: Iterable[Grant], role: Role, unit: OrgUnitRef, tree: OrgTree, at: datetime
) -> GrantDecision:
    """Whether someone holding ``grantor_grants`` may grant ``role`` at ``unit`` at ``at``."""
    if is_platform_role(role):
        return _refuse(
            "role_platform_only",
            "Vai trò chỉ dành cho dịch vụ nền tảng, không cấp cho người dùng hay nhóm",
            f"{role} is held only by platform service clients, never by a user or a group",
        )
    target = tree.find(unit)
    if target is not None and not is_role_valid_at(role, target.kind):
        return _refuse(
            "role_not_valid_at_unit",
            "Vai trò không phù hợp với cấp của đơn vị",
            f"{role} cannot be granted at {target.kind} {target.code}",
        )
    return _decide(grantor_grants, role, unit, tree, at)


def can_revoke(
    grantor_grants: Iterable[Grant], grant: Grant, tree: OrgTree, at: datetime
) -> GrantDecision:
    """Whether someone holding ``grantor_grants`` may revoke ``grant``: exactly when they could
    have granted it now. A grant that no longer fits its unit's tier can still be revoked."""
    return _decide(grantor_grants, grant.role, grant.unit_id, tree, at)


def holds_a_role_within(effective: Iterable[Grant], tree: OrgTree, scope: OrgUnitRef) -> bool:
    """Whether any of ``effective`` is held at ``scope`` or a unit below it: a platform client
    bound to a province acts only for a person who works in that province (R23)."""
    return any(g.unit_id in tree and tree.contains(scope, g.unit_id) for g in effective)


def compact_grant(role: Role, unit_id: OrgUnitId) -> str:
    """One ``role@unit_id`` entry of the access token's ``grants`` claim (``common.auth``)."""
    return f"{role.value}@{unit_id}"


def implied_role_units(grants: Iterable[Grant], tree: OrgTree) -> frozenset[tuple[Role, OrgUnitId]]:
    """Every (role, unit) pair the grants imply: each grant's unit and every unit below it.

    A grant at a unit that is not in the tree implies only itself.
    """
    pairs: set[tuple[Role, OrgUnitId]] = set()
    for grant in grants:
        pairs.add((grant.role, grant.unit_id))
        if grant.unit_id in tree:
            pairs.update((grant.role, u.id) for u in tree.descendants(grant.unit_id))
    return frozenset(pairs)


def compact_grants(effective: Iterable[Grant], tree: OrgTree) -> tuple[str, ...]:
    """The token's ``grants`` claim: each (role, unit) once, leaving out a role at a unit when
    the same role is held at a unit above it. Sorted, so equal grants give equal tokens."""
    pairs = {(g.role, g.unit_id) for g in effective}
    kept = [
        (role, unit_id)
        for role, unit_id in pairs
        if unit_id not in tree
        or not any((role, above.id) in pairs for above in tree.ancestors(unit_id))
    ]
    return tuple(sorted(compact_grant(role, unit_id) for role, unit_id in kept))
