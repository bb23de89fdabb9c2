"""Term locks (khóa sổ, R10 R34 R37), inspection windows (R31) and locked snapshots.

Every write path asks ``ensure_writable`` before it changes anything; what each route may be
refused for is its ``EndpointRule.lock`` (``records.access``), and a test generated from the
route table proves every write route refuses while its scope is locked.

A term lock covers a period of a school year for the whole school or chosen classes: ``term_1``
covers term 1's sheets and the primary checkpoints in it, ``term_2`` likewise, ``year`` covers
everything of the year, summer included. An inspection window makes every school under its unit
read-only between its two times. Locking takes a snapshot of each class's results: an immutable,
versioned read (what the archive renders and inspectors read); a correction adds a version.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from common.errors import Problem
from common.events.records import ReopenReason, Term, TermLocked, TermReopened
from records.access import Actor, rule
from records.audit import canonical, jsonable
from records.domain.curriculum import Period
from records.domain.errors import DomainError
from records.handlers.base import (
    audit,
    class_of,
    conflict,
    not_found,
    school_unit,
    utcnow,
    year_of,
)
from records.models import (
    ClassRow,
    LockRow,
    OrgUnitRow,
    SnapshotCounterRow,
    SnapshotRow,
)
from records.uow import RecordsUnitOfWork

TERM_NAMESPACE: Final = uuid.UUID("0b4a3c52-93f1-5a8e-8d2c-6f1e7b9a2d44")
MAX_WINDOW: Final = timedelta(days=92)

# Which sheet periods a lock of a period covers.
_COVERS: Final[dict[str, frozenset[str]]] = {
    "term_1": frozenset({"term_1", "mid_term_1", "end_term_1"}),
    "term_2": frozenset({"term_2", "mid_term_2", "end_year"}),
    "year": frozenset(p.value for p in Period) | {"term_1", "term_2", "year"},
}


def covered_periods(lock_period: str | None) -> frozenset[str]:
    return _COVERS["year"] if lock_period is None else _COVERS[lock_period]


def term_id(school_id: uuid.UUID, year_id: uuid.UUID, period: str) -> uuid.UUID:
    """The stable id of a school's term (or year) in records: the subject of its lock events."""
    return uuid.uuid5(TERM_NAMESPACE, f"{school_id}:{year_id}:{period}")


class ScopeLocked(Problem):
    """423: the write falls in a locked scope; the answer says which lock, since when, by whom."""

    def __init__(self, lock: LockRow) -> None:
        inspection = lock.kind == "inspection"
        super().__init__(
            423,
            "scope-locked",
            "Dữ liệu đang trong thời gian kiểm tra, chỉ được xem"
            if inspection
            else "Dữ liệu đã khóa sổ; sửa sai sót theo quy trình điều chỉnh",
            f"{'An inspection window' if inspection else 'A term lock'} covers this write",
            extensions={
                "lock": {
                    "id": str(lock.id),
                    "kind": lock.kind,
                    "period": lock.period,
                    "classes": [str(c) for c in lock.class_ids] if lock.class_ids else None,
                    "since": lock.starts_at.isoformat(),
                    "until": lock.ends_at.isoformat() if lock.ends_at else None,
                    "by": str(lock.created_by),
                    "reason": lock.reason,
                }
            },
        )


async def live_locks(
    uow: RecordsUnitOfWork, school: OrgUnitRow, year_id: uuid.UUID | None, at: datetime
) -> Sequence[LockRow]:
    """Term locks of the school (of the year, when given) and inspection windows over it."""
    scopes = [school.id, school.province_id] + ([school.district_id] if school.district_id else [])
    # Without a year, no term lock applies (a write with no year touches no term's data).
    term = and_(
        LockRow.kind == "term", LockRow.school_id == school.id, LockRow.school_year_id == year_id
    )
    inspection = and_(
        LockRow.kind == "inspection",
        LockRow.scope_unit_id.in_(scopes),
        LockRow.starts_at <= at,
        or_(LockRow.ends_at.is_(None), LockRow.ends_at > at),
    )
    rows = await uow.records.session.scalars(
        select(LockRow)
        .where(LockRow.reopened_at.is_(None), or_(term, inspection))
        .order_by(LockRow.created_at)
    )
    return rows.all()


