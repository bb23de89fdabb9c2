"""The correction workflow (R27) through the API: a locked term's entry is corrected only with
the leader's permission and before two witnesses (an admin-board member and the homeroom
teacher), each by their own action; every refused step changes nothing."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update

from common.messaging.tables import outbox
from common.testing import assert_problem
from records.models import AuditRecordRow, CorrectionRow, EntryRow, SheetRow
from records.testing import RecordsWorld

PDF = b"%PDF-1.4\n% evidence\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
REASON = "Nhập nhầm điểm kiểm tra cuối kỳ của học sinh"


@dataclass
class Locked:
    school: uuid.UUID
    class_id: uuid.UUID
    homeroom: uuid.UUID
    teacher: uuid.UUID
    students: list[uuid.UUID]
    leader: uuid.UUID
    board: uuid.UUID


async def locked_term_1(world: RecordsWorld, *, teacher: uuid.UUID | None = None) -> Locked:
    """Last year's grade 6 class with term 1 filled, confirmed, approved and locked."""
    school = world.units.thcs
    first = world.last_year_first
    homeroom, teacher = uuid.uuid4(), teacher or uuid.uuid4()
    class_id = await world.new_class(school, 6, homeroom=homeroom, year_id=world.last_year_id)
    students = await world.add_students(
        class_id, school, ["Đỗ Minh Khoa", "Bùi Văn Long"], date(first, 8, 15)
    )
    me = world.teacher(teacher, school)
    for subject in await world.subjects(6, world.last_year_id):
        await world.assign(class_id, school, subject["code"], "term_1", teacher)
        value = "8" if subject["form"] == "score" else "Đ"
        await world.fill(
            class_id,
            me,
            subject["code"],
            "term_1",
            dict.fromkeys(students, value),
            date(first, 12, 1),
        )
    gvcn = world.teacher(homeroom, school)
    await world.fill(
        class_id,
        gvcn,
        "_conduct",
        "term_1",
        dict.fromkeys(students, "T"),
        date(first, 12, 20),
    )
    confirmed = await world.client.post(f"/classes/{class_id}/results/term_1/confirm", headers=gvcn)
    assert confirmed.status_code == 201, confirmed.text
    leader = uuid.uuid4()
    approved = await world.client.post(
        f"/classes/{class_id}/results/term_1/approve", headers=world.leader_of(school, leader)
    )
    assert approved.status_code == 200, approved.text
    lock = await world.client.post(
        "/locks",
        json={
            "school_id": str(school),
            "school_year_id": str(world.last_year_id),
            "period": "term_1",
            "class_ids": [str(class_id)],
        },
        headers=world.leader_of(school, leader),
    )
    assert lock.status_code == 201, lock.text
    return Locked(school, class_id, homeroom, teacher, students, leader, uuid.uuid4())


def request_body(locked: Locked, **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "class_id": str(locked.class_id),
        "sheet": "toan",
        "period": "term_1",
        "student_id": str(locked.students[0]),
        "cells": [{"column": "ck", "new": "9.5"}],
        "reason": REASON,
    }
    return body | overrides


