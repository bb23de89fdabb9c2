"""The deadline sweep: at each school's deadline, every class without a roll is reported once.

One sweeper acts at a time: each pass runs in one transaction that first takes a PostgreSQL
advisory lock and gives up at once if another replica holds it (a Kubernetes Lease will stand
in front of it with the deployment issue). Exactly-once does not rest on the lock alone: a
missing roll is a row whose primary key is (class, day, session), inserted with ``ON CONFLICT
DO NOTHING RETURNING``, and only the rows inserted now publish ``attendance.rollcall.missing``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta

from attendance.domain.calendar import deadline as deadline_of
from attendance.domain.calendar import local_day
from attendance.handlers import months
from attendance.handlers.base import SWEEP_LOCK_KEY, school_context, utcnow
from attendance.models import OrgUnitRow
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.events.attendance import RollCallMissing, Session

log = logging.getLogger(__name__)


async def sweep_deadlines(
    uow: AttendanceUnitOfWork, settings: AttendanceSettings, now: datetime | None = None
) -> int | None:
    """One pass; the number of missing rolls reported, or None when another sweeper holds the
    lock."""
    now = now or utcnow()
    today = local_day(now)
    reported = 0
    async with uow:
        if not await uow.repo.try_sweep_lock(SWEEP_LOCK_KEY):
            return None
        for back in range(settings.sweep_days_back, -1, -1):
            reported += await _sweep_day(uow, settings, today - timedelta(days=back), now)
        await uow.commit()
    return reported


async def _sweep_day(
    uow: AttendanceUnitOfWork, settings: AttendanceSettings, day: date, now: datetime
) -> int:
    swept = await uow.repo.swept(day)
    reported = 0
    for year in await uow.repo.years_covering(day):
        schools = [
            s for s in await uow.repo.schools_with_classes(year.code) if s[2] == year.province_id
        ]
        units = await uow.repo.org_units(s[0] for s in schools)
        due: dict[Session, list[tuple[uuid.UUID, datetime]]] = defaultdict(list)
        for school_id, _, _ in schools:
            school = units.get(school_id)
            if school is None:
                continue  # the org tree has not reached us yet; the next pass will see it
            for session, at in await _deadlines_passed(uow, settings, school, year.code, day, now):
                if (school_id, session.value) not in swept:
                    due[session].append((school_id, at))
        for session, entries in due.items():
            reported += await _report_missing(uow, year.code, day, session, entries, now)
    return reported


async def _deadlines_passed(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    settings: AttendanceSettings,
    school: OrgUnitRow,
    school_year: str,
    day: date,
    now: datetime,
) -> list[tuple[Session, datetime]]:
    context = await school_context(uow, settings, school, school_year)
    if not context.calendar.is_school_day(day):
        return []
    passed = []
    for bells in context.schedule.sessions:
        at = deadline_of(day, bells, context.rules.grace)
        if at < now:
            passed.append((bells.session, at))
    return passed


async def _report_missing(  # noqa: PLR0917 - the use case's inputs, named at every call
    uow: AttendanceUnitOfWork,
    school_year: str,
    day: date,
    session: Session,
    entries: list[tuple[uuid.UUID, datetime]],
    now: datetime,
) -> int:
    deadlines = dict(entries)
    classes = await uow.repo.classes_without_roll(list(deadlines), school_year, day, session.value)
    recorded = await uow.repo.insert_missing(
        [
            {
                "class_id": c.id,
                "day": day,
                "session": session.value,
                "school_id": c.school_id,
                "deadline": deadlines[c.school_id],
                "detected_at": now,
            }
            for c in classes
        ]
    )
    for c in classes:
        if c.id in recorded:
            uow.emit(
                RollCallMissing(
                    class_id=c.id,
                    school_id=c.school_id,
                    district_id=c.district_id,
                    province_id=c.province_id,
                    school_year=school_year,
                    day=day,
                    session=session,
                    deadline=deadlines[c.school_id],
                    detected_at=now,
                    responsible_user_id=c.homeroom_teacher_id,
                )
            )
    per_school: dict[uuid.UUID, int] = defaultdict(int)
    for c in classes:
        per_school[c.school_id] += 1
    await uow.repo.mark_swept(
        [
            {
                "school_id": s,
                "day": day,
                "session": session.value,
                "swept_at": now,
                "missing": per_school.get(s, 0),
            }
            for s in deadlines
        ]
    )
    return len(recorded)


async def run_sweeper(
    uow_factory: Callable[[], AttendanceUnitOfWork],
    settings: AttendanceSettings,
    stop: asyncio.Event,
) -> None:
    """The worker's scheduled singleton: the deadline sweep, then the month close, forever."""
    while not stop.is_set():
        try:
            reported = await sweep_deadlines(uow_factory(), settings)
            if reported:
                log.info("deadline sweep reported %d missing roll calls", reported)
            closed = await months.close_due_months(uow_factory(), settings, utcnow())
            if closed:
                log.info("closed %d class months", closed)
        except Exception as exc:  # noqa: BLE001 — the next pass tries again
            log.warning("attendance sweep failed: %r", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.sweep_every_seconds)
