"""Absence days from attendance: the monthly close (``MonthClosed``, R14) feeds the 45-day rule.

Each close is stored per student, class and month as attendance sent it; the student's year
total in ``absence_totals`` is then the sum of their closed months of that school year, marked
``source = 'attendance'``, and the homeroom teacher's manual route refuses to overwrite it.

A live term lock of the year holds a student's total as it was locked: the month row is still
stored (it is attendance's fact), and the total catches up when the lock is reopened.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from common.events.attendance import MonthClosed
from common.events.base import CloudEvent
from common.messaging.consumer import PoisonMessage
from records.handlers.base import audit, utcnow
from records.handlers.locks import year_locked_classes
from records.models import ClassRow
from records.uow import RecordsUnitOfWork

log = logging.getLogger(__name__)

ATTENDANCE: str = "attendance"


class NotKnownYetError(LookupError):
    """The event names a class or school year records does not hold (yet).

    Raised so the consumer retries: attendance may have closed a month of a class whose
    creation is still on its way here. After the last retry it waits in the dead letters.
    """


async def record_month_closed(
    event: MonthClosed, uow: RecordsUnitOfWork, envelope: CloudEvent
) -> None:
    """Consumer of ``attendance.month.closed``: store the month, recompute the year totals."""
    if envelope.sequence is None or not envelope.sequence.isdigit():
        raise PoisonMessage("a MonthClosed without a numeric sequence cannot be ordered")
    sequence = int(envelope.sequence)
    async with uow:
        # The class row lock serialises closes of one class handled by several replicas.
        row = await uow.records.class_(event.class_id, for_update=True)
        if row is None:
            raise NotKnownYetError(f"class {event.class_id} is not in records")
        year = await uow.records.school_year(row.school_year_id)
        if year is None or year.code != event.school_year:
            raise NotKnownYetError(f"class {row.id} is not of school year {event.school_year}")
        stored = await uow.records.month_sequences(row.id, event.month)
        newest = max(stored.values(), default=None)
        if newest is not None and newest >= sequence:
            log.info(
                "MonthClosed %s for class %s %s ignored: sequence %d, kept %d",
                envelope.id,
                row.id,
                event.month,
                sequence,
                newest,
            )
            return
        # One row per student even if the event lists one twice (the last entry wins).
        listed = {s.student_id: s for s in event.students}
        known = await uow.records.existing_students(listed)
        for unknown in (student_id for student_id in listed if student_id not in known):
            log.warning(
                "MonthClosed %s for class %s names student %s unknown to records; skipped",
                envelope.id,
                row.id,
                unknown,
            )
        await uow.records.replace_month_absences(
            row.id,
            event.month,
            [
                {
                    "student_id": s.student_id,
                    "class_id": row.id,
                    "month": event.month,
                    "school_year_id": year.id,
                    "excused_days": s.excused_days,
                    "unexcused_days": s.unexcused_days,
                    "revision": event.revision,
                    "sequence": sequence,
                    "closed_at": event.closed_at,
                }
                for s in listed.values()
                if s.student_id in known
            ],
        )
        # A student dropped by a newer revision loses that month too, so recount them as well.
        affected = set(stored) | known
        updated, held = await apply_attendance_totals(uow, year.id, affected)
        await audit(
            uow,
            None,
            row.school_id,
            "absences.month_closed",
            row.id,
            {
                "month": event.month,
                "revision": event.revision,
                "sequence": sequence,
                "students": len(known),
                "totals_updated": sorted(updated, key=str),
                "totals_held_by_lock": sorted(held, key=str),
            },
        )
        await uow.commit()


async def apply_attendance_totals(
    uow: RecordsUnitOfWork, year_id: uuid.UUID, student_ids: Iterable[uuid.UUID]
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Set each student's year total to the sum of their closed months, unless a lock holds it.

    Returns the students whose total changed and those a live year lock held. A change bumps the
    data version of every class the student was in that year and voids its year confirmation,
    like the manual route does.
    """
    ids = set(student_ids)
    if not ids:
        return [], []
    classes_of = await uow.records.year_classes_of_students(year_id, ids)
    locked = await year_locked_classes(
        uow, year_id, {c.id: c for cs in classes_of.values() for c in cs}.values()
    )
    sums = await uow.records.month_absence_sums(year_id, ids)
    totals = await uow.records.absence_totals(year_id, ids)
    updated: list[uuid.UUID] = []
    held: list[uuid.UUID] = []
    touched: dict[uuid.UUID, ClassRow] = {}
    for student_id in sorted(ids, key=str):
        classes = classes_of.get(student_id, [])
        current = totals.get(student_id)
        if student_id not in sums and (current is None or current.source != ATTENDANCE):
            continue  # attendance has said nothing about the student this year
        excused, unexcused = sums.get(student_id, (0, 0))
        if (
            current is not None
            and current.source == ATTENDANCE
            and (current.excused_days, current.unexcused_days) == (excused, unexcused)
        ):
            continue
        if any(c.id in locked for c in classes):
            held.append(student_id)
            continue
        await uow.records.set_absence_total(
            {
                "student_id": student_id,
                "school_year_id": year_id,
                "excused_days": excused,
                "unexcused_days": unexcused,
                "source": ATTENDANCE,
                "updated_by": None,
            }
        )
        updated.append(student_id)
        touched.update((c.id, c) for c in classes)
    now = utcnow()
    for class_id in touched:
        await uow.records.bump_class_version(class_id)
        await uow.records.void_reviews(class_id, ("year",), now, "input_changed")
    return updated, held


async def catch_up_after_reopen(
    uow: RecordsUnitOfWork,
    school_id: uuid.UUID,
    year_id: uuid.UUID,
    class_ids: Iterable[uuid.UUID] | None,
) -> list[uuid.UUID]:
    """Bring the totals a reopened year lock held up to the months closed meanwhile."""
    students = await uow.records.students_with_months(year_id, school_id, class_ids)
    updated, _ = await apply_attendance_totals(uow, year_id, students)
    return updated
