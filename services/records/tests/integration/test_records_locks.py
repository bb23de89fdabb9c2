"""Term locks (R10, R34, R37) and inspection windows (R31): what they refuse, what they keep.

The generated proof that *every* write route refuses under a lock lives with the route table's
other generated tests (test_records_authorization_matrix.py); here the lock's life: it needs
approved results, takes a snapshot, publishes the event with the chain head, refuses the
period's writes and not the others', and reopens with a reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from common.testing import assert_problem
from records.testing import RecordsWorld


async def test_a_term_lock_needs_approved_results_and_refuses_that_terms_writes(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    first = world.last_year_first
    class_id, homeroom, teacher, students = await world.complete_year(
        school, ["Quách Thị Hoa", "Lò Văn Páo"]
    )
    leader_id = uuid.uuid4()
    leader = world.leader_of(school, leader_id)
    body = {
        "school_id": str(school),
        "school_year_id": str(world.last_year_id),
        "period": "term_1",
        "class_ids": [str(class_id)],
        "reason": "Khóa sổ học kỳ I",
    }
    # Not before the class's results are confirmed and approved (R12).
    refused = assert_problem(
        await world.client.post("/locks", json=body, headers=leader), 409, "results-not-approved"
    )
    assert refused["classes"] == [str(class_id)]
    # Nor by the school's admin: locking is the leader's.
    denied = await world.client.post("/locks", json=body, headers=world.admin_of(school))
    assert denied.status_code == 403
    await world.approve(class_id, school, homeroom, "term_1")
    locked = await world.client.post("/locks", json=body, headers=leader)
    assert locked.status_code == 201, locked.text
    lock = locked.json()
    assert lock["snapshot"] == 1
    assert len(lock["audit_head"]) == 64
    assert "vn.hsdt.records.term.locked.v1" in await world.outbox_types()
    assert_problem(
        await world.client.post("/locks", json=body, headers=leader), 409, "already-locked"
    )

    # The snapshot: students, the term's cells and every finding, as locked.
    snapshot = await world.client.get(
        f"/classes/{class_id}/snapshots/term_1", headers=world.leader_of(school)
    )
    assert snapshot.status_code == 200, snapshot.text
    data = snapshot.json()["data"]
    assert snapshot.json()["versions"] == [1]
    assert {s["student_id"] for s in data["students"]} == {str(s) for s in students}
    first_student = data["students"][0]
    assert all(c["period"] == "term_1" for c in first_student["cells"])
    assert any(f["key"] == "learning.term_1" for f in first_student["findings"])

    me = world.teacher(teacher, school)
    cell = {"cells": [{"student_id": str(students[0]), "column": "tx1", "value": "9"}]}
    url = f"/classes/{class_id}/sheets/toan/term_1"
    read = await world.client.get(url, headers=me)
    # The lock answers which lock, since when and by whom; nothing is written.
    locked_answer = assert_problem(
        await world.client.patch(
            url,
            json=cell | {"assessed_on": date(first, 12, 2).isoformat()},
            headers={**me, "If-Match": read.headers["etag"]},
        ),
        423,
        "scope-locked",
    )
    assert locked_answer["lock"]["id"] == lock["id"]
    assert locked_answer["lock"]["by"] == str(leader_id)
    assert locked_answer["lock"]["period"] == "term_1"
    assert locked_answer["lock"]["since"]
    assert (await world.client.get(url, headers=me)).json()["version"] == read.json()["version"]
    # The assignment of term 1 is locked too; term 2's sheet and assignments are not.
    assert_problem(
        await world.client.put(
            f"/classes/{class_id}/assignments/toan/term_1",
            json={"teacher_id": str(uuid.uuid4())},
            headers=world.admin_of(school),
        ),
        423,
        "scope-locked",
    )
    term_2 = await world.client.get(f"/classes/{class_id}/sheets/toan/term_2", headers=me)
    saved = await world.client.patch(
        f"/classes/{class_id}/sheets/toan/term_2",
        json=cell | {"assessed_on": date(first + 1, 4, 3).isoformat()},
        headers={**me, "If-Match": term_2.headers["etag"]},
    )
    assert saved.status_code == 200, saved.text

    # Reopening needs a reason and the leader; then term 1 takes writes again.
    reopen = await world.client.post(
        f"/locks/{lock['id']}/reopen", json={"reason": "Sửa phân công"}, headers=leader
    )
    assert reopen.status_code == 200, reopen.text
    assert "vn.hsdt.records.term.reopened.v1" in await world.outbox_types()
    again = await world.client.patch(
        url,
        json=cell | {"assessed_on": date(first, 12, 2).isoformat()},
        headers={**me, "If-Match": read.headers["etag"]},
    )
    assert again.status_code == 200, again.text
    listed = await world.client.get("/locks", params={"school_id": str(school)}, headers=leader)
    assert [entry["id"] for entry in listed.json() if entry["id"] == lock["id"]] == [lock["id"]]
    assert next(e for e in listed.json() if e["id"] == lock["id"])["reopened_at"]


async def test_a_year_lock_freezes_profiles_and_movements_of_its_classes(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    class_id, homeroom, _, students = await world.complete_year(school, ["Sầm Thị Nguyệt"])
    await world.approve(class_id, school, homeroom, "year")
    leader = world.leader_of(school)
    locked = await world.client.post(
        "/locks",
        json={
            "school_id": str(school),
            "school_year_id": str(world.last_year_id),
            "period": "year",
            "class_ids": [str(class_id)],
        },
        headers=leader,
    )
    assert locked.status_code == 201, locked.text
    admin = world.admin_of(school)
    assert_problem(
        await world.client.put(
            f"/classes/{class_id}/absences/{students[0]}",
            json={"excused_days": 3, "unexcused_days": 0},
            headers=world.teacher(homeroom, school),
        ),
        423,
        "scope-locked",
    )
    assert_problem(
        await world.client.post(
            f"/students/{students[0]}/movements",
            json={"kind": "drop_out", "effective_on": f"{world.last_year_first + 1}-05-01"},
            headers=admin,
        ),
        423,
        "scope-locked",
    )
    # Another class of the same school and year is not in the lock.
    other = await world.new_class(school, 7, year_id=world.last_year_id)
    added = await world.add_students(
        other, school, ["Bế Văn Thắng"], date(world.last_year_first, 9, 1)
    )
    assert len(added) == 1


async def test_an_inspection_window_makes_the_district_read_only_then_ends(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    district_admin = world.as_(uuid.uuid4(), f"district_admin@{world.units.district}")
    now = datetime.now(UTC)
    window_body = {
        "unit_id": str(world.units.district),
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "reason": "Kiểm tra hồ sơ học kỳ I",
    }
    # A school's leader does not open windows; an admin of another district does not either.
    other = world.as_(uuid.uuid4(), f"district_admin@{world.units.other_district}")
    assert (
        await world.client.post("/inspection-windows", json=window_body, headers=other)
    ).status_code == 403
    bad = window_body | {"ends_at": (now - timedelta(hours=1)).isoformat()}
    assert_problem(
        await world.client.post("/inspection-windows", json=bad, headers=district_admin),
        422,
        "window-invalid",
    )
    opened = await world.client.post(
        "/inspection-windows", json=window_body, headers=district_admin
    )
    assert opened.status_code == 201, opened.text
    window = opened.json()
    try:
        answer = assert_problem(
            await world.client.post(
                "/classes",
                json={
                    "school_id": str(world.units.thcs),
                    "school_year_id": str(world.year_id),
                    "grade": 8,
                    "name": f"8K{uuid.uuid4().hex[:4].upper()}",
                },
                headers=world.admin_of(world.units.thcs),
            ),
            423,
            "scope-locked",
        )
        assert answer["lock"]["kind"] == "inspection"
        assert answer["lock"]["until"]
        # A school of another district is not under the window.
        elsewhere = await world.new_class(world.units.other_thcs, 8)
        assert elsewhere
        # Reads go on: that is what the window is for.
        listed = await world.client.get(
            "/locks",
            params={"school_id": str(world.units.thcs)},
            headers=world.as_(uuid.uuid4(), f"district_inspector@{world.units.district}"),
        )
        assert any(entry["id"] == window["id"] for entry in listed.json())
    finally:
        closed = await world.client.post(
            f"/inspection-windows/{window['id']}/close",
            json={"reason": "Kết thúc kiểm tra"},
            headers=district_admin,
        )
        assert closed.status_code == 200, closed.text
    assert await world.new_class(world.units.thcs, 8)
