"""The roll call (điểm danh, R14): submit, amend the same day, ask the leader later; read it.

The first submission decides lateness: after ``first period + the province's minutes`` it is
accepted, marked late, and ``attendance.rollcall.late`` goes out. The homeroom teacher amends
a roll on its own day (or within the province's ``amend_days``) under ``If-Match``; a later
change becomes an amendment that the school leader approves or rejects. Every revision is
kept whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from attendance.access import Actor, rule
from attendance.domain.calendar import deadline as deadline_of
from attendance.domain.calendar import is_late, local_day
from attendance.domain.counting import Mark
from attendance.handlers import months
from attendance.handlers.base import (
    SchoolContext,
    authorize_class,
    class_of,
    conflict,
    invalid,
    not_found,
    school_context,
    unit_of,
    utcnow,
)
from attendance.models import AmendmentRow, ClassRow, EnrolmentRow, MarkRow, RollCallRow
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.errors import Problem, http_problem
from common.events.attendance import RollCallLate, RollCallSubmitted, Session
from common.events.identity import OrgLevel

ROUTE = "/classes/{class_id}/roll-calls/{day}/{session}"
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class MarkInput:
    student_id: uuid.UUID
    mark: Mark
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitRollCall:
    class_id: uuid.UUID
    day: date
    session: Session
    marks: tuple[MarkInput, ...]
    if_match: int | None  # the revision the client read; None for a first submission
    taken_at: datetime | None = None
    reason: str | None = None  # why, for an amendment after the day


@dataclass(frozen=True, slots=True)
class RollCallView:
    roll: RollCallRow | None
    class_: ClassRow
    roster: list[EnrolmentRow]
    marks: dict[uuid.UUID, MarkRow]
    deadline: datetime
    pending_amendment: AmendmentRow | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a submission did: ``created`` (201), ``amended`` (200) or ``pending`` (202)."""

    outcome: str
    view: RollCallView
    amendment: AmendmentRow | None = None


def etag(revision: int) -> str:
    return f'"{revision}"'


def _check_day(context: SchoolContext, day: date, session: Session, today: date) -> datetime:
    """The deadline of a day and session that can have a roll; 422 otherwise."""
    why = context.calendar.why_not_school_day(day)
    if why is not None:
        raise invalid(
            "not-a-school-day",
            "Ngày này không phải ngày học",
            f"{day} is not a school day of {context.school.code}: {why.value}",
            reason=why.value,
        )
    if day > today:
        raise invalid(
            "day-in-future", "Chưa thể điểm danh cho ngày chưa đến", f"{day} is after {today}"
        )
    try:
        bells = context.schedule.bells(session)
    except KeyError:
        raise invalid(
            "session-not-scheduled",
            "Trường không học buổi này",
            f"{context.school.code} has no {session.value} session",
        ) from None
    return deadline_of(day, bells, context.rules.grace)


def _check_marks(roster: Sequence[EnrolmentRow], marks: Sequence[MarkInput]) -> None:
    """Every student on the list that day exactly once, nobody else; all problems listed."""
    on_list = {e.student_id for e in roster}
    seen: set[uuid.UUID] = set()
    errors: list[dict[str, str]] = []
    for m in marks:
        if m.student_id in seen:
            errors.append(
                {
                    "student_id": str(m.student_id),
                    "code": "duplicate-student",
                    "message": "Học sinh xuất hiện hai lần trong danh sách",
                }
            )
        elif m.student_id not in on_list:
            errors.append(
                {
                    "student_id": str(m.student_id),
                    "code": "student-not-in-class",
                    "message": "Học sinh không thuộc lớp vào ngày này",
                }
            )
        if m.reason is not None and len(m.reason) > MAX_REASON:
            errors.append(
                {
                    "student_id": str(m.student_id),
                    "code": "reason-too-long",
                    "message": "Lý do quá dài",
                }
            )
        seen.add(m.student_id)
    errors.extend(
        {
            "student_id": str(s),
            "code": "student-missing",
            "message": "Thiếu học sinh trong danh sách điểm danh",
        }
        for s in sorted(on_list - seen)
    )
    if errors:
        raise invalid(
            "roll-invalid",
            "Danh sách điểm danh không hợp lệ",
            f"{len(errors)} problem(s) in the marks; nothing was saved",
            errors=errors,
        )


