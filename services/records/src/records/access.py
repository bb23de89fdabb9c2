"""Who may call what in records: the role at a scope, then the resource owner's own check.

The token's grants say which role the caller holds at which org unit; records' copy of the org
tree says which district and province a school lies in, so a grant at the district office or the
department covers the school. On top of the role, records knows who teaches which subject in
which class this term (R24) and who is the homeroom teacher of a class (R13, R17).

``ENDPOINT_RULES`` is the one table of it: each route's roles and which owner check follows.
Routes read their row from it; the authorization-matrix test generates its cases from it, and a
route without a row fails that test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from common.access import Actor as PersonActor
from common.access import Forbidden
from common.events.identity import Role
from records.models import OrgUnitRow

SCHOOL_KEEPERS: Final = frozenset({Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN})
SUPERVISORS: Final = frozenset(
    {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}
)
INSPECTORS: Final = frozenset({Role.PROVINCE_INSPECTOR, Role.DISTRICT_INSPECTOR})
READERS: Final = SUPERVISORS | SCHOOL_KEEPERS
# Teachers read what they teach or lead (Owner.TEACHER_OF_CLASS), not the whole school.
CLASS_READERS: Final = READERS | {Role.TEACHER}
# The archive's platform client (archivist at the province, acting for the leader who locked):
# reads a locked class's snapshot and what rendering it needs of the class (its row, its
# teachers as signers), never a student's profile, never a write. The owner checks bind
# teachers only, so it reads every class of the province like a reader.
RENDERERS: Final = CLASS_READERS | {Role.ARCHIVIST}
# Includes the archivist: the calendar, the curriculum and the rule sets name what a document
# shows (the other rows open to every role, a blank template and the caller's own
# assignments, give it nothing of a school's).
ANY_ROLE: Final = frozenset(Role)


class Owner(StrEnum):
    """The resource owner's check that follows the role check."""

    NONE = "none"
    # Teachers must teach a subject in the class or be its homeroom teacher; other roles pass.
    TEACHER_OF_CLASS = "teacher_of_class"
    # Only the teacher assigned to the sheet's subject and term (R24), or for the conduct and
    # qualities sheets the homeroom teacher; nobody else writes a sheet, not even the leader.
    SHEET_WRITER = "sheet_writer"
    # Only the class's homeroom teacher (R13 profiles and R17 confirmation); keepers too where
    # the row's roles include them.
    HOMEROOM = "homeroom"


class Scope(StrEnum):
    """Where the role must be held."""

    PROVINCE = "province"  # the province the resource belongs to (calendar, curriculum)
    SCHOOL = "school"  # the school the resource belongs to (by grant at it or above it)
    UNIT = "unit"  # the district office or department the request names (inspection windows)
    MINE = "mine"  # the caller's own things; any grant at all


class LockScope(StrEnum):
    """What a write route is refused for while a lock holds (``handlers.locks``)."""

    NONE = "none"  # reads; the department's calendar; locks themselves; the correction workflow
    SCHOOL = "school"  # a school's data with no period: refused by inspection windows, year locks
    PERIOD = "period"  # a period's data: refused by the lock of that period too


@dataclass(frozen=True, slots=True)
class EndpointRule:
    roles: frozenset[Role]
    scope: Scope
    owner: Owner
    writes: bool
    lock: LockScope = LockScope.NONE