async def ensure_writable(
    uow: RecordsUnitOfWork,
    school: OrgUnitRow,
    *,
    year_id: uuid.UUID | None,
    class_id: uuid.UUID | None = None,
    periods: Iterable[str] | None = None,
    at: datetime | None = None,
) -> None:
    """Refuse (423) a write into a locked scope.

    ``periods``: the sheet or result periods the write touches; ``None`` for writes that touch
    the school's data but no period (profiles, classes), which only inspection windows and year
    locks refuse.
    """
    at = at or utcnow()
    touched = None if periods is None else frozenset(periods)
    for lock in await live_locks(uow, school, year_id, at):
        if lock.kind == "inspection":
            raise ScopeLocked(lock)
        # A lock of chosen classes holds only for writes into those classes.
        if lock.class_ids and (class_id is None or class_id not in lock.class_ids):
            continue
        if touched is None:
            if lock.period == "year":
                raise ScopeLocked(lock)
            continue
        if touched & covered_periods(lock.period):
            raise ScopeLocked(lock)


async def ensure_class_writable(
    uow: RecordsUnitOfWork, row: ClassRow, periods: Iterable[str] | None = None
) -> None:
    school = await school_unit(uow, row.school_id)
    await ensure_writable(uow, school, year_id=row.school_year_id, class_id=row.id, periods=periods)


async def year_locked_classes(
    uow: RecordsUnitOfWork, year_id: uuid.UUID, classes: Iterable[ClassRow]
) -> set[uuid.UUID]:
    """The classes among ``classes`` whose year results a live term lock of the year holds.

    What a lock of ``year`` refuses a manual write of absence days for; the attendance consumer
    asks the same question before it moves a year's totals. Inspection windows are left out on
    purpose: they pass, and nothing would bring the totals up to date when one ends.
    """
    by_id = {c.id: c for c in classes}
    if not by_id:
        return set()
    locks = await uow.records.session.scalars(
        select(LockRow).where(
            LockRow.kind == "term",
            LockRow.school_year_id == year_id,
            LockRow.reopened_at.is_(None),
            LockRow.school_id.in_({c.school_id for c in by_id.values()}),
        )
    )
    held: set[uuid.UUID] = set()
    for lock in locks:
        if "year" not in covered_periods(lock.period):
            continue
        for class_row in by_id.values():
            if class_row.school_id == lock.school_id and (
                not lock.class_ids or class_row.id in lock.class_ids
            ):
                held.add(class_row.id)
    return held


# --- snapshots


async def next_snapshot(
    uow: RecordsUnitOfWork, school_id: uuid.UUID, year_id: uuid.UUID, period: str
) -> int:
    statement = pg_insert(SnapshotCounterRow).values(
        school_id=school_id, school_year_id=year_id, period=period, version=1
    )
    version = await uow.records.session.scalar(
        statement.on_conflict_do_update(
            index_elements=[
                SnapshotCounterRow.school_id,
                SnapshotCounterRow.school_year_id,
                SnapshotCounterRow.period,
            ],
            set_={"version": SnapshotCounterRow.version + 1},
        ).returning(SnapshotCounterRow.version)
    )
    assert version is not None
    return int(version)


