"""The org tree (R4): one province department, its district offices, and the schools.

Pure values and rules: a handler loads the units, builds an ``OrgTree`` (which checks every
rule at once) and asks it questions; nothing here touches a database.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from common.events.identity import OrgLevel
from identity.domain.errors import DomainError

OrgUnitId: TypeAlias = uuid.UUID
# The published events already name the three tiers; a unit's kind goes out as is.
OrgUnitKind: TypeAlias = OrgLevel

# Codes are what imports (Excel), reports and people type, so they are plain ASCII that survives
# spreadsheets and file names: upper-case letters and digits, in groups joined by single "-" or
# "_", at most 32 characters. The ministry's numeric codes ("79", "760", "79760401") fit, and so
# do local ones ("THPT-LE-LOI"). Input is trimmed and upper-cased before the check.
CODE_PATTERN: Final = re.compile(r"[A-Z0-9]+(?:[-_][A-Z0-9]+)*")
CODE_MAX_LENGTH: Final = 32
NAME_MAX_LENGTH: Final = 200


class SchoolLevel(StrEnum):
    """Cấp học or type of a school; a school has one or more."""

    PRESCHOOL = "preschool"  # mầm non
    PRIMARY = "primary"  # tiểu học
    LOWER_SECONDARY = "lower_secondary"  # trung học cơ sở (THCS)
    UPPER_SECONDARY = "upper_secondary"  # trung học phổ thông (THPT)
    MULTI_LEVEL = "multi_level"  # trường phổ thông có nhiều cấp học
    VOCATIONAL_CONTINUING_CENTRE = "vocational_continuing_centre"  # trung tâm GDNN-GDTX
    PROVINCIAL_CONTINUING_CENTRE = "provincial_continuing_centre"  # trung tâm GDTX tỉnh


GENERAL_LEVELS: Final = frozenset(
    {SchoolLevel.PRIMARY, SchoolLevel.LOWER_SECONDARY, SchoolLevel.UPPER_SECONDARY}
)
_STANDALONE_LEVELS: Final = frozenset(
    {
        SchoolLevel.PRESCHOOL,
        SchoolLevel.VOCATIONAL_CONTINUING_CENTRE,
        SchoolLevel.PROVINCIAL_CONTINUING_CENTRE,
    }
)


def normalise_code(raw: str) -> str:
    """The code trimmed and upper-cased; ``org_code_invalid`` if it does not fit the pattern."""
    code = raw.strip().upper()
    if len(code) > CODE_MAX_LENGTH or not CODE_PATTERN.fullmatch(code):
        raise DomainError(
            "org_code_invalid",
            "Mã đơn vị không hợp lệ",
            f"{raw!r}: letters A-Z and digits, groups joined by '-' or '_', "
            f"at most {CODE_MAX_LENGTH} characters",
        )
    return code


def normalise_name(raw: str) -> str:
    """The name in Unicode NFC, trimmed, with runs of whitespace as one space."""
    # NFC first: the same Vietnamese name typed on two keyboards (composed "ệ" vs "ê" plus a
    # combining dot) must compare and sort equal.
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise DomainError("org_name_empty", "Tên đơn vị không được để trống")
    if len(name) > NAME_MAX_LENGTH:
        raise DomainError(
            "org_name_too_long",
            "Tên đơn vị quá dài",
            f"at most {NAME_MAX_LENGTH} characters, got {len(name)}",
        )
    # Control and invisible format characters (zero-width space…) make look-alike names.
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in name):
        raise DomainError("org_name_invalid_character", "Tên đơn vị chứa ký tự không hợp lệ")
    return name


def check_school_levels(levels: frozenset[SchoolLevel]) -> None:
    """A school's levels must describe one kind of school."""
    general = levels & GENERAL_LEVELS
    standalone = levels & _STANDALONE_LEVELS
    problem = ""
    if not levels:
        problem = "a school has at least one level"
    elif standalone and len(levels) > 1:
        # Preschools and the two kinds of centre are separate institutions by law; a campus
        # that also teaches general levels is recorded as separate units.
        problem = "preschool and continuing-education centres are not combined with other levels"
    elif (SchoolLevel.MULTI_LEVEL in levels) != (len(general) >= 2):
        problem = "multi_level goes with two or more of primary, lower and upper secondary"
    if problem:
        raise DomainError("school_levels_invalid", "Cấp học của trường không hợp lệ", problem)


