"""Roles (vai trò): their rank, the tier they are granted at, whom they may grant, and TOTP.

The vocabulary is the published ``common.events.identity.Role``, so the domain and the
``GrantChanged`` event cannot drift apart. One table holds every rule about a role.

Rank, and what "at or below" means
----------------------------------
Ranks order roles by the power they carry over the records; a role is *at or below* another
when its rank is lower or equal. Ranks are a ceiling, not a licence: what a role may grant is
its own explicit list, always a subset of the roles at or below it, and each holder may grant
only inside the units their own grant covers (``grants.can_grant``). The only role that may
grant its own role is the province admin, because nobody else could appoint another one; a
district admin does not create district admins, the department does.

    province_admin 80 > [province_inspector 70] > district_admin 60 > [district_inspector 50]
    > school_leader 40 > school_admin 30 > teacher 20 > staff 10

The inspectors' ranks are reserved: ``Role`` does not have them yet. When it does, each gets a
row here (read-only: it grants nothing; TOTP required, since it reads a whole district or
province of children's data) and the province admin and district admin rows gain them.

School leader (Ban giám hiệu: principal, vice-principals) ranks above school admin (the staff
member who runs the school's accounts, quản trị HSĐT): the principal heads the school's admin
board (R9), so a leader may appoint the admin, and not the other way round.

Platform roles
--------------
``archivist`` is held only by a platform service client (the archive service) bound to the
province, never by a person or a group: nobody may grant it (``platform_only``), and a grant of
it is refused whoever asks. It stands outside the ladder above (rank 0 orders nothing, since no
role grants it) and needs no second factor: software cannot present one, and every write it
makes is attributed to the person it acts for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from common.events.identity import OrgLevel, Role
from identity.domain.errors import DomainError
from identity.domain.org import OrgUnit, OrgUnitKind


@dataclass(frozen=True, slots=True)
class RolePolicy:
    rank: int
    unit_kind: OrgUnitKind  # the one tier a grant of this role is made at
    may_grant: frozenset[Role]
    requires_totp: bool
    # Held by platform service clients only: never granted to a person or a group.
    platform_only: bool = False


_SCHOOL_STAFF: Final = frozenset({Role.TEACHER, Role.STAFF})
PLATFORM_ROLES: Final = frozenset({Role.ARCHIVIST})

ROLE_POLICIES: Final[Mapping[Role, RolePolicy]] = MappingProxyType(
    {
        Role.PROVINCE_ADMIN: RolePolicy(
            80, OrgLevel.PROVINCE, frozenset(Role) - PLATFORM_ROLES, True
        ),
        # Read-only, but over a whole province of children's data: a second factor too.
        Role.PROVINCE_INSPECTOR: RolePolicy(70, OrgLevel.PROVINCE, frozenset(), True),
        Role.DISTRICT_ADMIN: RolePolicy(
            60,
            OrgLevel.DISTRICT,
            frozenset(
                {Role.DISTRICT_INSPECTOR, Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN, *_SCHOOL_STAFF}
            ),
            True,
        ),
        Role.DISTRICT_INSPECTOR: RolePolicy(50, OrgLevel.DISTRICT, frozenset(), True),
        Role.SCHOOL_LEADER: RolePolicy(
            40, OrgLevel.SCHOOL, frozenset({Role.SCHOOL_ADMIN, *_SCHOOL_STAFF}), True
        ),
        Role.SCHOOL_ADMIN: RolePolicy(30, OrgLevel.SCHOOL, _SCHOOL_STAFF, True),
        Role.TEACHER: RolePolicy(20, OrgLevel.SCHOOL, frozenset(), False),
        Role.STAFF: RolePolicy(10, OrgLevel.SCHOOL, frozenset(), False),
        # The archive service's client at the province: reads locked snapshots, opens signing
        # requests, acting for the leader who locked (R23).
        Role.ARCHIVIST: RolePolicy(0, OrgLevel.PROVINCE, frozenset(), False, platform_only=True),
    }
)
assert {r for r, p in ROLE_POLICIES.items() if p.platform_only} == PLATFORM_ROLES


def role_rank(role: Role) -> int:
    return ROLE_POLICIES[role].rank


def is_at_or_below(role: Role, other: Role) -> bool:
    """Whether ``role`` carries no more power than ``other`` (rank lower or equal)."""
    return role_rank(role) <= role_rank(other)


def unit_kind_for(role: Role) -> OrgUnitKind:
    return ROLE_POLICIES[role].unit_kind


def is_role_valid_at(role: Role, kind: OrgUnitKind) -> bool:
    """A teacher is granted at a school, a district admin at a district office, and so on."""
    return ROLE_POLICIES[role].unit_kind is kind


def check_role_at(role: Role, unit: OrgUnit) -> None:
    if not is_role_valid_at(role, unit.kind):
        raise DomainError(
            "role_not_valid_at_unit",
            "Vai trò không phù hợp với cấp của đơn vị",
            f"{role} is granted at a {unit_kind_for(role)}, not at {unit.kind} {unit.code}",
        )


def grantable_roles(role: Role) -> frozenset[Role]:
    """The roles a holder of ``role`` may grant, inside the scope of their grant."""
    return ROLE_POLICIES[role].may_grant


def is_platform_role(role: Role) -> bool:
    """Whether ``role`` belongs to platform service clients only (never a person or a group)."""
    return ROLE_POLICIES[role].platform_only


def check_grantable_to_people(role: Role) -> None:
    """Refuse a grant of a platform role to a user or a group, whoever asks."""
    if is_platform_role(role):
        raise DomainError(
            "role_platform_only",
            "Vai trò chỉ dành cho dịch vụ nền tảng, không cấp cho người dùng hay nhóm",
            f"{role} is held only by platform service clients (created by an operator with "
            "'python -m identity.cli platform-client'), never by a user or a group",
        )


def requires_totp(role: Role) -> bool:
    """Leaders and admins sign in with a second factor (TOTP)."""
    return ROLE_POLICIES[role].requires_totp


def any_requires_totp(roles: Iterable[Role]) -> bool:
    """Whether an account holding these roles must have TOTP enrolled to sign in."""
    return any(requires_totp(r) for r in roles)
