"""A year of a class through the API: every sheet filled, results computed with explanations,
confirmed by the homeroom teacher (R17), approved by the leader (R12), voided by a change; a
student transferred mid-year keeps the first term with the first school (R14)."""

from __future__ import annotations

import uuid
from datetime import date

from common.testing import assert_problem
from records.testing import RecordsWorld


async def test_a_year_is_computed_explained_confirmed_and_approved(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    first = world.last_year_first
    class_id, homeroom, teacher, (good, weak) = await world.last_years_grade6(
        school, ["Đỗ Minh Khoa", "Bùi Văn Long"]
    )
    me = world.teacher(teacher, school)
    gvcn = world.teacher(homeroom, school)
    for subject in await world.subjects(6, world.last_year_id):
        scored = subject["form"] == "score"
        for term, on in (("term_1", date(first, 12, 1)), ("term_2", date(first + 1, 4, 1))):
            values: dict[uuid.UUID, object] = (
                {good: "9", weak: "4"} if scored else {good: "Đ", weak: "Đ"}
            )
            await world.fill(class_id, me, subject["code"], term, values, on)
    for term, on in (("term_1", date(first, 12, 20)), ("term_2", date(first + 1, 5, 20))):
        await world.fill(class_id, gvcn, "_conduct", term, {good: "T", weak: "K"}, on)
    response = await world.client.put(
        f"/classes/{class_id}/absences/{weak}",
        json={"excused_days": 30, "unexcused_days": 20},
        headers=gvcn,
    )
    assert response.status_code == 204, response.text

    results = await world.client.get(
        f"/classes/{class_id}/results/year", headers=world.leader_of(school)
    )
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["rule_set"] == "tt22_2021"
    by_student = {s["student_id"]: {f["key"]: f for f in s["findings"]} for s in body["students"]}
    mine = by_student[str(good)]
    assert mine["learning.year"]["value"] == "T"
    assert mine["conduct.year"]["value"] == "T"
    assert mine["award"]["value"] == "xuat_sac"
    assert mine["subject_average.year.toan"]["value"] == "9.0"
    # Every result explains itself: rule set, clause, inputs and a reason in Vietnamese.
    for finding in mine.values():
        assert finding["rule_set"] == "tt22_2021"
        assert finding["clause"]
        assert finding["reason_vi"]
    theirs = by_student[str(weak)]
    # 50 days absent (more than 45) decides retention, whatever else (DOMAIN §1.9).
    assert theirs["promotion"]["value"] == "retained"
    assert "45" in theirs["promotion"]["reason_vi"] or theirs["promotion"]["inputs"]

    # The leader cannot approve what the homeroom teacher has not confirmed.
    leader = world.leader_of(school)
    assert_problem(
        await world.client.post(f"/classes/{class_id}/results/year/approve", headers=leader),
        409,
        "not-confirmed",
    )
    # Only the homeroom teacher confirms (R17): not the subject teacher.
    denied = await world.client.post(f"/classes/{class_id}/results/year/confirm", headers=me)
    assert denied.status_code == 403
    confirmed = await world.client.post(f"/classes/{class_id}/results/year/confirm", headers=gvcn)
    assert confirmed.status_code == 201, confirmed.text
    approved = await world.client.post(f"/classes/{class_id}/results/year/approve", headers=leader)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_at"]
    assert "vn.hsdt.records.results.approved.v1" in await world.outbox_types()

    # A change of any input voids the confirmation and the approval with it.
    await world.fill(class_id, me, "toan", "term_2", {good: "8"}, date(first + 1, 4, 2))
    after = (await world.client.get(f"/classes/{class_id}/results/year", headers=leader)).json()
    assert after["review"] is None
    assert_problem(
        await world.client.post(f"/classes/{class_id}/results/year/approve", headers=leader),
        409,
        "not-confirmed",
    )


async def test_confirming_incomplete_results_is_refused(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    homeroom = uuid.uuid4()
    class_id = await world.new_class(school, 7, homeroom=homeroom, year_id=world.last_year_id)
    await world.add_students(class_id, school, ["Hồ Thị Mai"], date(world.last_year_first, 8, 15))
    body = assert_problem(
        await world.client.post(
            f"/classes/{class_id}/results/term_1/confirm",
            headers=world.teacher(homeroom, school),
        ),
        409,
        "results-incomplete",
    )
    (missing,) = body["missing"].values()
    assert "learning.term_1" in missing


async def test_a_transfer_mid_year_keeps_the_first_term_with_the_first_school(
    records_world: RecordsWorld,
) -> None:
    # R14: the history travels with the student; the first term stays where it was made.
    world = records_world
    first = world.last_year_first
    class_a, _, teacher_a, (moving, _stays) = await world.last_years_grade6(
        world.units.thcs, ["Lâm Gia Huy", "Tạ Ngọc Lan"]
    )
    await world.fill(
        class_a,
        world.teacher(teacher_a, world.units.thcs),
        "toan",
        "term_1",
        {moving: "7.5"},
        date(first, 12, 1),
    )
    out = await world.client.post(
        f"/students/{moving}/movements",
        json={
            "kind": "transfer_out",
            "effective_on": f"{first + 1}-01-20",
            "to_school_id": str(world.units.other_thcs),
        },
        headers=world.admin_of(world.units.thcs),
    )
    assert out.status_code == 201, out.text
    assert "vn.hsdt.records.student.transferred.v1" in await world.outbox_types()
    # The receiving school places the student; the leaving school's admin cannot.
    class_b = await world.new_class(world.units.other_thcs, 6, year_id=world.last_year_id)
    joined = await world.client.post(
        f"/students/{moving}/movements",
        json={
            "kind": "transfer_in",
            "effective_on": f"{first + 1}-01-21",
            "to_class_id": str(class_b),
        },
        headers=world.admin_of(world.units.other_thcs),
    )
    assert joined.status_code == 201, joined.text

    # The first school's term-1 sheet still shows the student, with the last day in the class.
    sheet_a = await world.client.get(
        f"/classes/{class_a}/sheets/toan/term_1", headers=world.leader_of(world.units.thcs)
    )
    row = next(r for r in sheet_a.json()["rows"] if r["student_id"] == str(moving))
    assert row["cells"]["tx1"] == "7.5"
    assert row["in_class_until"] == f"{first + 1}-01-19"
    # The new school reads the student's year, with the first term's average from school A.
    year = await world.client.get(
        f"/students/{moving}/results",
        params={"school_year_id": str(world.last_year_id)},
        headers=world.leader_of(world.units.other_thcs),
    )
    assert year.status_code == 200, year.text
    findings = {f["key"]: f for f in year.json()["findings"]}
    assert year.json()["class_id"] == str(class_b)
    assert findings["subject_average.term_1.toan"]["value"] == "7.5"
    # The old school no longer reads the student who left it.
    gone = await world.client.get(f"/students/{moving}", headers=world.leader_of(world.units.thcs))
    assert gone.status_code == 403
    history = await world.client.get(
        f"/students/{moving}/history", headers=world.leader_of(world.units.other_thcs)
    )
    assert [m["kind"] for m in history.json()["movements"]] == ["transfer_out", "transfer_in"]
    assert [e["school_id"] for e in history.json()["enrolments"]] == [
        str(world.units.thcs),
        str(world.units.other_thcs),
    ]