def _counts(marks: Sequence[MarkInput]) -> dict[str, int]:
    by = dict.fromkeys(Mark, 0)
    for m in marks:
        by[m.mark] += 1
    return {
        "present": by[Mark.PRESENT] + by[Mark.LATE],
        "late_arrivals": by[Mark.LATE],
        "absent_excused": by[Mark.ABSENT_EXCUSED],
        "absent_unexcused": by[Mark.ABSENT_UNEXCUSED],
    }


def _marks_json(marks: Sequence[MarkInput]) -> dict[str, Any]:
    return {str(m.student_id): [m.mark.value, m.reason] for m in marks}


def _mark_rows(roll_call_id: uuid.UUID, marks: Sequence[MarkInput]) -> list[dict[str, Any]]:
    return [
        {
            "roll_call_id": roll_call_id,
            "student_id": m.student_id,
            "mark": m.mark.value,
            "reason": m.reason,
        }
        for m in marks
    ]


def _same_marks(current: Sequence[MarkRow], marks: Sequence[MarkInput]) -> bool:
    return {(r.student_id, r.mark, r.reason) for r in current} == {
        (m.student_id, m.mark.value, m.reason) for m in marks
    }


def _submitted_event(
    class_: ClassRow, roll: RollCallRow, year_code: str, enrolled: int
) -> RollCallSubmitted:
    return RollCallSubmitted(
        roll_call_id=roll.id,
        class_id=class_.id,
        school_id=class_.school_id,
        district_id=class_.district_id,
        province_id=class_.province_id,
        school_year=year_code,
        day=roll.day,
        session=Session(roll.session),
        enrolled=enrolled,
        present=roll.present,
        absent_excused=roll.absent_excused,
        absent_unexcused=roll.absent_unexcused,
        late_arrivals=roll.late_arrivals,
        deadline=roll.deadline,
        submitted_at=roll.submitted_at,
        submitted_by=roll.submitted_by,
        revision=roll.revision,
        on_time=roll.on_time,
        taken_at=roll.taken_at,
    )


async def authorize_submit(uow: AttendanceUnitOfWork, actor: Actor, class_id: uuid.UUID) -> None:
    """Who may submit this class's roll, before anything else is looked at (a replay too)."""
    async with uow:
        class_ = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("PUT", ROUTE), class_)
        actor.person()


async def submit_roll_call(
    uow: AttendanceUnitOfWork, actor: Actor, settings: AttendanceSettings, cmd: SubmitRollCall
) -> Submitted:
    """Submit or amend a class's roll for a day and session (R14)."""
    async with uow:
        class_ = await class_of(uow, cmd.class_id)
        school = await authorize_class(uow, actor, rule("PUT", ROUTE), class_)
        person = actor.person()
        context = await school_context(uow, settings, school, class_.school_year)
        now = utcnow()
        due = _check_day(context, cmd.day, cmd.session, local_day(now))
        roster = await uow.repo.roster_on(class_.id, cmd.day)
        if not roster:
            raise invalid(
                "class-empty", "Lớp không có học sinh vào ngày này", f"no student on {cmd.day}"
            )
        _check_marks(roster, cmd.marks)
        if cmd.taken_at is not None and cmd.taken_at > now + timedelta(minutes=5):
            raise invalid(
                "taken-at-in-future",
                "Thời điểm điểm danh trên thiết bị ở tương lai",
                "taken_at is more than 5 minutes ahead of the server",
            )
        existing = await uow.repo.roll_call(class_.id, cmd.day, cmd.session.value, for_update=True)
        if existing is None:
            if cmd.if_match is not None:
                raise http_problem(
                    412, "There is no roll to match yet", extensions={"current_version": 0}
                )
            roll = await _first_submission(
                uow, class_, context, cmd, due, now, person, actor.client_id
            )
            # What was just written, without reading it back.
            marks = {
                m.student_id: MarkRow(
                    roll_call_id=roll.id,
                    student_id=m.student_id,
                    mark=m.mark.value,
                    reason=m.reason,
                )
                for m in cmd.marks
            }
            submitted = Submitted("created", RollCallView(roll, class_, roster, marks, due, None))
        else:
            submitted = await _amend(
                uow, actor, settings, class_, context, existing, roster, cmd, now
            )
        await uow.commit()
        return submitted