def _student_snapshot(outcome: Any, period: str) -> dict[str, Any]:
    """One student's row of a snapshot: who, the period's cells, every finding explained."""
    return {
        "student_id": str(outcome.student.id),
        "full_name": outcome.student.full_name,
        "date_of_birth": outcome.student.date_of_birth.isoformat(),
        "gender": outcome.student.gender,
        "student_code": outcome.student.student_code,
        "in_class_at_end": outcome.enrolled_at_end,
        "cells": [
            {"sheet": k[0], "period": k[1], "column": k[2], "value": v}
            for k, v in sorted(outcome.cells.items())
            if k[1] in covered_periods(period)
        ],
        "findings": [
            {
                "key": f.key,
                "value": f.value,
                "label_vi": f.label_vi,
                "clause": f.clause,
                "inputs": dict(f.inputs),
                "reason_vi": f.reason_vi,
            }
            for f in outcome.results.findings
        ],
    }


async def take_snapshot(
    uow: RecordsUnitOfWork,
    row: ClassRow,
    period: str,
    version: int,
    *,
    lock_id: uuid.UUID | None,
    correction_id: uuid.UUID | None,
    options: Any,
) -> SnapshotRow:
    """The class's results for ``period`` as they are now, with the cells they came from."""
    from common.events.records import ResultPeriod  # noqa: PLC0415
    from records.handlers.results import compute_class_results  # noqa: PLC0415

    results = await compute_class_results(uow, row, ResultPeriod(period), options)
    year = results.year
    students = [_student_snapshot(outcome, period) for outcome in results.students]
    data = jsonable(
        {
            "class": {
                "id": row.id,
                "name": row.name,
                "grade": row.grade,
                "school_id": row.school_id,
            },
            "school_year": year.code,
            "period": period,
            "version": version,
            "data_version": row.data_version,
            "rule_set": results.students[0].results.rule_set if results.students else None,
            "rule_version": results.students[0].results.rule_version if results.students else None,
            "students": students,
        }
    )
    snapshot = SnapshotRow(
        id=uuid.uuid4(),
        class_id=row.id,
        school_id=row.school_id,
        school_year_id=row.school_year_id,
        period=period,
        version=version,
        lock_id=lock_id,
        correction_id=correction_id,
        created_at=utcnow(),
        data=data,
        data_sha256=hashlib.sha256(canonical(data)).hexdigest(),
    )
    uow.records.add(snapshot)
    return snapshot


# --- locking and reopening


@dataclass(frozen=True, slots=True)
class LockTerm:
    school_id: uuid.UUID
    school_year_id: uuid.UUID
    period: Term
    class_ids: tuple[uuid.UUID, ...] | None = None
    reason: str | None = None


async def lock_term(uow: RecordsUnitOfWork, actor: Actor, cmd: LockTerm, options: Any) -> LockRow:
    """The leader locks a term or the year once every class's results are approved (R12)."""
    async with uow:
        school = await school_unit(uow, cmd.school_id)
        actor.check(rule("POST", "/locks"), school)
        year = await year_of(uow, cmd.school_year_id)
        all_classes = await uow.records.classes(school.id, year.id, None)
        if cmd.class_ids is not None:
            by_id = {c.id: c for c in all_classes}
            missing = [c for c in cmd.class_ids if c not in by_id]
            if missing:
                raise not_found("Class of this school and year", missing[0])
            classes = [by_id[c] for c in dict.fromkeys(cmd.class_ids)]
        else:
            classes = list(all_classes)
        if not classes:
            raise DomainError("nothing-to-lock", "Không có lớp nào để khóa sổ", "no classes")
        now = utcnow()
        period = cmd.period.value
        for lock in await live_locks(uow, school, year.id, now):
            if (
                lock.kind == "term"
                and covered_periods(period) & covered_periods(lock.period)
                and (lock.class_ids is None or {c.id for c in classes} & set(lock.class_ids))
            ):
                raise conflict(
                    "already-locked",
                    "Đã khóa sổ",
                    f"lock {lock.id} already covers some of these classes",
                    lock_id=str(lock.id),
                )
        unapproved = []
        for row in classes:
            review = await uow.records.live_review(row.id, period)
            if review is None or review.approved_at is None:
                unapproved.append(str(row.id))
        if unapproved:
            raise conflict(
                "results-not-approved",
                "Kết quả của lớp chưa được xác nhận và phê duyệt",
                f"{len(unapproved)} class(es) without approved {period} results",
                classes=unapproved,
            )
        person = actor.person()
        version = await next_snapshot(uow, school.id, year.id, period)
        lock = LockRow(
            id=uuid.uuid4(),
            kind="term",
            scope_unit_id=school.id,
            school_id=school.id,
            school_year_id=year.id,
            period=period,
            class_ids=None if cmd.class_ids is None else [c.id for c in classes],
            reason=cmd.reason,
            created_by=person,
            created_at=now,
            starts_at=now,
            snapshot=version,
        )
        uow.records.add(lock)
        await uow.records.flush()
        for row in classes:
            await take_snapshot(
                uow, row, period, version, lock_id=lock.id, correction_id=None, options=options
            )
        head = await audit(
            uow,
            actor,
            school.id,
            "lock.created",
            lock.id,
            {
                "period": period,
                "school_year": year.code,
                "classes": [c.id for c in classes],
                "snapshot": version,
                "reason": cmd.reason,
            },
            at=now,
        )
        lock.audit_head = head
        uow.emit(
            TermLocked(
                term_id=term_id(school.id, year.id, period),
                school_id=school.id,
                district_id=school.district_id,
                province_id=school.province_id,
                school_year=year.code,
                term=cmd.period,
                snapshot=version,
                class_ids=tuple(c.id for c in classes),
                locked_at=now,
                locked_by=person,
                lock_id=lock.id,
                audit_head=head,
            )
        )
        await uow.commit()
        return lock


