"""A records snapshot as the renderer reads it (records ``SnapshotRead``, tolerant reader).

The records service locks a term and keeps an immutable snapshot per class and period: the
students, the period's cells (``sheet``/``period``/``column`` → canonical value) and every
finding its rule set computed. ``Snapshot`` is the API's answer; ``parse`` checks its hash and
gives the typed ``SnapshotData`` with per-student lookups.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from functools import cached_property
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.vietnamese import sorted_by_name

Period = Literal["term_1", "term_2", "year"]
PRIMARY_GRADES: Final = range(1, 6)


class SnapshotIntegrityError(ValueError):
    """The snapshot's data does not hash to its ``data_sha256``: it is not what records locked."""


def canonical_json(value: Any) -> bytes:
    """Records' canonical form (``records.audit.canonical``): sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Snapshot(_Model):
    """``GET /api/v1/classes/{class_id}/snapshots/{period}`` of records."""

    class_id: uuid.UUID
    period: Period
    version: int
    data_sha256: str
    data: dict[str, Any]
    lock_id: uuid.UUID | None = None
    correction_id: uuid.UUID | None = None
    created_at: datetime | None = None


class Cell(_Model):
    sheet: str
    period: str
    column: str
    value: str


class Finding(_Model):
    key: str
    value: str | None
    label_vi: str
    clause: str = ""
    inputs: dict[str, str | None] = Field(default_factory=dict)
    reason_vi: str = ""


class ClassRef(_Model):
    id: uuid.UUID
    name: str
    grade: int
    school_id: uuid.UUID


class StudentRecord(_Model):
    student_id: uuid.UUID
    full_name: str
    date_of_birth: date | None = None
    gender: str | None = None
    student_code: str | None = None
    in_class_at_end: bool = True
    cells: tuple[Cell, ...] = ()
    findings: tuple[Finding, ...] = ()

    @cached_property
    def _cells(self) -> Mapping[tuple[str, str, str], str]:
        return {(c.sheet, c.period, c.column): c.value for c in self.cells}

    @cached_property
    def _findings(self) -> Mapping[str, Finding]:
        return {f.key: f for f in self.findings}

    def cell(self, sheet: str, period: str, column: str) -> str | None:
        return self._cells.get((sheet, period, column))

    def finding(self, key: str) -> Finding | None:
        return self._findings.get(key)

    def value(self, key: str) -> str | None:
        """The finding's result code; None when it is absent or was pending at the lock."""
        found = self._findings.get(key)
        return None if found is None else found.value

    def label(self, key: str) -> str:
        """The finding's Vietnamese label; blank when there is no result (not "pending")."""
        found = self._findings.get(key)
        return "" if found is None or found.value is None else found.label_vi


class SnapshotData(_Model):
    class_: ClassRef = Field(alias="class")
    school_year: str
    period: Period
    version: int
    rule_set: str | None = None
    rule_version: str | None = None
    students: tuple[StudentRecord, ...] = ()

    @property
    def primary(self) -> bool:
        return self.class_.grade in PRIMARY_GRADES

    def in_name_order(self) -> list[StudentRecord]:
        """The class list order: given name, family name, middle names (common.vietnamese)."""
        return sorted_by_name(self.students, lambda s: s.full_name)

    def student(self, student_id: uuid.UUID) -> StudentRecord:
        for student in self.students:
            if student.student_id == student_id:
                return student
        raise KeyError(f"student {student_id} is not in the snapshot of class {self.class_.id}")

    def raw_student(self, raw: Mapping[str, Any], student_id: uuid.UUID) -> dict[str, Any]:
        """The student's entry of the raw ``data`` (for the twin, byte for byte as locked)."""
        for entry in raw["students"]:
            if entry["student_id"] == str(student_id):
                return dict(entry)
        raise KeyError(f"student {student_id} is not in the snapshot")


def parse(snapshot: Snapshot) -> SnapshotData:
    """The typed data, once its hash is checked against ``data_sha256``."""
    actual = sha256_hex(canonical_json(snapshot.data))
    if actual != snapshot.data_sha256:
        raise SnapshotIntegrityError(
            f"snapshot {snapshot.class_id}/{snapshot.period} v{snapshot.version} hashes to "
            f"{actual}, not {snapshot.data_sha256}"
        )
    return SnapshotData.model_validate(snapshot.data)