async def _first_submission(  # noqa: PLR0917 - one submission's facts
    uow: AttendanceUnitOfWork,
    class_: ClassRow,
    context: SchoolContext,
    cmd: SubmitRollCall,
    due: datetime,
    now: datetime,
    person: uuid.UUID,
    client_id: str | None,
) -> RollCallRow:
    on_time = not is_late(now, due)
    roll_id = uuid.uuid4()
    values: dict[str, Any] = {
        "id": roll_id,
        "class_id": class_.id,
        "school_id": class_.school_id,
        "day": cmd.day,
        "session": cmd.session.value,
        "deadline": due,
        "first_submitted_at": now,
        "on_time": on_time,
        "revision": 1,
        "submitted_at": now,
        "submitted_by": person,
        "client_id": client_id,
        "taken_at": cmd.taken_at,
        **_counts(cmd.marks),
    }
    await uow.repo.insert_roll_call(values)
    await uow.repo.insert_marks(_mark_rows(roll_id, cmd.marks))
    await uow.repo.insert_revision(
        {
            "roll_call_id": roll_id,
            "revision": 1,
            "marks": _marks_json(cmd.marks),
            "submitted_at": now,
            "submitted_by": person,
            "client_id": client_id,
            "taken_at": cmd.taken_at,
            "approved_by": None,
            "amendment_id": None,
        }
    )
    roll = RollCallRow(**values)
    uow.emit(_submitted_event(class_, roll, context.year.code, len(cmd.marks)))
    if not on_time:
        uow.emit(
            RollCallLate(
                roll_call_id=roll_id,
                class_id=class_.id,
                school_id=class_.school_id,
                district_id=class_.district_id,
                province_id=class_.province_id,
                school_year=context.year.code,
                day=cmd.day,
                session=cmd.session,
                deadline=due,
                submitted_at=now,
                seconds_late=max(1, int((now - due).total_seconds())),
                submitted_by=person,
                was_reported_missing=await uow.repo.was_reported_missing(
                    class_.id, cmd.day, cmd.session.value
                ),
            )
        )
    return roll


async def _amend(  # noqa: PLR0917 - one amendment's facts
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    class_: ClassRow,
    context: SchoolContext,
    roll: RollCallRow,
    roster: list[EnrolmentRow],
    cmd: SubmitRollCall,
    now: datetime,
) -> Submitted:
    if cmd.if_match is None:
        raise http_problem(
            428,
            "This roll exists: send If-Match with the revision you read",
            extensions={"current_version": roll.revision},
        )
    if cmd.if_match != roll.revision:
        raise http_problem(
            412,
            f"The roll is at revision {roll.revision}, not {cmd.if_match}",
            extensions={"current_version": roll.revision},
        )
    current = await uow.repo.marks(roll.id)
    if _same_marks(current, cmd.marks):
        # A repeat of what is there: nothing to change, nothing to publish.
        return Submitted("amended", await _view(uow, class_, roll, roster, roll.deadline))
    person = actor.person()
    if local_day(now) > roll.day + timedelta(days=context.rules.amend_days):
        return await _request_amendment(uow, class_, roll, roster, cmd, now, person)
    await apply_revision(
        uow,
        settings,
        class_,
        context,
        roll,
        cmd.marks,
        now,
        person,
        actor.client_id,
        taken_at=cmd.taken_at,
        approved_by=None,
        amendment_id=None,
    )
    return Submitted("amended", await _view(uow, class_, roll, roster, roll.deadline))


