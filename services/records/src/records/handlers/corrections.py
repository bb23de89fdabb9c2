"""Corrections of entry errors in locked terms (điều chỉnh sai sót, R27; DOMAIN §1.11).

A teacher who writes a sheet files a request on locked entries of one student: the cells with
their old and new values, a reason, optionally an evidence file. The school leader permits or
rejects it. The edit is applied only once the leader has permitted it and two witnesses have
confirmed it, each by their own signed-in action: a member of the school's admin board and the
class's homeroom teacher. Records holds no group membership, so the admin board (ban quản trị)
is whoever holds ``school_admin`` or ``school_leader`` at the school. Nobody fills two roles in
one request: the requester, the permitting leader, the board witness and the homeroom witness
are four different people.

The last of the three actions applies the edit in its own transaction: the cells are saved
through ``save_sheet`` (the one write a lock lets through, marked ``via=correction`` with the
request's id in the cell history), a new snapshot version is taken of every locked period that
covers the sheet (the old versions stay readable), and ``records.correction.applied`` is
published. Nothing is ever deleted: a request ends applied, rejected, withdrawn or expired, and
every step is a record of the school's audit chain.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import or_, select

from common.errors import Problem
from common.events.identity import Role
from common.events.records import CorrectedEntry, CorrectionApplied, Term, WritePath
from records.access import SCHOOL_KEEPERS, Actor, Forbidden, rule
from records.domain.cells import CellInvalid, parse_cell
from records.domain.curriculum import Period, term_of
from records.domain.errors import DomainError
from records.domain.sheets import CONDUCT_SHEET, QUALITIES_SHEET
from records.handlers.base import (
    audit,
    authorize_class,
    class_of,
    conflict,
    not_found,
    school_unit,
    utcnow,
    year_of,
)
from records.handlers.calendar import window_of
from records.handlers.locks import (
    ScopeLocked,
    covered_periods,
    live_locks,
    next_snapshot,
    take_snapshot,
    term_id,
)
from records.handlers.sheets import (
    CellError,
    CellInput,
    CellsInvalid,
    SaveSheet,
    check_writer,
    read_sheet,
    save_sheet,
)
from records.models import ClassRow, CorrectionRow, LockRow, OrgUnitRow
from records.rules import RuleOptions
from records.uow import RecordsUnitOfWork

SUBJECT_NAMESPACE: Final = uuid.UUID("5d0f7c1e-2b8a-5f43-9e61-3a7c4d2b8e90")
MAX_EVIDENCE_BYTES: Final = 5 * 1024 * 1024
_SIGNATURES: Final = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class Status(StrEnum):
    PENDING = "pending"  # filed; the leader has not decided
    PERMITTED = "permitted"  # the leader permitted; waiting for a witness
    APPLIED = "applied"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


OPEN: Final = frozenset({Status.PENDING, Status.PERMITTED})


def subject_id(sheet: str) -> uuid.UUID | None:
    """A stable id of a subject code for events; None for the homeroom sheets."""
    if sheet in {CONDUCT_SHEET, QUALITIES_SHEET}:
        return None
    return uuid.uuid5(SUBJECT_NAMESPACE, sheet)


def entry_kind(sheet: str) -> CorrectedEntry:
    if sheet == CONDUCT_SHEET:
        return CorrectedEntry.CONDUCT
    if sheet == QUALITIES_SHEET:
        return CorrectedEntry.QUALITY_COMPETENCY
    return CorrectedEntry.ASSESSMENT


def sniff_evidence(data: bytes) -> str:
    """The media type of an evidence file from its first bytes: PDF, JPEG or PNG only."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise DomainError(
            "evidence-too-large",
            "Tệp minh chứng quá lớn",
            f"at most {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB",
        )
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    raise DomainError(
        "evidence-type", "Tệp minh chứng phải là PDF, JPEG hoặc PNG", "not a PDF, JPEG or PNG file"
    )


def covering_locks(locks: Sequence[LockRow], class_id: uuid.UUID, period: str) -> list[LockRow]:
    """Live term locks that cover the class's sheets of ``period``."""
    return [
        lock
        for lock in locks
        if lock.kind == "term"
        and (not lock.class_ids or class_id in lock.class_ids)
        and period in covered_periods(lock.period)
    ]


