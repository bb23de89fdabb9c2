"""The calendar and curricula (R32, R35), and the sheets each level has (R15)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from records.handlers.base import school_today
from records.testing import RecordsWorld, calendar_body


async def test_a_curriculum_change_sets_the_regular_assessment_count(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    admin = world.as_(world.province_admin, f"province_admin@{world.units.province}")
    url = f"/school-years/{world.year_id}/curriculum"
    grade6 = {
        s["code"]: s
        for s in (await world.client.get(url, params={"grade": 6}, headers=admin)).json()
    }
    # DOMAIN §1.3: Toán 140 periods → 4; GDCD 35 → 2; comment-only GDTC → 2.
    assert (grade6["toan"]["regular_count"], grade6["gdcd"]["regular_count"]) == (4, 2)
    assert grade6["gdtc"]["form"] == "comment"
    assert grade6["gdtc"]["regular_count"] == 2

    changed = await world.client.put(
        f"{url}/6/gdcd",
        json={"name_vi": "Giáo dục công dân", "form": "score", "periods_per_year": 70},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["regular_count"] == 3
    # A school admin does not change the province's curriculum; a primary form in grade 6 is wrong.
    refused = await world.client.put(
        f"{url}/6/gdcd",
        json={"name_vi": "GDCD", "form": "score", "periods_per_year": 35},
        headers=world.admin_of(world.units.thcs),
    )
    assert refused.status_code == 403
    wrong = await world.client.put(
        f"{url}/6/gdcd", json={"name_vi": "GDCD", "form": "primary"}, headers=admin
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "subject-form-invalid"
    after = {
        s["code"]: s
        for s in (await world.client.get(url, params={"grade": 6}, headers=admin)).json()
    }
    assert after["gdcd"]["regular_count"] == 3


async def test_a_school_year_with_impossible_dates_or_twice_is_refused(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    admin = world.as_(world.province_admin, f"province_admin@{world.units.province}")
    again = await world.client.post(
        "/school-years",
        json=calendar_body(world.units.province, world.last_year_first),
        headers=admin,
    )
    assert again.status_code == 409
    body = calendar_body(world.units.province, world.last_year_first - 5)
    body["periods"][1]["starts_on"] = body["periods"][0]["starts_on"]  # term 2 overlaps term 1
    overlap = await world.client.post("/school-years", json=body, headers=admin)
    assert overlap.status_code == 422
    assert overlap.json()["code"] == "calendar-invalid"
    # A district admin reads the calendar of its province but does not open a year.
    district = world.as_(uuid.uuid4(), f"district_admin@{world.units.district}")
    denied = await world.client.post(
        "/school-years",
        json=calendar_body(world.units.province, world.last_year_first - 6),
        headers=district,
    )
    assert denied.status_code == 403
    years = await world.client.get("/school-years", headers=district)
    assert {y["id"] for y in years.json()} >= {str(world.year_id), str(world.last_year_id)}


async def test_primary_sheets_have_levels_scores_at_tests_and_fifteen_qualities(
    records_world: RecordsWorld,
) -> None:
    # R15: primary is evaluated at four checkpoints; grade 5 has a periodic test in Toán at the
    # end of term 1 (DOMAIN §2.3), but not Đạo đức.
    world = records_world
    school, homeroom, teacher = world.units.primary, uuid.uuid4(), uuid.uuid4()
    class_id = await world.new_class(school, 5, homeroom=homeroom)
    await world.add_students(class_id, school, ["Mai Anh Thư"], school_today() - timedelta(days=1))
    await world.assign(class_id, school, "toan", "term_1", teacher)
    me = world.teacher(teacher, school)
    toan = await world.client.get(f"/classes/{class_id}/sheets/toan/end_term_1", headers=me)
    assert [c["code"] for c in toan.json()["columns"]] == ["level", "score", "nx"]
    mid = await world.client.get(f"/classes/{class_id}/sheets/toan/mid_term_1", headers=me)
    assert [c["code"] for c in mid.json()["columns"]] == ["level", "score", "nx"]
    leader = world.leader_of(school)
    ethics = await world.client.get(
        f"/classes/{class_id}/sheets/dao_duc/end_term_1", headers=leader
    )
    assert [c["code"] for c in ethics.json()["columns"]] == ["level", "nx"]
    qualities = await world.client.get(
        f"/classes/{class_id}/sheets/_qualities/end_term_1", headers=world.teacher(homeroom, school)
    )
    assert len(qualities.json()["columns"]) == 16
    # A secondary term and the conduct sheet do not exist in primary.
    term = await world.client.get(f"/classes/{class_id}/sheets/toan/term_1", headers=me)
    assert term.status_code == 422
    conduct = await world.client.get(
        f"/classes/{class_id}/sheets/_conduct/end_term_1", headers=leader
    )
    assert conduct.status_code == 422
    # A primary score is a whole number from 1 to 10.
    student = toan.json()["rows"][0]["student_id"]
    saved = await world.client.patch(
        f"/classes/{class_id}/sheets/toan/end_term_1",
        json={"cells": [{"student_id": student, "column": "score", "value": "8.5"}]},
        headers={**me, "If-Match": toan.headers["etag"]},
    )
    assert saved.status_code == 422
    assert saved.json()["errors"][0]["code"] == "cell-invalid"