async def reopen_lock(
    uow: RecordsUnitOfWork, actor: Actor, lock_id: uuid.UUID, reason: str, *, kind: str
) -> LockRow:
    """The leader reopens a term lock with a reason (R10); an admin ends an inspection window."""
    async with uow:
        lock = await uow.records.session.scalar(
            select(LockRow).where(LockRow.id == lock_id).with_for_update()
        )
        if lock is None or lock.kind != kind:
            raise not_found("Lock" if kind == "term" else "Inspection window", lock_id)
        unit = await uow.records.org_unit(lock.scope_unit_id)
        if unit is None:
            raise not_found("Unit", lock.scope_unit_id)
        route = (
            ("POST", "/locks/{lock_id}/reopen")
            if lock.kind == "term"
            else ("POST", "/inspection-windows/{lock_id}/close")
        )
        actor.check(rule(*route), unit)
        if lock.reopened_at is not None:
            raise conflict("already-reopened", "Đã mở khóa", f"reopened at {lock.reopened_at}")
        now = utcnow()
        lock.reopened_at, lock.reopened_by, lock.reopen_reason = now, actor.person(), reason
        schools = [lock.school_id] if lock.school_id else []
        for school_id in schools:
            await audit(uow, actor, school_id, "lock.reopened", lock.id, {"reason": reason}, at=now)
        if lock.kind == "term":
            assert lock.school_id is not None
            assert lock.school_year_id is not None
            assert lock.period is not None
            assert lock.snapshot is not None
            school = await school_unit(uow, lock.school_id)
            year = await year_of(uow, lock.school_year_id)
            if "year" in covered_periods(lock.period):
                await _catch_up_absences(uow, lock, now)
            uow.emit(
                TermReopened(
                    term_id=term_id(school.id, year.id, lock.period),
                    school_id=school.id,
                    district_id=school.district_id,
                    province_id=school.province_id,
                    school_year=year.code,
                    term=Term(lock.period),
                    reason=ReopenReason.SCHOOL_DECISION,
                    previous_snapshot=lock.snapshot,
                    reopened_at=now,
                    reopened_until=None,
                    reopened_by=lock.reopened_by,
                )
            )
        await uow.commit()
        return lock