def _not_locked(period: str) -> Problem:
    return conflict(
        "not-locked",
        "Dữ liệu chưa khóa sổ: giáo viên sửa trực tiếp trên sổ, không cần yêu cầu điều chỉnh",
        f"no live term lock covers this class's {period} entries",
    )


def _roles_conflict(detail: str) -> Problem:
    return conflict(
        "roles-conflict",
        "Một người không được giữ hai vai trò trong cùng một yêu cầu điều chỉnh",
        detail,
    )


# --- filing


@dataclass(frozen=True, slots=True)
class CorrectionCell:
    column: str
    new: object
    old: object = None
    old_given: bool = False


@dataclass(frozen=True, slots=True)
class FileCorrection:
    class_id: uuid.UUID
    sheet: str
    period: Period
    student_id: uuid.UUID
    cells: tuple[CorrectionCell, ...]
    reason: str


async def file_correction(
    uow: RecordsUnitOfWork, actor: Actor, cmd: FileCorrection, *, expiry_days: int
) -> CorrectionRow:
    """The teacher who writes the sheet asks to correct locked entries of one student."""
    async with uow:
        row = await class_of(uow, cmd.class_id)
        school = await authorize_class(uow, actor, rule("POST", "/corrections"), row)
        view = await read_sheet(uow, actor, row.id, cmd.sheet, cmd.period)
        person = check_writer(actor, view)
        if cmd.student_id not in {s.id for s, _ in view.roster}:
            raise Problem(
                404, "student-not-in-class", "Học sinh không thuộc lớp", str(cmd.student_id)
            )
        now = utcnow()
        locks = covering_locks(
            await live_locks(uow, school, row.school_year_id, now), row.id, cmd.period.value
        )
        if not locks:
            raise _not_locked(cmd.period.value)
        columns = {c.code: c for c in view.columns}
        errors: list[CellError] = []
        mismatched: list[dict[str, object]] = []
        cells: list[dict[str, Any]] = []
        seen: set[str] = set()
        for cell in cmd.cells:
            column = columns.get(cell.column)
            current = view.cells.get((cmd.student_id, cell.column))
            if column is None:
                errors.append(
                    CellError(cmd.student_id, cell.column, "column-unknown", "Sổ không có cột này")
                )
                continue
            if cell.column in seen:
                errors.append(
                    CellError(cmd.student_id, cell.column, "column-repeated", "Cột bị lặp lại")
                )
                continue
            seen.add(cell.column)
            try:
                new = parse_cell(column.kind, cell.new)
            except CellInvalid as exc:
                errors.append(CellError(cmd.student_id, cell.column, exc.code, exc.title_vi))
                continue
            if new == current:
                errors.append(
                    CellError(
                        cmd.student_id, cell.column, "no-change", "Giá trị mới giống giá trị cũ"
                    )
                )
                continue
            if cell.old_given:
                try:
                    readable, old = True, parse_cell(column.kind, cell.old)
                except CellInvalid:
                    readable, old = False, None  # unreadable: cannot be the current value
                if not readable or old != current:
                    mismatched.append({"column": cell.column, "current": current})
            cells.append({"column": cell.column, "old": current, "new": new})
        if errors:
            raise CellsInvalid(errors)
        if mismatched:
            raise Problem(
                422,
                "old-value-mismatch",
                "Giá trị cũ không khớp với dữ liệu hiện có",
                f"{len(mismatched)} cell(s) hold another value now",
                extensions={"cells": mismatched},
            )
        correction = CorrectionRow(
            id=uuid.uuid4(),
            school_id=school.id,
            class_id=row.id,
            sheet=cmd.sheet,
            period=cmd.period.value,
            student_id=cmd.student_id,
            cells=cells,
            reason=cmd.reason,
            status=Status.PENDING.value,
            requested_by=person,
            requested_at=now,
            expires_at=now + timedelta(days=expiry_days),
        )
        uow.records.add(correction)
        await audit(
            uow,
            actor,
            school.id,
            "correction.filed",
            correction.id,
            {
                "class_id": row.id,
                "sheet": cmd.sheet,
                "period": cmd.period.value,
                "student_id": cmd.student_id,
                "cells": cells,
                "reason": cmd.reason,
                "locks": [lock.id for lock in locks],
            },
            at=now,
        )
        await uow.commit()
        return correction


