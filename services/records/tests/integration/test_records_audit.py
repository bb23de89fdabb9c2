"""The audit chain (R5): every write appends to its school's chain; verification (the API and
the ``hsdt-records-audit`` command) finds the first record that was changed, removed or cut
off, directly in the database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from records.audit import GENESIS
from records.handlers.base import school_today
from records.testing import DATA_KEY, RecordsWorld

NAMES = ["Trần Văn Bình", "Nguyễn Thị An", "Lê Minh Anh"]


async def verify(world: RecordsWorld, school: uuid.UUID) -> dict[str, Any]:
    response = await world.client.get(
        f"/schools/{school}/audit/verify", headers=world.leader_of(school)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def page(world: RecordsWorld, school: uuid.UUID, after: int = 0) -> dict[str, Any]:
    response = await world.client.get(
        f"/schools/{school}/audit",
        params={"after_seq": after, "limit": 200},
        headers=world.admin_of(school),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def some_history(world: RecordsWorld, school: uuid.UUID) -> None:
    """A class, students, an assignment and a saved sheet: several records in the chain."""
    class_id = await world.new_class(school, 6 if school != world.units.thpt else 10)
    students = await world.add_students(class_id, school, NAMES, school_today() - timedelta(days=2))
    teacher = uuid.uuid4()
    await world.assign(class_id, school, "toan", "term_1", teacher)
    await world.fill(
        class_id,
        world.teacher(teacher, school),
        "toan",
        "term_1",
        dict.fromkeys(students, "8"),
        school_today() - timedelta(days=1),
    )


async def sql(world: RecordsWorld, statement: str, **params: object) -> None:
    async with world.sessions() as session:
        await session.execute(text(statement), params)
        await session.commit()


@asynccontextmanager
async def tampered(world: RecordsWorld, school: uuid.UUID, seq: int) -> AsyncIterator[None]:
    """Keep record ``seq`` aside and put it back afterwards, whatever the test did to it."""
    async with world.sessions() as session:
        kept = (
            (
                await session.execute(
                    text("SELECT * FROM audit_chain WHERE school_id = :s AND seq = :q"),
                    {"s": school, "q": seq},
                )
            )
            .mappings()
            .one()
        )
        head = (
            await session.execute(
                text("SELECT seq, hash FROM audit_heads WHERE school_id = :s"), {"s": school}
            )
        ).one()
    try:
        yield
    finally:
        async with world.sessions() as session:
            await session.execute(
                text("DELETE FROM audit_chain WHERE school_id = :s AND seq = :q"),
                {"s": school, "q": seq},
            )
            columns = ", ".join(kept.keys())
            values = ", ".join(f"CAST(:{k} AS jsonb)" if k == "content" else f":{k}" for k in kept)
            await session.execute(
                text(f"INSERT INTO audit_chain ({columns}) VALUES ({values})"),
                {**kept, "content": json.dumps(kept["content"])},
            )
            await session.execute(
                text("UPDATE audit_heads SET seq = :q, hash = :h WHERE school_id = :s"),
                {"s": school, "q": head.seq, "h": head.hash},
            )
            await session.commit()
        assert (await verify(world, school))["ok"]


async def test_every_write_appends_to_the_schools_chain(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    before = (await page(world, school))["head_seq"]
    homeroom, teacher = uuid.uuid4(), uuid.uuid4()
    class_id = await world.new_class(school, 7, homeroom=homeroom)
    other = await world.new_class(school, 7)
    students = await world.add_students(class_id, school, NAMES, school_today() - timedelta(3))
    await world.assign(class_id, school, "toan", "term_1", teacher)
    await world.fill(
        class_id,
        world.teacher(teacher, school),
        "toan",
        "term_1",
        dict.fromkeys(students, "7"),
        school_today() - timedelta(days=1),
    )
    patched = await world.client.patch(
        f"/classes/{class_id}",
        json={"homeroom_teacher_id": str(uuid.uuid4())},
        headers=world.admin_of(school),
    )
    assert patched.status_code == 200, patched.text
    moved = await world.client.post(
        f"/students/{students[0]}/movements",
        json={"kind": "class_transfer", "effective_on": school_today().isoformat(),
              "to_class_id": str(other)},
        headers=world.admin_of(school),
    )  # fmt: skip
    assert moved.status_code == 201, moved.text
    removed = await world.client.delete(
        f"/classes/{class_id}/assignments/toan/term_1", headers=world.admin_of(school)
    )
    assert removed.status_code in (200, 204), removed.text

    body = await page(world, school, before)
    actions = [r["action"] for r in body["records"]]
    assert actions == [
        "class.created",
        "class.created",
        *["students.enrolled"] * len(NAMES),
        "assignment.set",
        "sheet.saved",
        "class.homeroom_set",
        "student.movement",
        "assignment.removed",
    ]
    seqs = [r["seq"] for r in body["records"]]
    assert seqs == list(range(before + 1, before + 1 + len(actions)))
    # Each record names the one before it; the head is the last.
    for previous, record in zip(body["records"], body["records"][1:], strict=False):
        assert record["prev_hash"] == previous["hash"]
    assert body["head_seq"] == seqs[-1]
    assert body["head_hash"] == body["records"][-1]["hash"]
    saved = body["records"][actions.index("sheet.saved")]
    assert saved["content"]["sheet"] == "toan"
    assert len(saved["content"]["cells"]) == len(NAMES) * 6

    result = await verify(world, school)
    assert result == {
        "school_id": str(school),
        "records": body["head_seq"],
        "head_seq": body["head_seq"],
        "head_hash": body["head_hash"],
        "ok": True,
        "first_break": None,
    }


async def test_a_school_with_no_writes_verifies_empty(records_world: RecordsWorld) -> None:
    school = records_world.units.other_thcs
    assert await verify(records_world, school) == {
        "school_id": str(school),
        "records": 0,
        "head_seq": 0,
        "head_hash": GENESIS,
        "ok": True,
        "first_break": None,
    }


async def test_changed_content_breaks_at_that_record(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    await some_history(world, school)
    head = (await verify(world, school))["head_seq"]
    target = head - 2
    async with tampered(world, school, target):
        await sql(
            world,
            "UPDATE audit_chain SET content = content || '{\"students\": []}'::jsonb "
            "WHERE school_id = :s AND seq = :q",
            s=school,
            q=target,
        )
        result = await verify(world, school)
        assert result["ok"] is False
        assert result["first_break"]["seq"] == target
        assert result["first_break"]["problem"] == "hash-mismatch"
        stored = next(r for r in (await page(world, school))["records"] if r["seq"] == target)
        assert result["first_break"]["found"] == stored["hash"]
        assert result["first_break"]["expected"] != stored["hash"]

        # The forger recomputes that record's hash too: the next record no longer follows.
        await sql(
            world,
            "UPDATE audit_chain SET hash = :h WHERE school_id = :s AND seq = :q",
            h=result["first_break"]["expected"],
            s=school,
            q=target,
        )
        again = await verify(world, school)
        assert again["first_break"] == {
            "seq": target + 1,
            "problem": "prev-hash-mismatch",
            "expected": result["first_break"]["expected"],
            "found": stored["hash"],
        }


async def test_a_changed_actor_or_time_breaks_too(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    await some_history(world, school)
    target = (await verify(world, school))["head_seq"] - 1
    async with tampered(world, school, target):
        await sql(
            world,
            "UPDATE audit_chain SET at = at - interval '1 day' WHERE school_id = :s AND seq = :q",
            s=school,
            q=target,
        )
        result = await verify(world, school)
        assert (result["first_break"]["seq"], result["first_break"]["problem"]) == (
            target,
            "hash-mismatch",
        )


async def test_a_deleted_record_is_a_gap_where_it_was(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thpt
    await some_history(world, school)
    target = (await verify(world, school))["head_seq"] - 3
    async with tampered(world, school, target):
        await sql(
            world,
            "DELETE FROM audit_chain WHERE school_id = :s AND seq = :q",
            s=school,
            q=target,
        )
        result = await verify(world, school)
        assert result["ok"] is False
        assert result["records"] == target  # read up to the record after the hole
        assert result["first_break"] == {
            "seq": target,
            "problem": "gap",
            "expected": str(target),
            "found": str(target + 1),
        }


async def test_a_changed_or_cut_head_is_found(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thpt
    await some_history(world, school)
    good = await verify(world, school)
    last = good["head_seq"]
    async with tampered(world, school, last):
        await sql(
            world,
            "UPDATE audit_heads SET hash = :h WHERE school_id = :s",
            h="f" * 64,
            s=school,
        )
        result = await verify(world, school)
        assert result["first_break"] == {
            "seq": last,
            "problem": "head-mismatch",
            "expected": f"{last}:{good['head_hash']}",
            "found": f"{last}:{'f' * 64}",
        }
        # The head put back, the last record cut off: the head now points past the chain.
        await sql(
            world,
            "UPDATE audit_heads SET hash = :h WHERE school_id = :s",
            h=good["head_hash"],
            s=school,
        )
        await sql(
            world, "DELETE FROM audit_chain WHERE school_id = :s AND seq = :q", s=school, q=last
        )
        cut = await verify(world, school)
        assert cut["first_break"]["problem"] == "head-mismatch"
        assert cut["first_break"]["seq"] == last
        assert cut["records"] == last - 1


async def test_only_readers_of_the_school_see_or_verify_its_chain(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    for headers, status in (
        (world.teacher(uuid.uuid4(), school), 403),
        (world.as_(uuid.uuid4(), f"district_admin@{world.units.other_district}"), 403),
        (world.as_(uuid.uuid4(), f"district_inspector@{world.units.district}"), 200),
        (world.as_(uuid.uuid4(), f"province_inspector@{world.units.province}"), 200),
    ):
        for url in (f"/schools/{school}/audit", f"/schools/{school}/audit/verify"):
            response = await world.client.get(url, headers=headers)
            assert response.status_code == status, (url, headers, response.text)
    missing = await world.client.get(
        f"/schools/{uuid.uuid4()}/audit/verify", headers=world.leader_of(school)
    )
    assert missing.status_code == 404


async def test_the_audit_page_follows_after_seq(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    await some_history(world, school)
    response = await world.client.get(
        f"/schools/{school}/audit", params={"limit": 2}, headers=world.admin_of(school)
    )
    first = response.json()
    assert [r["seq"] for r in first["records"]] == [1, 2]
    assert first["next_after_seq"] == 2
    assert first["records"][0]["prev_hash"] == GENESIS
    second = await world.client.get(
        f"/schools/{school}/audit",
        params={"after_seq": 2, "limit": 2},
        headers=world.admin_of(school),
    )
    assert [r["seq"] for r in second.json()["records"]] == [3, 4]


async def run_cli(world: RecordsWorld, *args: str) -> tuple[int, str]:
    script = Path(sys.executable).parent / "hsdt-records-audit"
    assert script.exists(), "the console script is installed with the records package"
    process = await asyncio.create_subprocess_exec(
        str(script),
        "verify",
        *args,
        env={
            **os.environ,
            "RECORDS_DATABASE_URL": world.app.state.deps.settings.database_url,
            "RECORDS_DATA_KEY": DATA_KEY,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    finally:
        # A command left running would hold its connection into the next module's fixtures.
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_command_exits_1_on_a_broken_chain_and_0_on_a_good_one(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    await some_history(world, school)
    code, out = await run_cli(world, "--school", "TP-D1-THCS")
    assert code == 0, out
    assert out.startswith("OK      TP-D1-THCS")
    code, out = await run_cli(world, "--all")
    assert code == 0, out
    assert "chain(s), 0 broken" in out

    target = (await verify(world, school))["head_seq"] - 1
    async with tampered(world, school, target):
        await sql(
            world,
            "UPDATE audit_chain SET target = 'forged' WHERE school_id = :s AND seq = :q",
            s=school,
            q=target,
        )
        code, out = await run_cli(world, "--school", str(school))
        assert code == 1, out
        assert f"first break at seq {target}: hash-mismatch" in out
        code, out = await run_cli(world, "--all")
        assert code == 1, out
        assert "chain(s), 1 broken" in out
    code, out = await run_cli(world, "--school", "NO-SUCH-SCHOOL")
    assert code == 2, out