async def _catch_up_absences(uow: RecordsUnitOfWork, lock: LockRow, at: datetime) -> None:
    """Months attendance closed while the year was locked now reach the year's totals."""
    from records.handlers.attendance import catch_up_after_reopen  # noqa: PLC0415 - uses locks

    assert lock.school_id is not None
    assert lock.school_year_id is not None
    await uow.records.flush()  # the reopening must be seen by the lock check
    updated = await catch_up_after_reopen(
        uow, lock.school_id, lock.school_year_id, lock.class_ids or None
    )
    if updated:
        await audit(
            uow,
            None,
            lock.school_id,
            "absences.caught_up",
            lock.id,
            {"students": sorted(updated, key=str)},
            at=at,
        )


@dataclass(frozen=True, slots=True)
class OpenInspection:
    unit_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    reason: str


async def open_inspection(uow: RecordsUnitOfWork, actor: Actor, cmd: OpenInspection) -> LockRow:
    """A province or district admin freezes its schools' data to inspect it (R31)."""
    if not cmd.starts_at < cmd.ends_at or cmd.ends_at - cmd.starts_at > MAX_WINDOW:
        raise DomainError(
            "window-invalid",
            "Thời gian kiểm tra không hợp lệ",
            f"a window ends after it starts and lasts at most {MAX_WINDOW.days} days",
        )
    async with uow:
        unit = await uow.records.org_unit(cmd.unit_id)
        if unit is None or unit.kind == "school":
            raise not_found("District or department", cmd.unit_id)
        actor.check(rule("POST", "/inspection-windows"), unit)
        now = utcnow()
        window = LockRow(
            id=uuid.uuid4(),
            kind="inspection",
            scope_unit_id=unit.id,
            school_id=None,
            school_year_id=None,
            period=None,
            class_ids=None,
            reason=cmd.reason,
            created_by=actor.person(),
            created_at=now,
            starts_at=cmd.starts_at,
            ends_at=cmd.ends_at,
        )
        uow.records.add(window)
        await uow.commit()
        return window


async def locks_of(
    uow: RecordsUnitOfWork, actor: Actor, school_id: uuid.UUID
) -> tuple[OrgUnitRow, Sequence[LockRow]]:
    """Every lock of a school and every window over it, live or not, newest first."""
    async with uow:
        school = await school_unit(uow, school_id)
        actor.check(rule("GET", "/locks"), school)
        scopes = [school.id, school.province_id] + (
            [school.district_id] if school.district_id else []
        )
        rows = await uow.records.session.scalars(
            select(LockRow)
            .where(
                or_(
                    LockRow.school_id == school.id,
                    and_(LockRow.kind == "inspection", LockRow.scope_unit_id.in_(scopes)),
                )
            )
            .order_by(LockRow.created_at.desc())
        )
        return school, rows.all()


async def snapshot_of(
    uow: RecordsUnitOfWork,
    actor: Actor,
    class_id: uuid.UUID,
    period: str,
    version: int | None,
) -> tuple[SnapshotRow, list[int]]:
    """A class's locked results for a period: the given version, or the latest."""
    from records.handlers.base import authorize_class  # noqa: PLC0415

    async with uow:
        row = await class_of(uow, class_id)
        await authorize_class(
            uow, actor, rule("GET", "/classes/{class_id}/snapshots/{period}"), row
        )
        versions = list(
            (
                await uow.records.session.scalars(
                    select(SnapshotRow.version)
                    .where(SnapshotRow.class_id == row.id, SnapshotRow.period == period)
                    .order_by(SnapshotRow.version)
                )
            ).all()
        )
        if not versions:
            raise Problem(404, "no-snapshot", "Lớp chưa có dữ liệu khóa sổ cho kỳ này", period)
        wanted = versions[-1] if version is None else version
        snapshot = await uow.records.session.scalar(
            select(SnapshotRow).where(
                SnapshotRow.class_id == row.id,
                SnapshotRow.period == period,
                SnapshotRow.version == wanted,
            )
        )
        if snapshot is None:
            raise Problem(404, "no-snapshot", "Không có phiên bản này", f"version {wanted}")
        return snapshot, versions