async def file(world: RecordsWorld, locked: Locked, **overrides: object) -> dict[str, Any]:
    response = await world.client.post(
        "/corrections",
        json=request_body(locked, **overrides),
        headers=world.teacher(locked.teacher, locked.school),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def state(world: RecordsWorld, locked: Locked) -> tuple[object, ...]:
    """Everything a refused step must leave as it was."""
    async with world.sessions() as session:
        corrections = (
            await session.execute(
                select(
                    CorrectionRow.id,
                    CorrectionRow.status,
                    CorrectionRow.decided_by,
                    CorrectionRow.board_witness_id,
                    CorrectionRow.homeroom_witness_id,
                    CorrectionRow.evidence_sha256,
                )
                .where(CorrectionRow.class_id == locked.class_id)
                .order_by(CorrectionRow.id)
            )
        ).all()
        cells = (
            await session.execute(
                select(EntryRow.student_id, EntryRow.column, EntryRow.value, SheetRow.version)
                .join(SheetRow, SheetRow.id == EntryRow.sheet_id)
                .where(SheetRow.class_id == locked.class_id)
                .order_by(EntryRow.student_id, SheetRow.sheet, EntryRow.column)
            )
        ).all()
        events = await session.scalar(select(func.count()).select_from(outbox))
    return tuple(corrections), tuple(cells), events


async def test_a_correction_is_applied_after_permission_and_both_witnesses(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    locked = await locked_term_1(world)
    student = locked.students[0]
    teacher = world.teacher(locked.teacher, locked.school)
    leader = world.leader_of(locked.school, locked.leader)
    board = world.as_(locked.board, f"school_admin@{locked.school}")
    homeroom = world.teacher(locked.homeroom, locked.school)
    sheet_url = f"/classes/{locked.class_id}/sheets/toan/term_1"

    before = await world.client.get(f"/classes/{locked.class_id}/snapshots/term_1", headers=leader)
    assert before.status_code == 200, before.text
    old_version = before.json()["version"]

    filed = await file(world, locked)
    assert filed["status"] == "pending"
    assert filed["cells"] == [{"column": "ck", "old": "8.0", "new": "9.5"}]
    correction = filed["id"]

    evidence = await world.client.put(
        f"/corrections/{correction}/evidence",
        files={"file": ("bien-ban.pdf", PDF, "application/pdf")},
        headers=teacher,
    )
    assert evidence.status_code == 200, evidence.text
    assert evidence.json()["evidence_type"] == "application/pdf"
    got = await world.client.get(f"/corrections/{correction}/evidence", headers=leader)
    assert got.status_code == 200
    assert got.content == PDF

    permitted = await world.client.post(
        f"/corrections/{correction}/permit", json={"note": "Đồng ý"}, headers=leader
    )
    assert permitted.status_code == 200, permitted.text
    assert permitted.json()["status"] == "permitted"
    witnessed = await world.client.post(f"/corrections/{correction}/witness", headers=board)
    assert witnessed.status_code == 200, witnessed.text
    assert witnessed.json()["status"] == "permitted"
    assert witnessed.json()["board_witness_id"] == str(locked.board)
    # Not applied yet: the sheet still holds the old value.
    sheet = (await world.client.get(sheet_url, headers=teacher)).json()
    assert next(r for r in sheet["rows"] if r["student_id"] == str(student))["cells"]["ck"] == "8.0"

    applied = await world.client.post(f"/corrections/{correction}/witness", headers=homeroom)
    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert body["status"] == "applied"
    assert body["applied_snapshot"] > old_version

    sheet = (await world.client.get(sheet_url, headers=teacher)).json()
    assert next(r for r in sheet["rows"] if r["student_id"] == str(student))["cells"]["ck"] == "9.5"

    history = await world.client.get(
        f"/students/{student}/forensics",
        params={
            "school_year_id": str(world.last_year_id),
            "sheet": "toan",
            "period": "term_1",
            "column": "ck",
        },
        headers=leader,
    )
    assert history.status_code == 200, history.text
    last = history.json()["changes"][-1]
    assert last["via"] == "correction"
    assert last["correction_id"] == correction
    assert (last["old"], last["new"]) == ("8.0", "9.5")
    assert last["changed_by"] == str(locked.homeroom)  # the action that completed it

    new_snapshot = await world.client.get(
        f"/classes/{locked.class_id}/snapshots/term_1", headers=leader
    )
    assert new_snapshot.status_code == 200
    assert new_snapshot.json()["version"] == body["applied_snapshot"]
    assert new_snapshot.json()["correction_id"] == correction
    assert old_version in new_snapshot.json()["versions"]
    old_snapshot = await world.client.get(
        f"/classes/{locked.class_id}/snapshots/term_1",
        params={"version": old_version},
        headers=leader,
    )
    assert old_snapshot.status_code == 200

    def ck(snapshot: dict[str, Any]) -> str:
        row = next(s for s in snapshot["data"]["students"] if s["student_id"] == str(student))
        return str(
            next(c for c in row["cells"] if c["sheet"] == "toan" and c["column"] == "ck")["value"]
        )

    assert ck(old_snapshot.json()) == "8.0"
    assert ck(new_snapshot.json()) == "9.5"

    assert "vn.hsdt.records.correction.applied.v1" in await world.outbox_types()
    async with world.sessions() as session:
        raw = await session.scalar(
            select(outbox.c.body)
            .where(outbox.c.event_type == "vn.hsdt.records.correction.applied.v1")
            .order_by(outbox.c.id.desc())
        )
        assert raw is not None
        event = json.loads(raw)["data"]
        audit_hash = await session.scalar(
            select(AuditRecordRow.hash).where(
                AuditRecordRow.target == correction, AuditRecordRow.action == "correction.applied"
            )
        )
        actions = (
            await session.scalars(
                select(AuditRecordRow.action)
                .where(AuditRecordRow.target == correction)
                .order_by(AuditRecordRow.seq)
            )
        ).all()
    assert event["correction_id"] == correction
    assert event["witnessed_by"] == [str(locked.board), str(locked.homeroom)]
    assert event["approved_by"] == str(locked.leader)
    assert event["requested_by"] == str(locked.teacher)
    assert event["applied_by"] == str(locked.homeroom)
    assert event["entry"] == "assessment"
    assert event["term"] == "term_1"
    assert event["snapshot"] == body["applied_snapshot"]
    assert event["audit_hash"] == audit_hash
    assert actions == [
        "correction.filed",
        "correction.evidence",
        "correction.permitted",
        "correction.witnessed",
        "correction.witnessed",
        "correction.applied",
    ]

    # The lock still holds for every other write.
    current = await world.client.get(sheet_url, headers=teacher)
    refused = await world.client.patch(
        sheet_url,
        json={
            "cells": [{"student_id": str(student), "column": "ck", "value": "4"}],
            "assessed_on": f"{world.last_year_first}-12-02",
        },
        headers={**teacher, "If-Match": current.headers["etag"]},
    )
    assert_problem(refused, 423, "scope-locked")
    # And the applied request is closed to every further step.
    assert_problem(
        await world.client.post(f"/corrections/{correction}/withdraw", headers=teacher),
        409,
        "correction-closed",
    )


async def test_witnesses_first_then_the_leaders_permission_applies_it(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    locked = await locked_term_1(world)
    correction = (await file(world, locked, cells=[{"column": "gk", "old": "8", "new": "7.5"}]))[
        "id"
    ]
    homeroom = world.teacher(locked.homeroom, locked.school)
    board = world.as_(locked.board, f"school_leader@{locked.school}")  # a leader as board member
    for headers in (homeroom, board):
        response = await world.client.post(f"/corrections/{correction}/witness", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "pending"
    applied = await world.client.post(
        f"/corrections/{correction}/permit", headers=world.leader_of(locked.school, locked.leader)
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    sheet = await world.client.get(
        f"/classes/{locked.class_id}/sheets/toan/term_1", headers=homeroom
    )
    row = next(r for r in sheet.json()["rows"] if r["student_id"] == str(locked.students[0]))
    assert row["cells"]["gk"] == "7.5"


async def test_conduct_correction_by_the_homeroom_teacher_in_any_order(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    locked = await locked_term_1(world)
    homeroom = world.teacher(locked.homeroom, locked.school)
    filed = await world.client.post(
        "/corrections",
        json=request_body(locked, sheet="_conduct", cells=[{"column": "rating", "new": "K"}]),
        headers=homeroom,
    )
    assert filed.status_code == 201, filed.text
    correction = filed.json()["id"]
    # The requester here is the homeroom teacher, who cannot witness their own request ...
    assert_problem(
        await world.client.post(f"/corrections/{correction}/witness", headers=homeroom),
        409,
        "requester-cannot-witness",
    )
    # ... so a second member of the admin board stands in; the leader permits last.
    first = await world.client.post(
        f"/corrections/{correction}/witness", headers=world.admin_of(locked.school)
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "pending"
    second = await world.client.post(
        f"/corrections/{correction}/witness", headers=world.admin_of(locked.school)
    )
    assert second.status_code == 200, second.text
    # Nobody is left for a third slot.
    assert_problem(
        await world.client.post(
            f"/corrections/{correction}/witness", headers=world.admin_of(locked.school)
        ),
        409,
        "already-witnessed",
    )
    permitted = await world.client.post(
        f"/corrections/{correction}/permit",
        json={"note": "Đồng ý"},
        headers=world.leader_of(locked.school),
    )
    assert permitted.status_code == 200, permitted.text
    assert permitted.json()["status"] == "applied"
    sheet = await world.client.get(
        f"/classes/{locked.class_id}/sheets/_conduct/term_1", headers=homeroom
    )
    rows = {r["student_id"]: r["cells"] for r in sheet.json()["rows"]}
    assert rows[str(locked.students[0])]["rating"] == "K"


async def test_a_correction_on_unlocked_entries_is_refused(records_world: RecordsWorld) -> None:
    world = records_world
    locked = await locked_term_1(world)
    await world.assign(locked.class_id, locked.school, "toan", "term_2", locked.teacher)
    before = await state(world, locked)
    assert_problem(
        await world.client.post(
            "/corrections",
            json=request_body(locked, period="term_2", cells=[{"column": "ck", "new": "7"}]),
            headers=world.teacher(locked.teacher, locked.school),
        ),
        409,
        "not-locked",
    )
    assert await state(world, locked) == before


async def test_bad_requests_are_refused_and_change_nothing(records_world: RecordsWorld) -> None:
    world = records_world
    locked = await locked_term_1(world)
    teacher = world.teacher(locked.teacher, locked.school)
    before = await state(world, locked)
    # Another school's teacher: the role check at the class's school.
    assert_problem(
        await world.client.post(
            "/corrections",
            json=request_body(locked),
            headers=world.teacher(locked.teacher, world.units.other_thcs),
        ),
        403,
        "forbidden",
    )
    # A teacher of the school who does not write the sheet.
    assert_problem(
        await world.client.post(
            "/corrections",
            json=request_body(locked),
            headers=world.teacher(locked.homeroom, locked.school),
        ),
        403,
        "not-assigned",
    )
    # The old value named is not the stored one.
    assert_problem(
        await world.client.post(
            "/corrections",
            json=request_body(locked, cells=[{"column": "ck", "old": "7", "new": "9"}]),
            headers=teacher,
        ),
        422,
        "old-value-mismatch",
    )
    # A value the column cannot hold, or no change at all.
    invalid = assert_problem(
        await world.client.post(
            "/corrections",
            json=request_body(locked, cells=[{"column": "ck", "new": "11"}]),
            headers=teacher,
        ),
        422,
        "cells-invalid",
    )
    assert invalid["errors"][0]["column"] == "ck"
    assert_problem(
        await world.client.post(
            "/corrections",
            json=request_body(locked, cells=[{"column": "ck", "new": "8"}]),
            headers=teacher,
        ),
        422,
        "cells-invalid",
    )
    # A reason too short to say anything.
    short = await world.client.post(
        "/corrections", json=request_body(locked, reason="sai"), headers=teacher
    )
    assert short.status_code == 422
    assert await state(world, locked) == before


async def test_witnesses_and_roles_are_checked_and_refusals_change_nothing(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    # The requester is also a school leader: they still cannot permit their own request.
    locked = await locked_term_1(world)
    school = locked.school
    correction = (await file(world, locked))["id"]
    url = f"/corrections/{correction}"
    requester_as_leader = world.as_(locked.teacher, f"teacher@{school}", f"school_leader@{school}")
    leader = world.leader_of(school, locked.leader)
    board = world.as_(locked.board, f"school_admin@{school}")
    homeroom = world.teacher(locked.homeroom, school)
    other_homeroom = uuid.uuid4()
    await world.new_class(school, 6, homeroom=other_homeroom, year_id=world.last_year_id)
    before = await state(world, locked)

    assert_problem(
        await world.client.post(f"{url}/permit", headers=requester_as_leader),
        409,
        "roles-conflict",
    )
    # The requester as a witness, even holding a board role.
    assert_problem(
        await world.client.post(f"{url}/witness", headers=requester_as_leader),
        409,
        "requester-cannot-witness",
    )
    # A teacher of the school who is neither on the board nor the class's homeroom teacher;
    # the homeroom teacher of another class.
    assert_problem(
        await world.client.post(f"{url}/witness", headers=world.teacher(uuid.uuid4(), school)),
        403,
        "not-a-witness",
    )
    assert_problem(
        await world.client.post(f"{url}/witness", headers=world.teacher(other_homeroom, school)),
        403,
        "not-a-witness",
    )
    # Another school's leader or admin.
    assert_problem(
        await world.client.post(f"{url}/permit", headers=world.leader_of(world.units.other_thcs)),
        403,
        "forbidden",
    )
    assert_problem(
        await world.client.post(f"{url}/witness", headers=world.admin_of(world.units.other_thcs)),
        403,
        "forbidden",
    )
    # A teacher cannot permit; a leader cannot file.
    assert_problem(await world.client.post(f"{url}/permit", headers=homeroom), 403, "forbidden")
    assert await state(world, locked) == before

    # The leader permits once; a second permission (or a rejection) is refused.
    assert (await world.client.post(f"{url}/permit", headers=leader)).status_code == 200
    after_permit = await state(world, locked)
    assert_problem(await world.client.post(f"{url}/permit", headers=leader), 409, "already-decided")
    assert_problem(
        await world.client.post(
            f"{url}/reject", json={"note": "Không đủ căn cứ"}, headers=world.leader_of(school)
        ),
        409,
        "already-decided",
    )
    # The permitting leader cannot also witness for the board.
    assert_problem(await world.client.post(f"{url}/witness", headers=leader), 409, "roles-conflict")
    assert await state(world, locked) == after_permit

    # The board witness, once; a second board member finds the slot taken.
    assert (await world.client.post(f"{url}/witness", headers=board)).status_code == 200
    after_board = await state(world, locked)
    assert_problem(
        await world.client.post(f"{url}/witness", headers=board), 409, "already-witnessed"
    )
    assert_problem(
        await world.client.post(f"{url}/witness", headers=world.admin_of(school)),
        409,
        "already-witnessed",
    )
    assert await state(world, locked) == after_board

    # The last witness applies it.
    applied = await world.client.post(f"{url}/witness", headers=homeroom)
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"


async def test_a_board_member_who_witnessed_cannot_permit(records_world: RecordsWorld) -> None:
    world = records_world
    locked = await locked_term_1(world)
    correction = (await file(world, locked))["id"]
    both = world.as_(locked.board, f"school_leader@{locked.school}")
    assert (
        await world.client.post(f"/corrections/{correction}/witness", headers=both)
    ).status_code == 200
    before = await state(world, locked)
    assert_problem(
        await world.client.post(f"/corrections/{correction}/permit", headers=both),
        409,
        "roles-conflict",
    )
    assert await state(world, locked) == before


async def test_rejected_withdrawn_and_expired_requests_are_kept_and_audited(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    locked = await locked_term_1(world)
    teacher = world.teacher(locked.teacher, locked.school)
    leader = world.leader_of(locked.school, locked.leader)
    rejected = (await file(world, locked))["id"]
    withdrawn = (await file(world, locked, cells=[{"column": "gk", "new": "6"}]))["id"]
    expired = (await file(world, locked, cells=[{"column": "tx1", "new": "6"}]))["id"]

    # A rejection needs a note.
    assert (
        await world.client.post(f"/corrections/{rejected}/reject", headers=leader)
    ).status_code == 422
    response = await world.client.post(
        f"/corrections/{rejected}/reject", json={"note": "Không có minh chứng"}, headers=leader
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_note"] == "Không có minh chứng"
    assert_problem(
        await world.client.post(f"/corrections/{rejected}/permit", headers=leader),
        409,
        "already-decided",
    )
    assert_problem(
        await world.client.post(
            f"/corrections/{rejected}/witness",
            headers=world.teacher(locked.homeroom, locked.school),
        ),
        409,
        "correction-closed",
    )

    # Only the requester withdraws.
    assert_problem(
        await world.client.post(
            f"/corrections/{withdrawn}/withdraw", headers=world.teacher(uuid.uuid4(), locked.school)
        ),
        403,
        "not-requester",
    )
    response = await world.client.post(f"/corrections/{withdrawn}/withdraw", headers=teacher)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert_problem(
        await world.client.post(f"/corrections/{withdrawn}/permit", headers=leader),
        409,
        "correction-closed",
    )

    # Past its time, a request expires when next read or acted on.
    async with world.sessions() as session:
        await session.execute(
            update(CorrectionRow)
            .where(CorrectionRow.id == uuid.UUID(expired))
            .values(expires_at=func.now() - func.make_interval(0, 0, 0, 1))
        )
        await session.commit()
    assert_problem(
        await world.client.post(f"/corrections/{expired}/permit", headers=leader), 409, "expired"
    )
    read = await world.client.get(f"/corrections/{expired}", headers=teacher)
    assert read.json()["status"] == "expired"

    listed = await world.client.get(
        "/corrections",
        params={"school_id": str(locked.school)},
        headers=leader,
    )
    assert listed.status_code == 200, listed.text
    statuses = {c["id"]: c["status"] for c in listed.json()}
    assert statuses[rejected] == "rejected"
    assert statuses[withdrawn] == "withdrawn"
    assert statuses[expired] == "expired"
    only_expired = await world.client.get(
        "/corrections",
        params={"school_id": str(locked.school), "status": "expired"},
        headers=leader,
    )
    assert expired in {c["id"] for c in only_expired.json()}
    assert rejected not in {c["id"] for c in only_expired.json()}
    # The teacher sees their own; an unrelated teacher sees none of them.
    mine = await world.client.get(
        "/corrections", params={"school_id": str(locked.school)}, headers=teacher
    )
    assert {rejected, withdrawn, expired} <= {c["id"] for c in mine.json()}
    stranger = world.teacher(uuid.uuid4(), locked.school)
    theirs = await world.client.get(
        "/corrections", params={"school_id": str(locked.school)}, headers=stranger
    )
    assert not {rejected, withdrawn, expired} & {c["id"] for c in theirs.json()}
    assert_problem(
        await world.client.get(f"/corrections/{rejected}", headers=stranger), 403, "not-involved"
    )

    async with world.sessions() as session:
        actions = {
            (target, action)
            for target, action in (
                await session.execute(
                    select(AuditRecordRow.target, AuditRecordRow.action).where(
                        AuditRecordRow.target.in_([rejected, withdrawn, expired])
                    )
                )
            ).all()
        }
        kept = await session.scalar(
            select(func.count())
            .select_from(CorrectionRow)
            .where(CorrectionRow.id.in_([uuid.UUID(c) for c in (rejected, withdrawn, expired)]))
        )
    assert kept == 3
    assert (rejected, "correction.rejected") in actions
    assert (withdrawn, "correction.withdrawn") in actions
    assert (expired, "correction.expired") in actions
    # The entries never changed.
    sheet = await world.client.get(
        f"/classes/{locked.class_id}/sheets/toan/term_1", headers=teacher
    )
    row = next(r for r in sheet.json()["rows"] if r["student_id"] == str(locked.students[0]))
    assert (row["cells"]["ck"], row["cells"]["gk"], row["cells"]["tx1"]) == ("8.0", "8.0", "8.0")


async def test_evidence_is_checked_and_frozen_once_acted_on(records_world: RecordsWorld) -> None:
    world = records_world
    locked = await locked_term_1(world)
    teacher = world.teacher(locked.teacher, locked.school)
    correction = (await file(world, locked))["id"]
    url = f"/corrections/{correction}/evidence"
    assert_problem(await world.client.get(url, headers=teacher), 404, "no-evidence")
    assert_problem(
        await world.client.put(
            url, files={"file": ("x.exe", b"MZ\x90\x00", "application/pdf")}, headers=teacher
        ),
        422,
        "evidence-type",
    )
    assert_problem(
        await world.client.put(
            url,
            files={"file": ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), "application/pdf")},
            headers=teacher,
        ),
        413,
        "payload-too-large",
    )
    assert_problem(
        await world.client.put(
            url,
            files={"file": ("a.png", b"\x89PNG\r\n\x1a\n....", "image/png")},
            headers=world.teacher(uuid.uuid4(), locked.school),
        ),
        403,
        "not-requester",
    )
    png = await world.client.put(
        url, files={"file": ("a.png", b"\x89PNG\r\n\x1a\n....", "image/png")}, headers=teacher
    )
    assert png.status_code == 200, png.text
    assert png.json()["evidence_sha256"]
    leader = world.leader_of(locked.school, locked.leader)
    assert (
        await world.client.post(f"/corrections/{correction}/permit", headers=leader)
    ).status_code == 200
    assert_problem(
        await world.client.put(
            url, files={"file": ("b.pdf", PDF, "application/pdf")}, headers=teacher
        ),
        409,
        "evidence-frozen",
    )