async def _request_amendment(  # noqa: PLR0917
    uow: AttendanceUnitOfWork,
    class_: ClassRow,
    roll: RollCallRow,
    roster: list[EnrolmentRow],
    cmd: SubmitRollCall,
    now: datetime,
    person: uuid.UUID,
) -> Submitted:
    if not cmd.reason or not cmd.reason.strip():
        raise invalid(
            "reason-required",
            "Sửa điểm danh của ngày đã qua cần nêu lý do",
            "an amendment after the roll's day needs a reason for the school leader",
        )
    if await uow.repo.pending_amendment(roll.id) is not None:
        raise conflict(
            "amendment-pending",
            "Đã có đề nghị sửa điểm danh đang chờ duyệt",
            "the roll already has an amendment waiting for the school leader",
        )
    amendment = AmendmentRow(
        id=uuid.uuid4(),
        roll_call_id=roll.id,
        class_id=class_.id,
        school_id=class_.school_id,
        base_revision=roll.revision,
        marks=_marks_json(cmd.marks),
        reason=cmd.reason.strip(),
        status="pending",
        requested_by=person,
        requested_at=now,
    )
    uow.repo.add(amendment)
    await uow.repo.flush()
    view = await _view(uow, class_, roll, roster, roll.deadline, pending=amendment)
    return Submitted("pending", view, amendment)


async def apply_revision(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    settings: AttendanceSettings,
    class_: ClassRow,
    context: SchoolContext,
    roll: RollCallRow,
    marks: Sequence[MarkInput],
    now: datetime,
    person: uuid.UUID,
    client_id: str | None,
    *,
    taken_at: datetime | None,
    approved_by: uuid.UUID | None,
    amendment_id: uuid.UUID | None,
) -> None:
    """Make ``marks`` the roll's next revision; re-close its month if it was closed."""
    revision = roll.revision + 1
    counts = _counts(marks)
    await uow.repo.update_roll_call(
        roll.id,
        {
            "revision": revision,
            "submitted_at": now,
            "submitted_by": person,
            "client_id": client_id,
            "taken_at": taken_at,
            **counts,
        },
    )
    await uow.repo.replace_marks(roll.id, _mark_rows(roll.id, marks))
    await uow.repo.insert_revision(
        {
            "roll_call_id": roll.id,
            "revision": revision,
            "marks": _marks_json(marks),
            "submitted_at": now,
            "submitted_by": person,
            "client_id": client_id,
            "taken_at": taken_at,
            "approved_by": approved_by,
            "amendment_id": amendment_id,
        }
    )
    # The ORM copy may be stale after the Core UPDATE; refresh it for the event and view.
    await uow.session.refresh(roll)
    uow.emit(_submitted_event(class_, roll, context.year.code, len(marks)))
    await months.reclose_if_closed(uow, settings, class_, context, roll.day, now)


async def _view(  # noqa: PLR0917
    uow: AttendanceUnitOfWork,
    class_: ClassRow,
    roll: RollCallRow | None,
    roster: list[EnrolmentRow],
    due: datetime,
    pending: AmendmentRow | None = None,
) -> RollCallView:
    marks = {m.student_id: m for m in await uow.repo.marks(roll.id)} if roll else {}
    if roll is not None and pending is None:
        pending = await uow.repo.pending_amendment(roll.id)
    return RollCallView(roll, class_, roster, marks, due, pending)


async def read_roll_call(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    class_id: uuid.UUID,
    day: date,
    session: Session,
) -> RollCallView:
    """The roll if submitted; otherwise the list to take it from, with the deadline."""
    async with uow:
        class_ = await class_of(uow, class_id)
        school = await authorize_class(uow, actor, rule("GET", ROUTE), class_)
        context = await school_context(uow, settings, school, class_.school_year)
        roll = await uow.repo.roll_call(class_.id, day, session.value)
        if roll is None:
            due = _check_day(context, day, session, local_day(utcnow()))
        else:
            due = roll.deadline
        roster = await uow.repo.roster_on(class_.id, day)
        return await _view(uow, class_, roll, roster, due)


