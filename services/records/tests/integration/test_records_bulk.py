"""The bulk load path: a generated class's whole year goes in by COPY with the API's checks."""

from __future__ import annotations

import random
import sys
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from common.errors import Problem
from common.events.records import ClassRosterChanged
from records.testing import REPO

# The generator lives in the repository's bench/, which is no installed package: the test loads
# classes exactly as ``python -m bench.province`` does.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.province import (
    GRACE_DAYS,
    class_year_sheets,
    loader_actor,
    period_dates,
    profiles,
)
from records.bulk import BulkSheet, enrol_students, load_sheets
from records.domain.curriculum import Period
from records.handlers.calendar import spec_of
from records.handlers.sheets import CellInput, CellsInvalid
from records.models import EnrolmentRow, EntryChangeRow, EntryRow, SheetRow, StudentRow
from records.testing import RecordsWorld
from records.uow import RecordsUnitOfWork


def uow(world: RecordsWorld) -> RecordsUnitOfWork:
    return RecordsUnitOfWork(world.sessions, source="records")


async def generated_class(
    world: RecordsWorld, grade: int, size: int, seed: int
) -> tuple[uuid.UUID, list[BulkSheet], int]:
    """A class of the THCS with ``size`` generated students and its whole year of sheets."""
    school = world.units.thcs
    class_id = await world.new_class(school, grade)
    actor = loader_actor(world.units.province, uuid.uuid4())
    first = int((await _year_code(world))[:4])
    rng = random.Random(seed)
    ids = await enrol_students(
        uow(world),
        actor,
        class_id=class_id,
        profiles=profiles(rng, size, grade, first),
        starts_on=date(first, 9, 5),
    )
    async with uow(world) as u:
        subjects = [spec_of(s) for s in await u.records.curriculum(world.year_id, grade)]
    students = [(sid, rng.uniform(3, 9.5)) for sid in ids]
    return class_id, class_year_sheets(rng, grade, subjects, students, period_dates(first)), first


async def _year_code(world: RecordsWorld) -> str:
    async with uow(world) as u:
        year = await u.records.school_year(world.year_id)
        assert year is not None
        return year.code


async def count(world: RecordsWorld, model: type, class_id: uuid.UUID) -> int:
    async with world.sessions() as session:
        if model is SheetRow:
            query = select(func.count()).where(SheetRow.class_id == class_id)
        else:
            query = (
                select(func.count())
                .select_from(model)
                .join(SheetRow, SheetRow.id == model.sheet_id)  # type: ignore[attr-defined]
                .where(SheetRow.class_id == class_id)
            )
        return int(await session.scalar(query) or 0)


async def test_a_generated_class_year_loads(records_world: RecordsWorld) -> None:
    world = records_world
    class_id, sheets, first = await generated_class(world, 6, 12, seed=1)
    actor = loader_actor(world.units.province, uuid.uuid4())
    written = await load_sheets(
        uow(world), actor, class_id, sheets, grace_days=GRACE_DAYS, today=date(first + 1, 7, 31)
    )
    # Twelve subjects and conduct, both terms; every score column filled for every student.
    assert len(sheets) == 26
    assert written == sum(len([c for c in s.cells if c.value is not None]) for s in sheets)
    assert await count(world, EntryRow, class_id) == written
    assert await count(world, EntryChangeRow, class_id) == written
    assert await count(world, SheetRow, class_id) == 26
    async with world.sessions() as session:
        vias = set(
            await session.scalars(
                select(EntryChangeRow.via)
                .join(SheetRow, SheetRow.id == EntryChangeRow.sheet_id)
                .where(SheetRow.class_id == class_id)
            )
        )
        versions = set(
            await session.scalars(select(SheetRow.version).where(SheetRow.class_id == class_id))
        )
    assert vias == {"bulk"}
    assert versions == {1}


async def test_a_bad_cell_is_refused_and_nothing_is_written(records_world: RecordsWorld) -> None:
    world = records_world
    class_id, sheets, first = await generated_class(world, 7, 5, seed=2)
    actor = loader_actor(world.units.province, uuid.uuid4())
    victim = sheets[3]
    student = victim.cells[0].student_id
    stranger = uuid.uuid4()
    bad = BulkSheet(
        victim.sheet,
        victim.period,
        victim.assessed_on,
        (
            *victim.cells[1:],
            CellInput(student, victim.cells[0].column, "7.25"),  # two decimals
            CellInput(stranger, "tx1", "8"),  # not in the class
            CellInput(student, "tx99", "8"),  # no such column
        ),
    )
    with pytest.raises(CellsInvalid) as refused:
        await load_sheets(
            uow(world),
            actor,
            class_id,
            [*sheets[:3], bad, *sheets[4:]],
            grace_days=GRACE_DAYS,
            today=date(first + 1, 7, 31),
        )
    codes = sorted(e.code for e in refused.value.errors)
    assert codes == ["cell-invalid", "column-unknown", "student-not-in-class"]
    assert await count(world, SheetRow, class_id) == 0
    assert await count(world, EntryRow, class_id) == 0
    assert await count(world, EntryChangeRow, class_id) == 0