def parent_kinds_for(levels: frozenset[SchoolLevel]) -> frozenset[OrgUnitKind]:
    """Where a school with these levels may hang in the tree (R4)."""
    if SchoolLevel.UPPER_SECONDARY in levels or SchoolLevel.PROVINCIAL_CONTINUING_CENTRE in levels:
        # THPT and the provincial GDTX centre are managed by the department. A multi-level
        # school that includes upper secondary is managed by whoever manages its highest level,
        # so it hangs under the department too.
        return frozenset({OrgLevel.PROVINCE})
    if SchoolLevel.VOCATIONAL_CONTINUING_CENTRE in levels:
        # Assumed: GDNN-GDTX centres belong to their district in most provinces, but some
        # provinces have moved them under the department; both are accepted.
        return frozenset({OrgLevel.DISTRICT, OrgLevel.PROVINCE})
    return frozenset({OrgLevel.DISTRICT})


@dataclass(frozen=True, slots=True)
class OrgUnit:
    """A unit of the tree: the Sở GDĐT, a Phòng GDĐT or a school (trường / trung tâm).

    Code and name are normalised on construction; a unit that exists is well-formed on its own.
    Rules between units (parents, uniqueness) are checked by ``OrgTree.build``.
    """

    id: OrgUnitId
    kind: OrgUnitKind
    code: str
    name: str
    parent_id: OrgUnitId | None = None
    levels: frozenset[SchoolLevel] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", normalise_code(self.code))
        object.__setattr__(self, "name", normalise_name(self.name))
        object.__setattr__(self, "levels", frozenset(self.levels))
        if self.kind is OrgLevel.PROVINCE:
            if self.parent_id is not None:
                raise DomainError(
                    "org_parent_not_allowed", "Sở GDĐT không trực thuộc đơn vị nào", str(self.id)
                )
        elif self.parent_id is None:
            raise DomainError("org_parent_required", "Đơn vị phải có đơn vị cấp trên", str(self.id))
        if self.parent_id == self.id:
            raise DomainError("org_cycle", "Cây đơn vị có vòng lặp", f"{self.id} is its own parent")
        if self.kind is OrgLevel.SCHOOL:
            check_school_levels(self.levels)
        elif self.levels:
            raise DomainError(
                "org_levels_not_allowed", "Chỉ trường học mới có cấp học", str(self.id)
            )


@dataclass(frozen=True, slots=True)
class OrgScope:
    """The province / district / school ids an event about a unit carries."""

    level: OrgUnitKind
    province_id: OrgUnitId
    district_id: OrgUnitId | None
    school_id: OrgUnitId | None


OrgUnitRef: TypeAlias = OrgUnit | OrgUnitId


def _id(ref: OrgUnitRef) -> OrgUnitId:
    return ref.id if isinstance(ref, OrgUnit) else ref