# --- reading


async def _may_read(
    uow: RecordsUnitOfWork, actor: Actor, correction: CorrectionRow, route: tuple[str, str]
) -> OrgUnitRow:
    """School readers read every request; a teacher the ones they filed or must witness."""
    school = await school_unit(uow, correction.school_id)
    held = actor.check(rule(*route), school)
    if held <= {"teacher"}:
        row = await class_of(uow, correction.class_id)
        if actor.user_id is None or actor.user_id not in {
            correction.requested_by,
            row.homeroom_teacher_id,
        }:
            raise Forbidden(
                "Teachers read the corrections they filed or must witness",
                code="not-involved",
                title="Chỉ người yêu cầu và người chứng kiến được xem yêu cầu này",
            )
    return school


async def _expire(uow: RecordsUnitOfWork, correction: CorrectionRow, now: datetime) -> bool:
    """Mark an open request past its time as expired (audited); True when it did."""
    if correction.status not in OPEN or correction.expires_at > now:
        return False
    correction.status = Status.EXPIRED.value
    correction.closed_at = now
    await audit(
        uow,
        None,
        correction.school_id,
        "correction.expired",
        correction.id,
        {"expires_at": correction.expires_at},
        at=now,
    )
    return True


async def _load(uow: RecordsUnitOfWork, correction_id: uuid.UUID) -> CorrectionRow:
    correction = await uow.records.session.scalar(
        select(CorrectionRow)
        .where(CorrectionRow.id == correction_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if correction is None:
        raise not_found("Correction", correction_id)
    return correction


async def read_correction(
    uow: RecordsUnitOfWork,
    actor: Actor,
    correction_id: uuid.UUID,
    route: tuple[str, str] = ("GET", "/corrections/{correction_id}"),
) -> CorrectionRow:
    async with uow:
        correction = await _load(uow, correction_id)
        await _may_read(uow, actor, correction, route)
        if await _expire(uow, correction, utcnow()):
            await uow.commit()
        return correction


async def list_corrections(  # noqa: PLR0917 - the query's filters
    uow: RecordsUnitOfWork,
    actor: Actor,
    school_id: uuid.UUID,
    status: str | None,
    class_id: uuid.UUID | None,
    limit: int,
) -> Sequence[CorrectionRow]:
    """A school's requests, newest first; a teacher sees those they filed or must witness."""
    async with uow:
        school = await school_unit(uow, school_id)
        held = actor.check(rule("GET", "/corrections"), school)
        now = utcnow()
        # Lazily expire what is past its time, so the list never shows a stale "pending".
        stale = (
            await uow.records.session.scalars(
                select(CorrectionRow)
                .where(
                    CorrectionRow.school_id == school.id,
                    CorrectionRow.status.in_([s.value for s in OPEN]),
                    CorrectionRow.expires_at <= now,
                )
                .with_for_update(skip_locked=True)
            )
        ).all()
        for correction in stale:
            await _expire(uow, correction, now)
        if stale:
            await uow.commit()
        statement = select(CorrectionRow).where(CorrectionRow.school_id == school.id)
        if status is not None:
            statement = statement.where(CorrectionRow.status == status)
        if class_id is not None:
            statement = statement.where(CorrectionRow.class_id == class_id)
        if held <= {"teacher"}:
            me = actor.user_id
            led = select(ClassRow.id).where(ClassRow.homeroom_teacher_id == me)
            statement = statement.where(
                or_(CorrectionRow.requested_by == me, CorrectionRow.class_id.in_(led))
            )
        rows = await uow.records.session.scalars(
            statement.order_by(CorrectionRow.requested_at.desc()).limit(limit)
        )
        return rows.all()


# --- the steps


async def _open_for_action(
    uow: RecordsUnitOfWork, actor: Actor, correction_id: uuid.UUID, route: tuple[str, str]
) -> tuple[CorrectionRow, OrgUnitRow, frozenset[Role]]:
    """The request, locked, after the role check at its school; an expired one is marked so
    (and that committed) before the 409 that refuses the act."""
    correction = await _load(uow, correction_id)
    school = await school_unit(uow, correction.school_id)
    held = actor.check(rule(*route), school)
    if await _expire(uow, correction, utcnow()):
        await uow.commit()
        raise conflict(
            "expired",
            "Yêu cầu điều chỉnh đã hết hạn",
            f"the request expired at {correction.expires_at.isoformat()}",
        )
    if correction.status == Status.REJECTED and route[1].endswith(("/permit", "/reject")):
        raise conflict(
            "already-decided",
            "Yêu cầu đã được lãnh đạo nhà trường quyết định",
            f"rejected at {correction.decided_at}",
        )
    if correction.status not in OPEN:
        code = "expired" if correction.status == Status.EXPIRED else "correction-closed"
        raise conflict(
            code,
            "Yêu cầu điều chỉnh đã kết thúc",
            f"the request is {correction.status}",
            status=correction.status,
        )
    return correction, school, held


async def set_evidence(
    uow: RecordsUnitOfWork,
    actor: Actor,
    correction_id: uuid.UUID,
    name: str,
    data: bytes,
) -> CorrectionRow:
    """The requester attaches (or replaces) the evidence while nobody has acted on it yet."""
    media_type = sniff_evidence(data)
    async with uow:
        correction, school, _ = await _open_for_action(
            uow, actor, correction_id, ("PUT", "/corrections/{correction_id}/evidence")
        )
        if actor.person() != correction.requested_by:
            raise Forbidden(
                "Only the requester attaches evidence",
                code="not-requester",
                title="Chỉ người yêu cầu được đính kèm minh chứng",
            )
        if correction.decided_by or correction.board_witness_id or correction.homeroom_witness_id:
            raise conflict(
                "evidence-frozen",
                "Yêu cầu đã được xử lý, không thay minh chứng được nữa",
                "the leader or a witness has acted on the request",
            )
        digest = hashlib.sha256(data).hexdigest()
        correction.evidence = data
        correction.evidence_name = name[:200]
        correction.evidence_type = media_type
        correction.evidence_sha256 = digest
        await audit(
            uow,
            actor,
            school.id,
            "correction.evidence",
            correction.id,
            {"name": correction.evidence_name, "type": media_type, "sha256": digest},
        )
        await uow.commit()
        return correction


@dataclass(frozen=True, slots=True)
class ApplyContext:
    options: RuleOptions
    grace_days: int


async def decide(  # noqa: PLR0917 - the decision's parameters
    uow: RecordsUnitOfWork,
    actor: Actor,
    correction_id: uuid.UUID,
    permit: bool,
    note: str | None,
    ctx: ApplyContext,
) -> CorrectionRow:
    """The school leader permits or rejects a request, once."""
    action = "permit" if permit else "reject"
    route = ("POST", f"/corrections/{{correction_id}}/{action}")
    async with uow:
        correction, school, _ = await _open_for_action(uow, actor, correction_id, route)
        if correction.decided_by is not None:
            raise conflict(
                "already-decided",
                "Yêu cầu đã được lãnh đạo nhà trường quyết định",
                f"decided at {correction.decided_at}",
            )
        person = actor.person()
        if person == correction.requested_by:
            raise _roles_conflict("the requester cannot decide their own request")
        if person in {correction.board_witness_id, correction.homeroom_witness_id}:
            raise _roles_conflict("a witness of the request cannot also decide it")
        now = utcnow()
        correction.decided_by, correction.decided_at = person, now
        correction.decision_note = note
        if permit:
            correction.status = Status.PERMITTED.value
        else:
            correction.status = Status.REJECTED.value
            correction.closed_by, correction.closed_at = person, now
        await audit(
            uow,
            actor,
            school.id,
            "correction.permitted" if permit else "correction.rejected",
            correction.id,
            {"note": note},
            at=now,
        )
        if permit and correction.board_witness_id and correction.homeroom_witness_id:
            await _apply(uow, actor, correction, school, route, ctx)
        await uow.commit()
        return correction


async def witness(
    uow: RecordsUnitOfWork, actor: Actor, correction_id: uuid.UUID, ctx: ApplyContext
) -> CorrectionRow:
    """An admin-board member or the class's homeroom teacher confirms by their own action."""
    route = ("POST", "/corrections/{correction_id}/witness")
    async with uow:
        correction, school, held = await _open_for_action(uow, actor, correction_id, route)
        person = actor.person()
        if person == correction.requested_by:
            raise conflict(
                "requester-cannot-witness",
                "Người yêu cầu không được làm người chứng kiến",
                "the requester cannot witness their own request",
            )
        row = await class_of(uow, correction.class_id)
        # When the homeroom teacher cannot witness (they asked for the correction of their own
        # conduct or qualities sheet, or the class has none), a second member of the admin
        # board stands in for them, so the request still has two witnesses besides its asker.
        homeroom_stands_aside = row.homeroom_teacher_id in {None, correction.requested_by}
        if person == row.homeroom_teacher_id:
            slot = "homeroom"
        elif held & SCHOOL_KEEPERS:
            slot = (
                "homeroom"
                if homeroom_stands_aside and correction.board_witness_id is not None
                else "board"
            )
        else:
            raise Forbidden(
                "Witnesses are the class's homeroom teacher and members of the admin board",
                code="not-a-witness",
                title="Chỉ thành viên ban quản trị và giáo viên chủ nhiệm của lớp được chứng kiến",
            )
        filled = (
            correction.homeroom_witness_id if slot == "homeroom" else correction.board_witness_id
        )
        if filled is not None:
            raise conflict(
                "already-witnessed",
                "Đã có người chứng kiến cho vai trò này",
                f"the {slot} witness confirmed before",
                slot=slot,
            )
        other = (
            correction.board_witness_id if slot == "homeroom" else correction.homeroom_witness_id
        )
        if person in {correction.decided_by, other}:
            raise _roles_conflict(
                f"this person already holds another role; cannot be {slot} witness"
            )
        now = utcnow()
        if slot == "homeroom":
            correction.homeroom_witness_id, correction.homeroom_witnessed_at = person, now
        else:
            correction.board_witness_id, correction.board_witnessed_at = person, now
        await audit(
            uow, actor, school.id, "correction.witnessed", correction.id, {"slot": slot}, at=now
        )
        if (
            correction.status == Status.PERMITTED
            and correction.board_witness_id
            and correction.homeroom_witness_id
        ):
            await _apply(uow, actor, correction, school, route, ctx)
        await uow.commit()
        return correction


async def withdraw(
    uow: RecordsUnitOfWork, actor: Actor, correction_id: uuid.UUID, note: str | None
) -> CorrectionRow:
    """The requester withdraws a request that has not been applied."""
    async with uow:
        correction, school, _ = await _open_for_action(
            uow, actor, correction_id, ("POST", "/corrections/{correction_id}/withdraw")
        )
        person = actor.person()
        if person != correction.requested_by:
            raise Forbidden(
                "Only the requester withdraws a request",
                code="not-requester",
                title="Chỉ người yêu cầu được rút yêu cầu",
            )
        now = utcnow()
        correction.status = Status.WITHDRAWN.value
        correction.closed_by, correction.closed_at = person, now
        await audit(
            uow, actor, school.id, "correction.withdrawn", correction.id, {"note": note}, at=now
        )
        await uow.commit()
        return correction


# --- applying


async def _apply(  # noqa: PLR0917 - what the application needs
    uow: RecordsUnitOfWork,
    actor: Actor,
    correction: CorrectionRow,
    school: OrgUnitRow,
    route: tuple[str, str],
    ctx: ApplyContext,
) -> None:
    """Make the edit, snapshot every locked period covering it, publish; one transaction."""
    now = utcnow()
    row = await class_of(uow, correction.class_id, for_update=True)
    year = await year_of(uow, row.school_year_id)
    period = Period(correction.period)
    live = await live_locks(uow, school, row.school_year_id, now)
    for lock in live:
        if lock.kind == "inspection":
            raise ScopeLocked(lock)
    locks = covering_locks(live, row.id, period.value)
    if not locks:
        raise _not_locked(period.value)
    sheet = await uow.records.sheet_for_update(row.id, correction.sheet, period.value)
    entries = await uow.records.entries(sheet.id)
    now_values = {
        column: e.value
        for (student, column), e in entries.items()
        if student == correction.student_id
    }
    drifted = [c["column"] for c in correction.cells if now_values.get(c["column"]) != c["old"]]
    if drifted:
        raise conflict(
            "entries-changed",
            "Dữ liệu đã thay đổi từ khi lập yêu cầu",
            f"cells {drifted} no longer hold the values the request names",
        )
    windows = await uow.records.period_windows(year.id)
    dates = window_of(windows, period)
    fallback: date = dates[1] if dates else year.ends_on
    by_date: dict[date, list[CellInput]] = {}
    for c in correction.cells:
        entry = entries.get((correction.student_id, c["column"]))
        on = entry.assessed_on if entry is not None and entry.assessed_on else fallback
        by_date.setdefault(on, []).append(CellInput(correction.student_id, c["column"], c["new"]))
    version = sheet.version
    for on, cells in sorted(by_date.items()):
        outcome = await save_sheet(
            uow,
            actor,
            SaveSheet(
                class_id=row.id,
                sheet=correction.sheet,
                period=period,
                if_match=version,
                cells=tuple(cells),
                via=WritePath.CORRECTION,
                assessed_on=on,
                correction_id=correction.id,
            ),
            grace_days=ctx.grace_days,
            route=route,
        )
        version = outcome.view.version
    await uow.records.session.refresh(row)
    primary_term = "year" if period is Period.SUMMER else term_of(period).value
    snapshots: dict[str, tuple[LockRow, int]] = {}
    for lock in locks:
        assert lock.period is not None
        if lock.period in snapshots:
            continue
        number = await next_snapshot(uow, school.id, year.id, lock.period)
        await take_snapshot(
            uow,
            row,
            lock.period,
            number,
            lock_id=lock.id,
            correction_id=correction.id,
            options=ctx.options,
        )
        snapshots[lock.period] = (lock, number)
    main_period = primary_term if primary_term in snapshots else next(iter(snapshots))
    main_lock, main_version = snapshots[main_period]
    assert correction.decided_by is not None
    assert correction.board_witness_id is not None
    assert correction.homeroom_witness_id is not None
    applied_by = actor.person()
    correction.status = Status.APPLIED.value
    correction.applied_at = now
    correction.applied_snapshot = main_version
    head = await audit(
        uow,
        actor,
        school.id,
        "correction.applied",
        correction.id,
        {
            "class_id": row.id,
            "sheet": correction.sheet,
            "period": period.value,
            "student_id": correction.student_id,
            "cells": correction.cells,
            "snapshots": {p: v for p, (_, v) in snapshots.items()},
            "approved_by": correction.decided_by,
            "witnessed_by": [correction.board_witness_id, correction.homeroom_witness_id],
        },
        at=now,
    )
    uow.emit(
        CorrectionApplied(
            correction_id=correction.id,
            term_id=term_id(school.id, year.id, main_period),
            school_id=school.id,
            district_id=school.district_id,
            province_id=school.province_id,
            school_year=year.code,
            term=Term(main_period),
            class_id=row.id,
            student_id=correction.student_id,
            subject_id=subject_id(correction.sheet),
            entry=entry_kind(correction.sheet),
            snapshot=main_version,
            requested_by=correction.requested_by,
            approved_by=correction.decided_by,
            applied_by=applied_by,
            witnessed_by=(correction.board_witness_id, correction.homeroom_witness_id),
            applied_at=now,
            audit_hash=head,
            sheet=correction.sheet,
            period=period.value,
            columns=tuple(c["column"] for c in correction.cells),
            lock_id=main_lock.id,
        )
    )