async def test_bulk_entries_read_back_through_the_sheet_api(records_world: RecordsWorld) -> None:
    world = records_world
    class_id, sheets, first = await generated_class(world, 8, 6, seed=3)
    actor = loader_actor(world.units.province, uuid.uuid4())
    term_1 = [s for s in sheets if s.period is Period.TERM_1]
    await load_sheets(
        uow(world), actor, class_id, term_1, grace_days=GRACE_DAYS, today=date(first + 1, 7, 31)
    )
    toan = next(s for s in term_1 if s.sheet == "toan")
    response = await world.client.get(
        f"/classes/{class_id}/sheets/toan/term_1", headers=world.admin_of(world.units.thcs)
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    body = response.json()
    read = {
        (uuid.UUID(row["student_id"]), column): value
        for row in body["rows"]
        for column, value in row["cells"].items()
        if value is not None
    }
    # What went in, as parse_cell spells it: "7,5" → "7.5", 8 → "8.0", "Đạt" → "D".
    from records.domain.cells import parse_cell  # noqa: PLC0415
    from records.domain.sheets import subject_columns  # noqa: PLC0415

    async with uow(world) as u:
        subject = await u.records.curriculum_subject(world.year_id, 8, "toan")
        assert subject is not None
    kinds = {c.code: c.kind for c in subject_columns(spec_of(subject), Period.TERM_1)}
    expected = {(c.student_id, c.column): parse_cell(kinds[c.column], c.value) for c in toan.cells}
    assert read == expected
    # A teacher's later save through the API continues from the bulk version.
    teacher = uuid.uuid4()
    await world.assign(class_id, world.units.thcs, "toan", "term_1", teacher)
    student = toan.cells[0].student_id
    saved = await world.client.patch(
        f"/classes/{class_id}/sheets/toan/term_1",
        json={"cells": [{"student_id": str(student), "column": "tx1", "value": "9"}]},
        headers={**world.teacher(teacher, world.units.thcs), "If-Match": '"1"'},
    )
    assert saved.status_code == 200, saved.text
    assert saved.headers["etag"] == '"2"'


async def test_a_bulk_load_never_overwrites_a_sheet(records_world: RecordsWorld) -> None:
    world = records_world
    class_id, sheets, first = await generated_class(world, 9, 4, seed=4)
    actor = loader_actor(world.units.province, uuid.uuid4())
    end = date(first + 1, 7, 31)
    await load_sheets(uow(world), actor, class_id, sheets[:1], grace_days=GRACE_DAYS, today=end)
    before = await count(world, EntryRow, class_id)
    with pytest.raises(Problem) as refused:
        await load_sheets(uow(world), actor, class_id, sheets[:2], grace_days=GRACE_DAYS, today=end)
    assert (refused.value.status, refused.value.code) == (409, "sheet-exists")
    assert await count(world, EntryRow, class_id) == before
    assert await count(world, SheetRow, class_id) == 1


async def test_a_bulk_enrolment_publishes_the_class_list_once(records_world: RecordsWorld) -> None:
    # Attendance takes the roll from the list (R14): a bulk load must not leave it out of date.
    world = records_world
    class_id, _, _ = await generated_class(world, 7, 5, seed=4)
    created, loaded = await world.outbox_events(ClassRosterChanged.event_type, class_id)
    assert created["students"] == []
    assert len(loaded["students"]) == 5
    async with world.sessions() as session:
        rows = await session.execute(
            select(StudentRow.id, StudentRow.full_name)
            .join(EnrolmentRow, EnrolmentRow.student_id == StudentRow.id)
            .where(EnrolmentRow.class_id == class_id)
        )
        names = {row.id: row.full_name for row in rows}
    assert {uuid.UUID(s["student_id"]): s["full_name"] for s in loaded["students"]} == names
    assert all(s["ends_on"] is None for s in loaded["students"])
