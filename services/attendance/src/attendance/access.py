"""Who may call what in attendance: the role at a scope, then the resource owner's own check.

``ENDPOINT_RULES`` is the one table of it. Routes read their row; the authorization-matrix test
generates its cases from it, and a route without a row fails that test. On top of the role,
attendance knows who is the homeroom teacher of a class (from records' class lists) and who
teaches which period (its own timetable).
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
INSPECTORS: Final = frozenset({Role.PROVINCE_INSPECTOR, Role.DISTRICT_INSPECTOR})
READERS: Final = SUPERVISORS | SCHOOL_KEEPERS
CLASS_READERS: Final = READERS | {Role.TEACHER}
SCHOOL_STAFF: Final = READERS | {Role.TEACHER, Role.STAFF}
# Platform roles (the archive) read none of attendance: absences are not part of the archive.
ANY_ROLE: Final = frozenset(Role) - {Role.ARCHIVIST}


class Owner(StrEnum):
    """The resource owner's check that follows the role check (it binds teachers only)."""

    NONE = "none"
    # The class's homeroom teacher or a teacher with a period of it in the timetable.
    TEACHER_OF_CLASS = "teacher_of_class"
    # Only the class's homeroom teacher (the roll call, R14; the month close).
    HOMEROOM = "homeroom"
    # Only the teacher the timetable gives the period to (LC Đ11.1).
    PERIOD_TEACHER = "period_teacher"


class Scope(StrEnum):
    SCHOOL = "school"  # a grant at the resource's school or above it
    UNIT = "unit"  # a grant at the unit the request names, or above it
    PROVINCE = "province"  # any grant in the resource's province
    MINE = "mine"  # any grant at all


@dataclass(frozen=True, slots=True)
class EndpointRule:
    roles: frozenset[Role]
    scope: Scope
    owner: Owner
    writes: bool


R = EndpointRule
ENDPOINT_RULES: Final[dict[tuple[str, str], EndpointRule]] = {
    # The province's rules: deadline, how days are counted, the month close.
    ("GET", "/provinces/{province_id}/settings"): R(ANY_ROLE, Scope.PROVINCE, Owner.NONE, False),
    ("PUT", "/provinces/{province_id}/settings"): R(
        frozenset({Role.PROVINCE_ADMIN}), Scope.UNIT, Owner.NONE, True
    ),
    # Holidays and make-up days of the province (its admin) or a school (its board).
    ("GET", "/units/{unit_id}/calendar-days"): R(ANY_ROLE, Scope.PROVINCE, Owner.NONE, False),
    ("PUT", "/units/{unit_id}/calendar-days/{day}"): R(
        SCHOOL_KEEPERS | {Role.PROVINCE_ADMIN}, Scope.UNIT, Owner.NONE, True
    ),
    ("DELETE", "/units/{unit_id}/calendar-days/{day}"): R(
        SCHOOL_KEEPERS | {Role.PROVINCE_ADMIN}, Scope.UNIT, Owner.NONE, True
    ),
    # A school's bells and its school days with their deadlines.
    ("GET", "/schools/{school_id}/bell-schedule"): R(SCHOOL_STAFF, Scope.SCHOOL, Owner.NONE, False),
    ("PUT", "/schools/{school_id}/bell-schedule"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True
    ),
    ("GET", "/schools/{school_id}/school-days"): R(SCHOOL_STAFF, Scope.SCHOOL, Owner.NONE, False),
    # Classes: their lists as attendance holds them, and the timetable.
    ("GET", "/classes"): R(CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False),
    ("GET", "/classes/{class_id}/timetable"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("PUT", "/classes/{class_id}/timetable"): R(SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True),
    # The roll call (R14): the homeroom teacher, or school software acting for them.
    ("GET", "/classes/{class_id}/roll-calls"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("GET", "/classes/{class_id}/roll-calls/{day}/{session}"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("PUT", "/classes/{class_id}/roll-calls/{day}/{session}"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.HOMEROOM, True
    ),
    ("GET", "/classes/{class_id}/roll-calls/{day}/{session}/history"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    # Amendments after the day wait for the school leader.
    ("GET", "/schools/{school_id}/amendments"): R(READERS, Scope.SCHOOL, Owner.NONE, False),
    ("POST", "/amendments/{amendment_id}/approve"): R(
        frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True
    ),
    ("POST", "/amendments/{amendment_id}/reject"): R(
        frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True
    ),
    # Per-period attendance by the teacher of the period (LC Đ11.1).
    ("GET", "/classes/{class_id}/periods/{day}/{period}"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("PUT", "/classes/{class_id}/periods/{day}/{period}"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.PERIOD_TEACHER, True
    ),
    # Month totals and their close (BP: monthly).
    ("GET", "/classes/{class_id}/months/{month}"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("POST", "/classes/{class_id}/months/{month}/close"): R(
        SCHOOL_KEEPERS | {Role.TEACHER}, Scope.SCHOOL, Owner.HOMEROOM, True
    ),
    # Compliance and absence rates for a school, a district (R7) or the province (R6).
    ("GET", "/reports/compliance"): R(READERS, Scope.UNIT, Owner.NONE, False),
    ("GET", "/reports/compliance.xlsx"): R(READERS, Scope.UNIT, Owner.NONE, False),
    ("GET", "/schools/{school_id}/absence-limit"): R(READERS, Scope.SCHOOL, Owner.NONE, False),
    ("GET", "/schools/{school_id}/absence-limit.xlsx"): R(READERS, Scope.SCHOOL, Owner.NONE, False),
}
del R
# Inspectors read, never write: checked once here rather than trusted to every row.
assert all(not (rule.roles & INSPECTORS) for rule in ENDPOINT_RULES.values() if rule.writes)


def rule(method: str, path: str) -> EndpointRule:
    return ENDPOINT_RULES[(method, path)]


def not_homeroom() -> Forbidden:
    return Forbidden(
        "Only the homeroom teacher of the class may do this",
        code="not-homeroom-teacher",
        title="Chỉ giáo viên chủ nhiệm của lớp được thực hiện",
    )


__all__ = ["ENDPOINT_RULES", "Actor", "EndpointRule", "Forbidden", "Owner", "Scope", "rule"]
