"""What records tells attendance: the whole list of a class (``ClassRosterChanged``, R13, R14)
on every change of it, and the school calendar (``SchoolYearScheduled``).

Each test reads the events of its own class from the outbox, so the order of tests and the
other modules' classes do not matter.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, Final

from common.events.records import ClassRosterChanged, SchoolYearScheduled
from records.handlers.base import school_today
from records.testing import RecordsWorld, school_year_around

ROSTER: Final = ClassRosterChanged.event_type
SCHEDULED: Final = SchoolYearScheduled.event_type


async def rosters(world: RecordsWorld, class_id: uuid.UUID) -> list[dict[str, Any]]:
    return await world.outbox_events(ROSTER, class_id)


def names(roster: dict[str, Any]) -> dict[str, tuple[str, str, str | None]]:
    return {
        s["student_id"]: (s["full_name"], s["starts_on"], s["ends_on"]) for s in roster["students"]
    }


def this_years_start() -> date:
    _, starts_on, _ = school_year_around(school_today())
    return starts_on + timedelta(days=14)


async def test_a_new_class_publishes_its_empty_list_and_each_homeroom_change(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    homeroom, successor = uuid.uuid4(), uuid.uuid4()
    class_id = await world.new_class(school, 7, homeroom=homeroom)

    (created,) = await rosters(world, class_id)
    assert created["students"] == []
    assert created["homeroom_teacher_id"] == str(homeroom)
    assert created["grade"] == 7
    assert created["label"].startswith("7")
    assert created["school_id"] == str(school)
    assert created["district_id"] == str(world.units.district)
    assert created["province_id"] == str(world.units.province)
    code, _, _ = school_year_around(school_today())
    assert created["school_year"] == code

    response = await world.client.patch(
        f"/classes/{class_id}",
        json={"homeroom_teacher_id": str(successor)},
        headers=world.admin_of(school),
    )
    assert response.status_code == 200, response.text
    created_again, changed = await rosters(world, class_id)
    assert created_again == created
    assert changed["homeroom_teacher_id"] == str(successor)
    assert changed["students"] == []


async def test_each_enrolment_publishes_the_whole_list(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    class_id = await world.new_class(school, 6)
    on = this_years_start()
    first, second = await world.add_students(
        class_id, school, ["Nguyễn Văn An", "Trần Thị Bình"], on
    )

    # One event per request (one per transaction), each with every enrolment so far.
    _, after_first, after_second = await rosters(world, class_id)
    assert names(after_first) == {str(first): ("Nguyễn Văn An", on.isoformat(), None)}
    assert names(after_second) == {
        str(first): ("Nguyễn Văn An", on.isoformat(), None),
        str(second): ("Trần Thị Bình", on.isoformat(), None),
    }
    # Names and dates only: no birth date, no national ID (the contract says so).
    assert set(after_second["students"][0]) == {"student_id", "full_name", "starts_on", "ends_on"}


async def test_a_class_transfer_publishes_both_lists_once_each(
    records_world: RecordsWorld,
) -> None:
    # R14: the movement ends the enrolment in the class left and opens one in the class joined.
    world = records_world
    school = world.units.thcs
    left, joined = await world.new_class(school, 8), await world.new_class(school, 8)
    on = this_years_start()
    (moving, staying) = await world.add_students(
        left, school, ["Lê Văn Cường", "Phạm Thị Dung"], on
    )
    before_left, before_joined = len(await rosters(world, left)), len(await rosters(world, joined))
    effective = on + timedelta(days=10)

    response = await world.client.post(
        f"/students/{moving}/movements",
        json={
            "kind": "class_transfer",
            "effective_on": effective.isoformat(),
            "to_class_id": str(joined),
        },
        headers=world.admin_of(school),
    )
    assert response.status_code == 201, response.text

    left_events, joined_events = await rosters(world, left), await rosters(world, joined)
    # Exactly one new event per affected class for the movement's transaction.
    assert len(left_events) == before_left + 1
    assert len(joined_events) == before_joined + 1
    last_day = (effective - timedelta(days=1)).isoformat()
    assert names(left_events[-1]) == {
        str(moving): ("Lê Văn Cường", on.isoformat(), last_day),
        str(staying): ("Phạm Thị Dung", on.isoformat(), None),
    }
    assert names(joined_events[-1]) == {str(moving): ("Lê Văn Cường", effective.isoformat(), None)}


async def test_a_drop_out_ends_the_enrolment_on_the_list(records_world: RecordsWorld) -> None:
    world = records_world
    school = world.units.thcs
    class_id = await world.new_class(school, 9)
    on = this_years_start()
    (leaving,) = await world.add_students(class_id, school, ["Hoàng Văn Em"], on)
    before = len(await rosters(world, class_id))
    effective = on + timedelta(days=20)

    response = await world.client.post(
        f"/students/{leaving}/movements",
        json={"kind": "drop_out", "effective_on": effective.isoformat()},
        headers=world.admin_of(school),
    )
    assert response.status_code == 201, response.text

    events = await rosters(world, class_id)
    assert len(events) == before + 1
    last_day = (effective - timedelta(days=1)).isoformat()
    # Still on the list, with its last day: attendance keeps the days before it.
    assert names(events[-1]) == {str(leaving): ("Hoàng Văn Em", on.isoformat(), last_day)}


async def test_a_name_correction_publishes_the_students_lists_of_the_year(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    school = world.units.thcs
    class_id = await world.new_class(school, 6)
    on = this_years_start()
    (student,) = await world.add_students(class_id, school, ["Vũ Thị Giang"], on)
    admin = world.admin_of(school)
    read = await world.client.get(f"/students/{student}", headers=admin)
    assert read.status_code == 200, read.text
    profile = {
        k: read.json()[k]
        for k in ("full_name", "date_of_birth", "gender", "ethnicity", "place_of_birth")
    }
    before = len(await rosters(world, class_id))

    # Another field changed: the list is the same, nothing is published.
    moved = await world.client.patch(
        f"/students/{student}",
        json=profile | {"place_of_birth": "Hà Nội"},
        headers={**admin, "If-Match": read.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    assert len(await rosters(world, class_id)) == before

    renamed = await world.client.patch(
        f"/students/{student}",
        json=profile | {"full_name": "Vũ Thị Hương Giang"},
        headers={**admin, "If-Match": moved.headers["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    events = await rosters(world, class_id)
    assert len(events) == before + 1
    assert names(events[-1]) == {str(student): ("Vũ Thị Hương Giang", on.isoformat(), None)}


async def test_opening_a_school_year_publishes_its_dates_and_terms(
    records_world: RecordsWorld,
) -> None:
    world = records_world
    first = world.last_year_first
    (scheduled,) = await world.outbox_events(SCHEDULED, world.last_year_id)
    assert scheduled == {
        "school_year_id": str(world.last_year_id),
        "province_id": str(world.units.province),
        "school_year": f"{first}-{first + 1}",
        "starts_on": f"{first}-08-01",
        "ends_on": f"{first + 1}-07-31",
        "terms": [
            {"term": "term_1", "starts_on": f"{first}-08-01", "ends_on": f"{first + 1}-01-15"},
            {"term": "term_2", "starts_on": f"{first + 1}-01-16", "ends_on": f"{first + 1}-05-31"},
        ],
        "scheduled_at": scheduled["scheduled_at"],
    }
    assert len(await world.outbox_events(SCHEDULED, world.year_id)) == 1
