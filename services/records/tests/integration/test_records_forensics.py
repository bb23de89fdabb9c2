"""Edit forensics through the API: every change of an entry with who, when and how, and whether
it moved a computed result, before and after side by side; also as Excel for inspectors."""

from __future__ import annotations

import io
import uuid
from datetime import date
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from records.testing import RecordsWorld


async def save(
    world: RecordsWorld,
    class_id: uuid.UUID,
    headers: dict[str, str],
    sheet: str,
    cells: list[dict[str, object]],
    on: date,
) -> None:
    url = f"/classes/{class_id}/sheets/{sheet}/term_1"
    current = await world.client.get(url, headers=headers)
    assert current.status_code == 200, current.text
    saved = await world.client.patch(
        url,
        json={"cells": cells, "assessed_on": on.isoformat()},
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert saved.status_code == 200, saved.text


async def test_edits_that_move_a_rating_are_told_apart_from_edits_that_move_nothing(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    first = world.last_year_first
    on = date(first, 12, 1)
    homeroom, teacher = uuid.uuid4(), uuid.uuid4()
    class_id = await world.new_class(school, 6, homeroom=homeroom, year_id=world.last_year_id)
    student, other = await world.add_students(
        class_id, school, ["Ngô Bảo Châu", "Lê Thu Hà"], date(first, 8, 15)
    )
    me = world.teacher(teacher, school)
    for subject in await world.subjects(6, world.last_year_id):
        await world.assign(class_id, school, subject["code"], "term_1", teacher)
        sheet = await world.client.get(
            f"/classes/{class_id}/sheets/{subject['code']}/term_1", headers=me
        )
        columns = [c["code"] for c in sheet.json()["columns"] if c["kind"] != "comment"]
        value = "8" if subject["form"] == "score" else "Đ"
        await save(
            world,
            class_id,
            me,
            subject["code"],
            [
                {"student_id": str(s), "column": c, "value": value}
                for s in (student, other)
                for c in columns
            ],
            on,
        )
    await save(
        world,
        class_id,
        world.teacher(homeroom, school),
        "_conduct",
        [{"student_id": str(s), "column": "rating", "value": "T"} for s in (student, other)],
        on,
    )

    def ck(value: str) -> list[dict[str, object]]:
        return [{"student_id": str(student), "column": "ck", "value": value}]

    # 1: toán's term average falls from 8.0 below 6.5 → learning Tốt becomes Khá.
    await save(world, class_id, me, "toan", ck("2"), on)
    # 2: a comment moves nothing.
    await save(
        world,
        class_id,
        me,
        "toan",
        [{"student_id": str(student), "column": "nx", "value": "Cần cố gắng hơn"}],
        on,
    )
    # 3: the average moves a little, the rating stays Khá.
    await save(world, class_id, me, "toan", ck("2.5"), on)
    # 4: another subject's score moves its average only.
    await save(
        world,
        class_id,
        me,
        "ngu_van",
        [{"student_id": str(student), "column": "ck", "value": "9"}],
        on,
    )

    leader = world.leader_of(school)
    response = await world.client.get(
        f"/students/{student}/forensics",
        params={"school_year_id": str(world.last_year_id), "sheet": "toan", "period": "term_1"},
        headers=leader,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rule_set"] == "tt22_2021"
    changes = body["changes"]
    assert all(c["sheet"] == "toan" for c in changes)
    ck_changes = [c for c in changes if c["column"] == "ck"]
    assert [(c["old"], c["new"]) for c in ck_changes] == [
        (None, "8.0"),
        ("8.0", "2.0"),
        ("2.0", "2.5"),
    ]
    crossing = {r["key"]: r for r in ck_changes[1]["results"]}
    assert crossing["learning.term_1"]["before"] == "T"
    assert crossing["learning.term_1"]["after"] == "K"
    assert crossing["subject_average.term_1.toan"]["before"] == "8.0"
    assert ck_changes[1]["alters_results"] is True
    small = {r["key"] for r in ck_changes[2]["results"]}
    assert "subject_average.term_1.toan" in small
    assert "learning.term_1" not in small
    comment = next(c for c in changes if c["column"] == "nx")
    assert comment["alters_results"] is False
    assert comment["results"] == []
    # Who, when, through which path.
    assert ck_changes[1]["changed_by"] == str(teacher)
    assert ck_changes[1]["via"] == "api"
    assert ck_changes[1]["correction_id"] is None

    one_entry = await world.client.get(
        f"/students/{student}/forensics",
        params={
            "school_year_id": str(world.last_year_id),
            "sheet": "ngu_van",
            "period": "term_1",
            "column": "ck",
        },
        headers=leader,
    )
    assert one_entry.status_code == 200, one_entry.text
    (_, moved) = one_entry.json()["changes"]
    keys = {r["key"] for r in moved["results"]}
    assert "subject_average.term_1.ngu_van" in keys
    assert "learning.term_1" not in keys

    # The class: every change in order, a page at a time.
    page = await world.client.get(
        f"/classes/{class_id}/forensics", params={"period": "term_1", "limit": 10}, headers=leader
    )
    assert page.status_code == 200, page.text
    assert len(page.json()["changes"]) == 10
    assert page.json()["next_after"] is not None
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await world.client.get(
            f"/classes/{class_id}/forensics", params={"after": after}, headers=leader
        )
        assert response.status_code == 200, response.text
        seen += response.json()["changes"]
        if response.json()["next_after"] is None:
            break
        after = response.json()["next_after"]
    ids = [c["id"] for c in seen]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    by_id = {c["id"]: c for c in seen}
    assert by_id[ck_changes[1]["id"]]["results"] == ck_changes[1]["results"]
    assert {c["student_id"] for c in seen} == {str(student), str(other)}

    # A teacher who neither teaches nor leads the class reads none of it.
    stranger = await world.client.get(
        f"/classes/{class_id}/forensics", headers=world.teacher(uuid.uuid4(), school)
    )
    assert stranger.status_code == 403

    # Excel for inspectors: one row per change, results before and after side by side.
    inspector = world.as_(uuid.uuid4(), f"district_inspector@{world.units.district}")
    xlsx = await world.client.get(f"/classes/{class_id}/forensics.xlsx", headers=inspector)
    assert xlsx.status_code == 200, xlsx.text
    book = load_workbook(io.BytesIO(xlsx.content))
    table = book.active
    assert isinstance(table, Worksheet)
    header = [c.value for c in table[3]]
    assert header[:3] == ["STT", "Học sinh", "Sổ (môn)"]
    assert "Kết quả trước khi sửa" in header
    assert "Kết quả sau khi sửa" in header
    rows = list(table.iter_rows(min_row=4, values_only=True))
    assert len(rows) == len(seen)
    before_col, after_col = (
        header.index("Kết quả trước khi sửa"),
        header.index("Kết quả sau khi sửa"),
    )
    crossing_row = rows[ids.index(ck_changes[1]["id"])]
    assert "learning.term_1: T" in str(crossing_row[before_col])
    assert "learning.term_1: K" in str(crossing_row[after_col])
    comment_row = rows[ids.index(comment["id"])]
    assert comment_row[before_col] == "Không đổi"