async def roll_call_history(
    uow: AttendanceUnitOfWork, actor: Actor, class_id: uuid.UUID, day: date, session: Session
) -> tuple[RollCallRow, list[Any], list[AmendmentRow]]:
    async with uow:
        class_ = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", ROUTE + "/history"), class_)
        roll = await uow.repo.roll_call(class_.id, day, session.value)
        if roll is None:
            raise not_found("Roll call of", f"{class_id} {day} {session.value}")
        amendments = [
            a
            for a in await uow.repo.amendments_of_school(class_.school_id, None)
            if a.roll_call_id == roll.id
        ]
        return roll, await uow.repo.revisions(roll.id), amendments


async def list_roll_calls(
    uow: AttendanceUnitOfWork, actor: Actor, class_id: uuid.UUID, first: date, last: date
) -> tuple[ClassRow, list[RollCallRow]]:
    async with uow:
        class_ = await class_of(uow, class_id)
        await authorize_class(uow, actor, rule("GET", "/classes/{class_id}/roll-calls"), class_)
        if last < first or (last - first).days > 366:
            raise invalid("range-invalid", "Khoảng ngày không hợp lệ", "from ≤ to, at most a year")
        return class_, await uow.repo.roll_calls_of_class(class_.id, first, last)


# --- the leader's decision on an amendment


async def decide_amendment(
    uow: AttendanceUnitOfWork,
    actor: Actor,
    settings: AttendanceSettings,
    amendment_id: uuid.UUID,
    *,
    approve: bool,
    note: str | None,
) -> AmendmentRow:
    verb = "approve" if approve else "reject"
    async with uow:
        amendment = await uow.repo.amendment(amendment_id, for_update=True)
        if amendment is None:
            raise not_found("Amendment", amendment_id)
        school = await unit_of(uow, amendment.school_id, OrgLevel.SCHOOL)
        actor.require(
            rule("POST", f"/amendments/{{amendment_id}}/{verb}").roles, school, writes=True
        )
        person = actor.person()
        if amendment.status != "pending":
            raise conflict(
                "amendment-decided",
                "Đề nghị đã được xử lý",
                f"the amendment is {amendment.status}",
            )
        now = utcnow()
        amendment.status = "approved" if approve else "rejected"
        amendment.decided_by, amendment.decided_at, amendment.decision_note = person, now, note
        if approve:
            roll = await uow.repo.roll_call_by_id(amendment.roll_call_id, for_update=True)
            assert roll is not None  # amendments are made for existing rolls only
            if roll.revision != amendment.base_revision:
                raise conflict(
                    "amendment-stale",
                    "Điểm danh đã thay đổi sau khi đề nghị được gửi",
                    f"the roll is at revision {roll.revision}, the amendment was made on "
                    f"{amendment.base_revision}",
                )
            class_ = await class_of(uow, amendment.class_id)
            context = await school_context(uow, settings, school, class_.school_year)
            marks = [MarkInput(uuid.UUID(s), Mark(v[0]), v[1]) for s, v in amendment.marks.items()]
            await apply_revision(
                uow,
                settings,
                class_,
                context,
                roll,
                marks,
                now,
                amendment.requested_by,
                None,
                taken_at=None,
                approved_by=person,
                amendment_id=amendment.id,
            )
        await uow.commit()
        return amendment


async def list_amendments(
    uow: AttendanceUnitOfWork, actor: Actor, school_id: uuid.UUID, status: str | None
) -> list[AmendmentRow]:
    async with uow:
        school = await unit_of(uow, school_id, OrgLevel.SCHOOL)
        actor.require(rule("GET", "/schools/{school_id}/amendments").roles, school, writes=False)
        return await uow.repo.amendments_of_school(school.id, status)


def problem_for_missing_roll(class_id: uuid.UUID, day: date, session: Session) -> Problem:
    return not_found("Roll call of", f"{class_id} {day} {session.value}")
