"""Class lists (R13) in Excel: the template filled in and imported, every row or none; the list
exported in Vietnamese name order; national ID numbers encrypted at rest."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select

from records.handlers.base import school_today
from records.models import StudentRow
from records.testing import RecordsWorld


def fill_template(template: bytes, rows: list[list[Any]]) -> bytes:
    book = load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    header = next(r for r in range(1, 15) if sheet.cell(r, 1).value == "STT")
    # Clear the template's example rows before writing ours.
    for r in range(header + 1, sheet.max_row + 1):
        for c in range(1, sheet.max_column + 1):
            sheet.cell(r, c).value = None
    for offset, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            sheet.cell(header + offset, column).value = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def row(stt: int, name: str, national_id: str | None, born: str = "12/03/2014") -> list[Any]:
    return [
        stt,
        name,
        born,
        "Nữ",
        "Kinh",
        "Bình Lâm",
        national_id,
        None,
        "Thôn 3",
        None,
        None,
        None,
    ]


async def student_count(world: RecordsWorld) -> int:
    async with world.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(StudentRow)) or 0)


async def test_a_class_list_is_imported_all_or_nothing(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    admin = world.admin_of(school)
    class_id = await world.new_class(school, 6)
    template = await world.client.get("/templates/class-list.xlsx", headers=admin)
    assert template.status_code == 200
    starts = (school_today() - timedelta(days=3)).isoformat()
    ids = [f"0792{uuid.uuid4().int % 10**8:08d}" for _ in range(3)]

    bad = fill_template(
        template.content,
        [row(1, "Ngô Thị Yến", ids[0]), row(2, "", ids[1]), row(3, "Lý Văn Đạt", "12345")],
    )
    before = await student_count(world)
    refused = await world.client.post(
        f"/classes/{class_id}/students/import",
        params={"starts_on": starts},
        files={"file": ("lop.xlsx", bad)},
        headers=admin,
    )
    assert refused.status_code == 422, refused.text
    problems = refused.json()["errors"]
    assert {p["row"] for p in problems} == {problems[0]["row"], problems[0]["row"] + 1}
    assert all(p["message"] for p in problems)
    assert await student_count(world) == before

    good = fill_template(
        template.content,
        [
            row(1, "Ngô Thị Yến", ids[0]),
            row(2, "Đinh Văn An", ids[1]),
            row(3, "Lý Văn Đạt", ids[2]),
        ],
    )
    imported = await world.client.post(
        f"/classes/{class_id}/students/import",
        params={"starts_on": starts},
        files={"file": ("lop.xlsx", good)},
        headers=admin,
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] == 3
    roster = await world.client.get(f"/classes/{class_id}/students", headers=admin)
    assert [s["full_name"] for s in roster.json()] == ["Đinh Văn An", "Lý Văn Đạt", "Ngô Thị Yến"]

    # The same numbers again: refused whole, the number alone tells nothing about the child.
    again = await world.client.post(
        f"/classes/{class_id}/students/import",
        params={"starts_on": starts},
        files={"file": ("lop.xlsx", good)},
        headers=admin,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "national-id-exists"
    assert await student_count(world) == before + 3

    # National ID numbers are ciphertext at rest; the school's admin reads them back.
    async with world.sessions() as session:
        stored = (
            await session.scalars(
                select(StudentRow.national_id_cipher).where(StudentRow.school_id == school)
            )
        ).all()
    assert all(c is not None and ids[0].encode() not in c for c in stored)
    student_id = imported.json()["student_ids"][0]
    profile = await world.client.get(f"/students/{student_id}", headers=admin)
    assert profile.json()["national_id"] in ids
    teacher_view = await world.client.get(
        f"/students/{student_id}", headers=world.leader_of(world.units.other_thcs)
    )
    assert teacher_view.status_code == 403

    exported = await world.client.get(f"/classes/{class_id}/students.xlsx", headers=admin)
    assert exported.status_code == 200
    names = [
        c.value
        for c in load_workbook(io.BytesIO(exported.content)).worksheets[0]["B"]
        if c.value in {"Đinh Văn An", "Lý Văn Đạt", "Ngô Thị Yến"}
    ]
    assert names == ["Đinh Văn An", "Lý Văn Đạt", "Ngô Thị Yến"]