R = EndpointRule
ENDPOINT_RULES: Final[dict[tuple[str, str], EndpointRule]] = {
    # Calendar and curriculum: the department's (R32 rules updated promptly, per province).
    ("POST", "/school-years"): R(
        frozenset({Role.PROVINCE_ADMIN}), Scope.PROVINCE, Owner.NONE, True
    ),
    ("GET", "/school-years"): R(ANY_ROLE, Scope.MINE, Owner.NONE, False),
    ("GET", "/school-years/{year_id}"): R(ANY_ROLE, Scope.PROVINCE, Owner.NONE, False),
    ("GET", "/school-years/{year_id}/curriculum"): R(ANY_ROLE, Scope.PROVINCE, Owner.NONE, False),
    ("PUT", "/school-years/{year_id}/curriculum/{grade}/{code}"): R(
        frozenset({Role.PROVINCE_ADMIN}), Scope.PROVINCE, Owner.NONE, True
    ),
    ("GET", "/rule-sets"): R(ANY_ROLE, Scope.MINE, Owner.NONE, False),
    # Classes, students, movements, assignments: the school's admin board (R9, R24, R35).
    ("POST", "/classes"): R(SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True, LockScope.SCHOOL),
    ("GET", "/classes"): R(RENDERERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False),
    ("GET", "/classes/{class_id}"): R(RENDERERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False),
    ("PATCH", "/classes/{class_id}"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True, LockScope.SCHOOL
    ),
    ("GET", "/classes/{class_id}/students"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("POST", "/classes/{class_id}/students"): R(
        SCHOOL_KEEPERS | {Role.TEACHER}, Scope.SCHOOL, Owner.HOMEROOM, True, LockScope.SCHOOL
    ),
    ("GET", "/classes/{class_id}/students.xlsx"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("POST", "/classes/{class_id}/students/import"): R(
        SCHOOL_KEEPERS | {Role.TEACHER}, Scope.SCHOOL, Owner.HOMEROOM, True, LockScope.SCHOOL
    ),
    ("GET", "/templates/class-list.xlsx"): R(ANY_ROLE, Scope.MINE, Owner.NONE, False),
    ("GET", "/students/{student_id}"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("PATCH", "/students/{student_id}"): R(
        SCHOOL_KEEPERS | {Role.TEACHER}, Scope.SCHOOL, Owner.HOMEROOM, True, LockScope.SCHOOL
    ),
    ("GET", "/students/{student_id}/history"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("POST", "/students/{student_id}/movements"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True, LockScope.SCHOOL
    ),
    ("GET", "/students/{student_id}/results"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("GET", "/classes/{class_id}/assignments"): R(
        RENDERERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("PUT", "/classes/{class_id}/assignments/{subject}/{term}"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True, LockScope.PERIOD
    ),
    ("DELETE", "/classes/{class_id}/assignments/{subject}/{term}"): R(
        SCHOOL_KEEPERS, Scope.SCHOOL, Owner.NONE, True, LockScope.PERIOD
    ),
    ("GET", "/assignments/mine"): R(ANY_ROLE, Scope.MINE, Owner.NONE, False),
    # Sheets: read by whoever reads the class; written only by the assigned teacher (R24).
    ("GET", "/classes/{class_id}/sheets/{sheet}/{period}"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("PATCH", "/classes/{class_id}/sheets/{sheet}/{period}"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.SHEET_WRITER, True, LockScope.PERIOD
    ),
    ("GET", "/classes/{class_id}/sheets/{sheet}/{period}/xlsx"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("POST", "/classes/{class_id}/sheets/{sheet}/{period}/import"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.SHEET_WRITER, True, LockScope.PERIOD
    ),
    ("PUT", "/classes/{class_id}/absences/{student_id}"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.HOMEROOM, True, LockScope.PERIOD
    ),
    # Results: computed on read; confirmed by the homeroom teacher (R17), approved by a leader.
    ("GET", "/classes/{class_id}/results/{period}"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("POST", "/classes/{class_id}/results/{period}/confirm"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.HOMEROOM, True, LockScope.PERIOD
    ),
    ("POST", "/classes/{class_id}/results/{period}/approve"): R(
        frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True, LockScope.PERIOD
    ),
    # Locks (R10, R34, R37) and inspection windows (R31); snapshots are what was locked.
    ("POST", "/locks"): R(frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True),
    ("POST", "/locks/{lock_id}/reopen"): R(
        frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True
    ),
    ("GET", "/locks"): R(CLASS_READERS, Scope.SCHOOL, Owner.NONE, False),
    ("POST", "/inspection-windows"): R(
        frozenset({Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN}), Scope.UNIT, Owner.NONE, True
    ),
    ("POST", "/inspection-windows/{lock_id}/close"): R(
        frozenset({Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN}), Scope.UNIT, Owner.NONE, True
    ),
    ("GET", "/classes/{class_id}/snapshots/{period}"): R(
        RENDERERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    # Corrections (R27): filed by the sheet's teacher, permitted by a leader, witnessed by an
    # admin-board member and the homeroom teacher; each step's own checks are the handler's.
    ("POST", "/corrections"): R(frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.SHEET_WRITER, True),
    ("GET", "/corrections"): R(CLASS_READERS, Scope.SCHOOL, Owner.NONE, False),
    ("GET", "/corrections/{correction_id}"): R(CLASS_READERS, Scope.SCHOOL, Owner.NONE, False),
    ("PUT", "/corrections/{correction_id}/evidence"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.NONE, True
    ),
    ("GET", "/corrections/{correction_id}/evidence"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.NONE, False
    ),
    ("POST", "/corrections/{correction_id}/permit"): R(
        frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True
    ),
    ("POST", "/corrections/{correction_id}/reject"): R(
        frozenset({Role.SCHOOL_LEADER}), Scope.SCHOOL, Owner.NONE, True
    ),
    ("POST", "/corrections/{correction_id}/witness"): R(
        SCHOOL_KEEPERS | {Role.TEACHER}, Scope.SCHOOL, Owner.NONE, True
    ),
    ("POST", "/corrections/{correction_id}/withdraw"): R(
        frozenset({Role.TEACHER}), Scope.SCHOOL, Owner.NONE, True
    ),
    # Edit forensics: who changed what, when, how, and what it did to the results.
    ("GET", "/classes/{class_id}/forensics"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("GET", "/classes/{class_id}/forensics.xlsx"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    ("GET", "/students/{student_id}/forensics"): R(
        CLASS_READERS, Scope.SCHOOL, Owner.TEACHER_OF_CLASS, False
    ),
    # The audit chain (R5): anyone who reads the school may verify it.
    ("GET", "/schools/{school_id}/audit"): R(READERS, Scope.SCHOOL, Owner.NONE, False),
    ("GET", "/schools/{school_id}/audit/verify"): R(READERS, Scope.SCHOOL, Owner.NONE, False),
    # Progress of entry (R11, R26) for a school, a district (R7) or the province (R6).
    ("GET", "/progress"): R(READERS, Scope.UNIT, Owner.NONE, False),
    ("GET", "/progress.xlsx"): R(READERS, Scope.UNIT, Owner.NONE, False),
}
del R
# Inspectors read, never write: checked once here rather than trusted to every row.
assert all(not (rule.roles & INSPECTORS) for rule in ENDPOINT_RULES.values() if rule.writes)
# Nor does the archive's platform client write anything in records.
assert all(Role.ARCHIVIST not in rule.roles for rule in ENDPOINT_RULES.values() if rule.writes)
# A read is never refused for a lock; a write says what a lock refuses it for.
assert all(rule.lock is LockScope.NONE for rule in ENDPOINT_RULES.values() if not rule.writes)


@dataclass(frozen=True, slots=True)
class Actor(PersonActor):
    """The caller as records sees them: ``common.access.Actor`` with records' rule rows."""

    def check(self, rule: EndpointRule, unit: OrgUnitRow) -> frozenset[Role]:
        """The caller's roles at ``unit`` that the rule admits; 403 when there are none."""
        return self.require(rule.roles, unit, writes=rule.writes)

    def any_grant(self) -> bool:
        return bool(self.principal.grants)


def rule(method: str, path: str) -> EndpointRule:
    return ENDPOINT_RULES[(method, path)]


__all__ = [
    "ENDPOINT_RULES",
    "Actor",
    "EndpointRule",
    "Forbidden",
    "LockScope",
    "Owner",
    "Scope",
    "rule",
]