class OrgTree:
    """A well-formed org tree; ``build`` is the only way to get one."""

    __slots__ = ("_children", "_units", "department")

    department: OrgUnit
    _units: dict[OrgUnitId, OrgUnit]
    _children: dict[OrgUnitId, tuple[OrgUnitId, ...]]

    def __init__(self, department: OrgUnit, units: dict[OrgUnitId, OrgUnit]) -> None:
        self.department = department
        self._units = units
        children: dict[OrgUnitId, list[OrgUnitId]] = {uid: [] for uid in units}
        for unit in units.values():
            if unit.parent_id is not None:
                children[unit.parent_id].append(unit.id)
        self._children = {uid: tuple(kids) for uid, kids in children.items()}

    @classmethod
    def build(cls, units: Iterable[OrgUnit]) -> OrgTree:
        """Check every rule between the units and return the tree, or raise ``DomainError``."""
        by_id: dict[OrgUnitId, OrgUnit] = {}
        by_code: dict[str, OrgUnit] = {}
        for unit in units:
            if unit.id in by_id:
                raise DomainError(
                    "org_unit_duplicate_id", "Trùng mã định danh đơn vị", str(unit.id)
                )
            if unit.code in by_code:
                raise DomainError("org_code_duplicate", "Mã đơn vị đã được dùng", unit.code)
            by_id[unit.id] = unit
            by_code[unit.code] = unit
        departments = [u for u in by_id.values() if u.kind is OrgLevel.PROVINCE]
        if not departments:
            raise DomainError("org_department_missing", "Chưa có Sở GDĐT")
        if len(departments) > 1:
            raise DomainError(
                "org_department_not_unique",
                "Mỗi hệ thống chỉ có một Sở GDĐT",
                ", ".join(u.code for u in departments),
            )
        for unit in by_id.values():
            if unit.parent_id is not None and unit.parent_id not in by_id:
                raise DomainError(
                    "org_unit_orphan",
                    "Không tìm thấy đơn vị cấp trên",
                    f"{unit.code}: parent {unit.parent_id} is not in the tree",
                )
        _check_acyclic(by_id)
        for unit in by_id.values():
            _check_placement(unit, by_id)
        return cls(departments[0], by_id)

    def with_unit(self, unit: OrgUnit) -> OrgTree:
        """The tree with ``unit`` added, every rule checked again."""
        return OrgTree.build([*self._units.values(), unit])

    @property
    def units(self) -> tuple[OrgUnit, ...]:
        return tuple(self._units.values())

    def __contains__(self, ref: object) -> bool:
        if isinstance(ref, OrgUnit):
            return self._units.get(ref.id) == ref
        return ref in self._units

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[OrgUnit]:
        return iter(self._units.values())

    def find(self, ref: OrgUnitRef) -> OrgUnit | None:
        return self._units.get(_id(ref))

    def get(self, ref: OrgUnitRef) -> OrgUnit:
        unit = self._units.get(_id(ref))
        if unit is None:
            raise DomainError("org_unit_unknown", "Không tìm thấy đơn vị", str(_id(ref)))
        return unit

    def by_code(self, code: str) -> OrgUnit:
        """The unit with ``code`` (normalised first, so " thpt-a " finds "THPT-A")."""
        wanted = code.strip().upper()
        for unit in self._units.values():
            if unit.code == wanted:
                return unit
        raise DomainError("org_unit_unknown", "Không tìm thấy đơn vị", wanted)

    def parent(self, ref: OrgUnitRef) -> OrgUnit | None:
        parent_id = self.get(ref).parent_id
        return None if parent_id is None else self._units[parent_id]

    def children(self, ref: OrgUnitRef) -> tuple[OrgUnit, ...]:
        return tuple(self._units[c] for c in self._children[self.get(ref).id])

    def ancestors(self, ref: OrgUnitRef) -> tuple[OrgUnit, ...]:
        """The units above, nearest first; the department last."""
        found: list[OrgUnit] = []
        parent = self.parent(ref)
        while parent is not None:
            found.append(parent)
            parent = self.parent(parent)
        return tuple(found)

    def descendants(self, ref: OrgUnitRef) -> tuple[OrgUnit, ...]:
        """Every unit below, depth first; not the unit itself."""
        found: list[OrgUnit] = []
        stack = list(reversed(self._children[self.get(ref).id]))
        while stack:
            unit = self._units[stack.pop()]
            found.append(unit)
            stack.extend(reversed(self._children[unit.id]))
        return tuple(found)

    def contains(self, scope: OrgUnitRef, ref: OrgUnitRef) -> bool:
        """Whether ``ref`` is ``scope`` or lies below it; a unit contains itself."""
        scope_id = self.get(scope).id
        unit = self.get(ref)
        return unit.id == scope_id or any(a.id == scope_id for a in self.ancestors(unit))

    def scope_of(self, ref: OrgUnitRef) -> OrgScope:
        """The ids an event about ``ref`` carries; district is None for department schools."""
        unit = self.get(ref)
        district = next(
            (u for u in (unit, *self.ancestors(unit)) if u.kind is OrgLevel.DISTRICT), None
        )
        return OrgScope(
            level=unit.kind,
            province_id=self.department.id,
            district_id=None if district is None else district.id,
            school_id=unit.id if unit.kind is OrgLevel.SCHOOL else None,
        )


def _check_acyclic(by_id: dict[OrgUnitId, OrgUnit]) -> None:
    reaches_root: set[OrgUnitId] = set()
    for start in by_id.values():
        path: list[OrgUnitId] = []
        on_path: set[OrgUnitId] = set()
        current: OrgUnit | None = start
        while current is not None and current.id not in reaches_root:
            if current.id in on_path:
                raise DomainError(
                    "org_cycle",
                    "Cây đơn vị có vòng lặp",
                    " → ".join(by_id[i].code for i in path),
                )
            path.append(current.id)
            on_path.add(current.id)
            current = None if current.parent_id is None else by_id[current.parent_id]
        reaches_root.update(path)


def _check_placement(unit: OrgUnit, by_id: dict[OrgUnitId, OrgUnit]) -> None:
    if unit.parent_id is None:
        return
    parent = by_id[unit.parent_id]
    if unit.kind is OrgLevel.DISTRICT and parent.kind is not OrgLevel.PROVINCE:
        raise DomainError(
            "org_district_misplaced",
            "Phòng GDĐT phải trực thuộc Sở GDĐT",
            f"{unit.code} under {parent.code}",
        )
    if unit.kind is OrgLevel.SCHOOL and parent.kind not in parent_kinds_for(unit.levels):
        raise DomainError(
            "org_school_misplaced",
            "Trường không được đặt dưới đơn vị này",
            f"{unit.code} ({', '.join(sorted(unit.levels))}) under {parent.kind} {parent.code}",
        )
