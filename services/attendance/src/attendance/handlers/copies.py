"""Consumers that keep attendance's copies of identity's org tree and records' years and lists.

Years and class lists arrive as whole-state events: the copy is replaced by the newest one,
newest by CloudEvents ``sequence`` (the producer's outbox order), so redeliveries and events
overtaking each other change nothing.
"""

from __future__ import annotations

from attendance.handlers.base import CONTEXTS
from attendance.models import ClassRow, OrgUnitRow, SchoolYearRow
from attendance.uow import AttendanceUnitOfWork
from common.events.base import CloudEvent
from common.events.identity import OrgLevel, OrgUnitCreated
from common.events.records import ClassRosterChanged, SchoolYearScheduled, Term
from common.vietnamese import name_sort_key


def _sequence(envelope: CloudEvent) -> str:
    # Zero-padded to 20 digits by the relay, so strings compare as numbers.
    return envelope.sequence or "0" * 20


async def record_org_unit(event: OrgUnitCreated, uow: AttendanceUnitOfWork) -> None:
    """``identity.orgunit.created``: keep the copy of the tree (idempotent)."""
    async with uow:
        await uow.repo.upsert_org_unit(
            OrgUnitRow(
                id=event.unit_id,
                kind=event.kind.value,
                code=event.code,
                parent_id=event.parent_id,
                province_id=event.province_id or event.unit_id,
                district_id=event.unit_id if event.kind is OrgLevel.DISTRICT else event.district_id,
            )
        )
        await uow.commit()


async def record_school_year(
    event: SchoolYearScheduled, uow: AttendanceUnitOfWork, envelope: CloudEvent
) -> None:
    """``records.schoolyear.scheduled``: the year's dates and its terms."""
    sequence = _sequence(envelope)
    terms = sorted(
        (
            [t.starts_on.isoformat(), t.ends_on.isoformat()]
            for t in event.terms
            if t.term is not Term.YEAR
        ),
    )
    async with uow:
        row = await uow.repo.school_year(event.school_year_id)
        if row is None:
            uow.repo.add(
                SchoolYearRow(
                    id=event.school_year_id,
                    province_id=event.province_id,
                    code=event.school_year,
                    starts_on=event.starts_on,
                    ends_on=event.ends_on,
                    terms=terms,
                    sequence=sequence,
                )
            )
        elif row.sequence < sequence:
            row.starts_on, row.ends_on, row.terms, row.sequence = (
                event.starts_on,
                event.ends_on,
                terms,
                sequence,
            )
        await uow.commit()
        CONTEXTS.clear()


async def record_roster(
    event: ClassRosterChanged, uow: AttendanceUnitOfWork, envelope: CloudEvent
) -> None:
    """``records.class.roster_changed``: the class, its homeroom teacher and its list."""
    sequence = _sequence(envelope)
    async with uow:
        row = await uow.repo.class_(event.class_id, for_update=True)
        if row is not None and row.sequence >= sequence:
            return
        if row is None:
            row = ClassRow(id=event.class_id)
            uow.repo.add(row)
        row.school_id = event.school_id
        row.district_id = event.district_id
        row.province_id = event.province_id
        row.school_year = event.school_year
        row.grade = event.grade
        row.label = event.label
        row.homeroom_teacher_id = event.homeroom_teacher_id
        row.sequence = sequence
        row.updated_at = event.changed_at
        await uow.repo.flush()
        await uow.repo.replace_roster(
            event.class_id,
            [
                {
                    "class_id": event.class_id,
                    "student_id": s.student_id,
                    "starts_on": s.starts_on,
                    "ends_on": s.ends_on,
                    "full_name": s.full_name,
                    "sort_key": name_sort_key(s.full_name),
                }
                for s in event.students
            ],
        )
        await uow.commit()
