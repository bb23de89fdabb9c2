"""Grade sheets through the HTTP API: read, save under If-Match, who may write, bad input (R18,
R19, R24), Excel round trip."""

from __future__ import annotations

import asyncio
import io
import uuid
from datetime import date, timedelta

import httpx
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from common.testing import assert_problem
from records.handlers.base import school_today
from records.models import EntryChangeRow, EntryRow
from records.testing import RecordsWorld

NAMES = ["Trần Văn Bình", "Nguyễn Thị An", "Lê Minh Anh", "Phạm Thu Ánh"]


async def grade6_class(world: RecordsWorld) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A grade-6 class of this year with four students and a maths teacher for term 1."""
    school = world.units.thcs
    class_id = await world.new_class(school, 6)
    students = await world.add_students(class_id, school, NAMES, school_today() - timedelta(days=1))
    teacher = uuid.uuid4()
    await world.assign(class_id, school, "toan", "term_1", teacher)
    return class_id, teacher, students


def sheet_url(class_id: uuid.UUID, sheet: str = "toan", period: str = "term_1") -> str:
    return f"/classes/{class_id}/sheets/{sheet}/{period}"


async def entry_count(world: RecordsWorld) -> int:
    async with world.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(EntryRow)) or 0)


async def test_a_teacher_reads_the_sheet_and_saves_a_column(records_world: RecordsWorld) -> None:
    world = records_world
    class_id, teacher, students = await grade6_class(world)
    me = world.teacher(teacher, world.units.thcs)

    sheet = await world.client.get(sheet_url(class_id), headers=me)
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["etag"] == '"0"'
    body = sheet.json()
    # R18: Toán has 140 periods a year, so four regular assessments a term (DOMAIN §1.3).
    assert [c["code"] for c in body["columns"]] == ["tx1", "tx2", "tx3", "tx4", "gk", "ck", "nx"]
    # Vietnamese order: by given name (An, Anh, Ánh, Bình), then family and middle names.
    assert [r["full_name"] for r in body["rows"]] == [
        "Nguyễn Thị An",
        "Lê Minh Anh",
        "Phạm Thu Ánh",
        "Trần Văn Bình",
    ]

    cells = [
        {"student_id": str(s), "column": "tx1", "value": v}
        for s, v in zip(students, ["8", "7,5", 9.5, "10"], strict=True)
    ]
    saved = await world.client.patch(
        sheet_url(class_id), json={"cells": cells}, headers={**me, "If-Match": '"0"'}
    )
    assert saved.status_code == 200, saved.text
    assert saved.headers["etag"] == '"1"'
    by_student = {r["student_id"]: r["cells"] for r in saved.json()["rows"]}
    assert [by_student[str(s)]["tx1"] for s in students] == ["8.0", "7.5", "9.5", "10.0"]
    assert (await world.outbox_types()).count("vn.hsdt.records.assessment.changed.v1") >= 1

    # Reading it back: the leader of the school reads every sheet; the history has each cell.
    again = await world.client.get(sheet_url(class_id), headers=world.leader_of(world.units.thcs))
    assert again.json()["version"] == 1
    async with world.sessions() as session:
        history = (
            await session.scalars(
                select(EntryChangeRow).where(EntryChangeRow.student_id == students[0])
            )
        ).all()
    assert [(h.column, h.old_value, h.new_value, h.via) for h in history] == [
        ("tx1", None, "8.0", "api")
    ]


async def test_two_saves_from_one_version_one_wins_the_other_gets_412(
    records_world: RecordsWorld,
) -> None:
    # R19: two devices of the same teacher (or the teacher and school software) save at once.
    world = records_world
    class_id, teacher, students = await grade6_class(world)
    me = world.teacher(teacher, world.units.thcs)

    async def save(value: str) -> httpx.Response:
        return await world.client.patch(
            sheet_url(class_id),
            json={"cells": [{"student_id": str(students[0]), "column": "gk", "value": value}]},
            headers={**me, "If-Match": '"0"'},
        )

    first, second = await asyncio.gather(save("6"), save("7"))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 412], (first.text, second.text)
    loser = first if first.status_code == 412 else second
    body = assert_problem(loser, 412, "precondition-failed")
    assert body["current_version"] == 1
    assert loser.headers["etag"] == '"1"'
    winner = first if first.status_code == 200 else second
    kept = {r["student_id"]: r["cells"] for r in winner.json()["rows"]}[str(students[0])]["gk"]
    sheet = await world.client.get(sheet_url(class_id), headers=me)
    assert {r["student_id"]: r["cells"] for r in sheet.json()["rows"]}[str(students[0])][
        "gk"
    ] == kept


async def test_bad_cells_are_all_reported_and_nothing_is_written(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    class_id, teacher, students = await grade6_class(world)
    me = world.teacher(teacher, world.units.thcs)
    before = await entry_count(world)
    response = await world.client.patch(
        sheet_url(class_id),
        json={
            "cells": [
                {"student_id": str(students[0]), "column": "tx1", "value": "9"},  # fine
                {"student_id": str(students[1]), "column": "tx1", "value": "7.25"},  # two decimals
                {"student_id": str(students[2]), "column": "tx2", "value": 11},  # off the scale
                {"student_id": str(students[3]), "column": "tx2", "value": "Đ"},  # a level
                {"student_id": str(uuid.uuid4()), "column": "tx2", "value": "5"},  # not in class
                {"student_id": str(students[3]), "column": "tx9", "value": "5"},  # no such column
            ]
        },
        headers={**me, "If-Match": '"0"'},
    )
    body = assert_problem(response, 422, "cells-invalid")
    codes = sorted(e["code"] for e in body["errors"])
    assert codes == sorted(["cell-invalid"] * 3 + ["student-not-in-class", "column-unknown"]), body
    assert all(e["message"] for e in body["errors"])
    assert await entry_count(world) == before
    sheet = await world.client.get(sheet_url(class_id), headers=me)
    assert sheet.json()["version"] == 0


async def test_each_refusal_is_a_clear_problem(records_world: RecordsWorld) -> None:
    world = records_world
    class_id, teacher, students = await grade6_class(world)
    me = world.teacher(teacher, world.units.thcs)
    cell = [{"student_id": str(students[0]), "column": "tx1", "value": "8"}]
    url = sheet_url(class_id)

    # Without If-Match: 428; with a stale one: 412.
    assert_problem(
        await world.client.patch(url, json={"cells": cell}, headers=me),
        428,
        "precondition-required",
    )
    assert_problem(
        await world.client.patch(url, json={"cells": cell}, headers={**me, "If-Match": '"7"'}),
        412,
        "precondition-failed",
    )
    # R24: another teacher of the school, the homeroom teacher, even the leader: not assigned.
    for other in (
        world.teacher(uuid.uuid4(), world.units.thcs),
        world.leader_of(world.units.thcs),
    ):
        response = await world.client.patch(
            url, json={"cells": cell}, headers={**other, "If-Match": '"0"'}
        )
        assert response.status_code == 403, response.text
    # A subject grade 6 does not have (Tiếng Việt is primary).
    assert_problem(
        await world.client.get(sheet_url(class_id, "tieng_viet"), headers=me),
        404,
        "subject-not-in-grade",
    )
    # A primary checkpoint in a secondary class.
    assert_problem(
        await world.client.get(sheet_url(class_id, "toan", "end_year"), headers=me),
        422,
        "period-invalid",
    )
    # Dated outside the term: term 1 of this year does not hold a day of last year.
    last_year = date(world.last_year_first, 12, 1).isoformat()
    assert_problem(
        await world.client.patch(
            url, json={"cells": cell, "assessed_on": last_year}, headers={**me, "If-Match": '"0"'}
        ),
        422,
        "entry-outside-window",
    )
    # A student who joins the class later is not assessable before that day.
    late = await world.add_students(class_id, world.units.thcs, ["Võ Văn Muộn"], school_today())
    response = await world.client.patch(
        url,
        json={
            "cells": [{"student_id": str(late[0]), "column": "tx1", "value": "8"}],
            "assessed_on": (school_today() - timedelta(days=1)).isoformat(),
        },
        headers={**me, "If-Match": '"0"'},
    )
    body = assert_problem(response, 422, "cells-invalid")
    assert [e["code"] for e in body["errors"]] == ["student-not-enrolled"]
    sheet = await world.client.get(url, headers=me)
    assert sheet.json()["version"] == 0


async def test_excel_round_trip_of_a_grade_sheet(records_world: RecordsWorld) -> None:
    # R25: the sheet a teacher keeps in Excel and the system's values agree, both ways.
    world = records_world
    class_id, teacher, _students = await grade6_class(world)
    me = world.teacher(teacher, world.units.thcs)
    exported = await world.client.get(f"{sheet_url(class_id)}/xlsx", headers=me)
    assert exported.status_code == 200, exported.text
    book = load_workbook(io.BytesIO(exported.content))
    sheet = book.worksheets[0]
    header_row = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "STT")
    headers = [c.value for c in sheet[header_row]]
    tx1 = headers.index("ĐĐGtx 1") + 1
    for offset, value in enumerate([8, 7.5, 6, 9]):
        sheet.cell(header_row + 1 + offset, tx1).value = value
    buffer = io.BytesIO()
    book.save(buffer)
    imported = await world.client.post(
        f"{sheet_url(class_id)}/import",
        files={"file": ("so-diem.xlsx", buffer.getvalue())},
        headers=me,
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["version"] == 1
    values = sorted(r["cells"].get("tx1") for r in imported.json()["rows"])
    assert values == ["6.0", "7.5", "8.0", "9.0"]

    # The same workbook again (version 0) is stale now; a bad cell in a fresh export is
    # reported by row and column and changes nothing.
    stale = await world.client.post(
        f"{sheet_url(class_id)}/import", files={"file": ("a.xlsx", buffer.getvalue())}, headers=me
    )
    assert_problem(stale, 412, "precondition-failed")
    fresh = await world.client.get(f"{sheet_url(class_id)}/xlsx", headers=me)
    book = load_workbook(io.BytesIO(fresh.content))
    book.worksheets[0].cell(header_row + 2, tx1).value = 12
    buffer = io.BytesIO()
    book.save(buffer)
    before = await entry_count(world)
    refused = await world.client.post(
        f"{sheet_url(class_id)}/import", files={"file": ("b.xlsx", buffer.getvalue())}, headers=me
    )
    body = assert_problem(refused, 422, "workbook-invalid")
    assert body["errors"][0]["row"] == header_row + 2
    assert body["errors"][0]["column"] == get_column_letter(tx1)
    assert "10" in body["errors"][0]["message"]
    assert await entry_count(world) == before
    # And an importer who may not write the sheet is refused before anything is read.
    other = world.teacher(uuid.uuid4(), world.units.thcs)
    response = await world.client.post(
        f"{sheet_url(class_id)}/import", files={"file": ("c.xlsx", fresh.content)}, headers=other
    )
    assert response.status_code == 403


async def test_excel_import_works_when_a_student_has_left_the_class(
    records_world: RecordsWorld,
) -> None:
    # The workbook sends every row back, the left student's (unchanged, empty) cells too.
    world = records_world
    school = world.units.thcs
    class_id = await world.new_class(school, 6)
    staying, leaving = await world.add_students(
        class_id, school, ["Kha Minh Tâm", "Âu Thị Vân"], school_today() - timedelta(days=2)
    )
    teacher = uuid.uuid4()
    await world.assign(class_id, school, "toan", "term_1", teacher)
    me = world.teacher(teacher, school)
    left = await world.client.post(
        f"/students/{leaving}/movements",
        json={"kind": "drop_out", "effective_on": school_today().isoformat()},
        headers=world.admin_of(school),
    )
    assert left.status_code == 201, left.text
    exported = await world.client.get(f"{sheet_url(class_id)}/xlsx", headers=me)
    book = load_workbook(io.BytesIO(exported.content))
    sheet = book.worksheets[0]
    header_row = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "STT")
    tx1 = [c.value for c in sheet[header_row]].index("ĐĐGtx 1") + 1
    names = [sheet.cell(r, 3).value for r in range(header_row + 1, header_row + 3)]
    sheet.cell(header_row + 1 + names.index("Kha Minh Tâm"), tx1).value = 8
    buffer = io.BytesIO()
    book.save(buffer)
    imported = await world.client.post(
        f"{sheet_url(class_id)}/import", files={"file": ("a.xlsx", buffer.getvalue())}, headers=me
    )
    assert imported.status_code == 200, imported.text
    cells = {r["student_id"]: r["cells"] for r in imported.json()["rows"]}
    assert cells[str(staying)] == {"tx1": "8.0"}
    assert cells[str(leaving)] == {}
