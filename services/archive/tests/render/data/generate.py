"""Regenerates the records snapshots the render tests read (``primary_year.json``,
``secondary_year.json``), through the records service's own test world: classes are filled,
confirmed, approved and locked, and the locked snapshots are read back from the API.

Run it on purpose (pytest does not collect it with the tests, its name is not ``test_*``):

    uv run --no-sync pytest services/archive/tests/render/data/generate.py -p no:cacheprovider

It needs the test servers (PostgreSQL, RabbitMQ, Redis) like any records integration test.
The files are rewritten only when ``HSDT_WRITE_SNAPSHOTS=1``; otherwise the run only checks
that the records service still produces snapshots the renderer reads.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

from records.testing import RecordsWorld, records_world

__all__ = ["records_world"]

HERE: Final = Path(__file__).parent

# (full name, gender, date of birth offset in years before the school year, profile)
SECONDARY_STUDENTS: Final = (
    ("Nguyễn Thị Ánh Tuyết", "female", "excellent"),
    ("Trần Đức Thắng", "male", "good"),
    ("Lê Hoàng Yến", "female", "fair"),
    ("Phạm Quỳnh Anh", "female", "one_fail"),
    ("Hoàng Văn Ước", "male", "weak"),
    ("Đặng Thị Ngọc Hằng", "female", "fair_conduct"),
    ("Bùi Tiến Dũng", "male", "conduct_fail"),
    ("Võ Thị Thu Hường", "female", "leaves"),
)
PRIMARY_STUDENTS: Final = (
    ("Ngô Bảo Châu", "male", "excellent"),
    ("Lương Thị Diệu Linh", "female", "good"),
    ("Đỗ Minh Khôi", "male", "complete"),
    ("Trịnh Thị Ngọc Ánh", "female", "incomplete"),
    ("Vũ Đình Phúc", "male", "complete"),
    ("Mạc Thị Hải Yến", "female", "leaves"),
)

SCORE_BASE: Final = {
    "excellent": 9.2,
    "good": 8.3,
    "fair": 6.9,
    "one_fail": 7.1,
    "weak": 4.4,
    "fair_conduct": 6.2,
    "conduct_fail": 5.8,
    "leaves": 7.6,
}
CONDUCT: Final = {
    "excellent": ("T", "T"),
    "good": ("T", "T"),
    "fair": ("K", "T"),
    "one_fail": ("K", "K"),
    "weak": ("D", "K"),
    "fair_conduct": ("D", "D"),
    "conduct_fail": ("K", "CD"),
    "leaves": ("T", None),
}
ABSENCES: Final = {"excellent": (0, 0), "good": (2, 0), "weak": (6, 3), "conduct_fail": (4, 7)}
SUBJECT_COMMENTS: Final = (
    "Nắm vững kiến thức, trình bày bài rõ ràng, mạch lạc.",
    "Tích cực phát biểu; cần rèn thêm kỹ năng tự học ở nhà.",
    "Có tiến bộ rõ rệt so với đầu năm học, cần phát huy.",
    "Chưa chủ động ôn tập; cần cố gắng nhiều hơn ở học kỳ sau.",
)
HOMEROOM_COMMENTS: Final = (
    "Ngoan, lễ phép, hòa đồng với bạn bè; tích cực tham gia hoạt động của lớp.",
    "Chăm chỉ, trung thực; đôi khi còn rụt rè khi phát biểu trước lớp.",
    "Cần nghiêm túc hơn trong giờ học và thực hiện đúng nội quy nhà trường.",
)


def _score(base: float, subject: int, column: int, term: int) -> str:
    # A spread that keeps each student's level but differs per subject, column and term.
    wobble = ((subject * 7 + column * 3 + term * 5) % 11 - 5) / 10
    value = min(10.0, max(0.0, base + wobble))
    return f"{value:.1f}"


async def _save(
    world: RecordsWorld,
    class_id: uuid.UUID,
    headers: dict[str, str],
    sheet: str,
    period: str,
    cells: list[dict[str, Any]],
    on: date,
) -> None:
    if not cells:
        return
    url = f"/classes/{class_id}/sheets/{sheet}/{period}"
    current = await world.client.get(url, headers=headers)
    assert current.status_code == 200, current.text
    saved = await world.client.patch(
        url,
        json={"cells": cells, "assessed_on": on.isoformat()},
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert saved.status_code == 200, saved.text


async def _columns(
    world: RecordsWorld, class_id: uuid.UUID, headers: dict[str, str], sheet: str, period: str
) -> list[str]:
    url = f"/classes/{class_id}/sheets/{sheet}/{period}"
    current = await world.client.get(url, headers=headers)
    assert current.status_code == 200, current.text
    return [c["code"] for c in current.json()["columns"]]


async def _enrol(
    world: RecordsWorld,
    class_id: uuid.UUID,
    school: uuid.UUID,
    students: tuple[tuple[str, str, str], ...],
    birth_year: int,
    starts_on: date,
) -> list[uuid.UUID]:
    ids = []
    for i, (name, gender, _) in enumerate(students):
        response = await world.client.post(
            f"/classes/{class_id}/students",
            json={
                "full_name": name,
                "date_of_birth": date(birth_year, 1 + (i * 5) % 12, 3 + i * 3).isoformat(),
                "gender": gender,
                "ethnicity": "Kinh",
                "place_of_birth": "Xã Bình Lâm, huyện Đông Sơn",
                "student_code": f"{birth_year % 100}{i + 1:04d}{uuid.uuid4().hex[:6]}",
                "starts_on": starts_on.isoformat(),
            },
            headers=world.admin_of(school),
        )
        assert response.status_code == 201, response.text
        ids.append(uuid.UUID(response.json()["id"]))
    return ids


async def _new_class(
    world: RecordsWorld, school: uuid.UUID, grade: int, name: str, homeroom: uuid.UUID
) -> uuid.UUID:
    response = await world.client.post(
        "/classes",
        json={
            "school_id": str(school),
            "school_year_id": str(world.last_year_id),
            "grade": grade,
            "name": name,
            "homeroom_teacher_id": str(homeroom),
        },
        headers=world.admin_of(school),
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def _lock_and_read(
    world: RecordsWorld, class_id: uuid.UUID, school: uuid.UUID, homeroom: uuid.UUID
) -> dict[str, Any]:
    await world.approve(class_id, school, homeroom, "year")
    leader = world.leader_of(school)
    locked = await world.client.post(
        "/locks",
        json={
            "school_id": str(school),
            "school_year_id": str(world.last_year_id),
            "period": "year",
            "class_ids": [str(class_id)],
            "reason": "Khóa sổ cuối năm học",
        },
        headers=leader,
    )
    assert locked.status_code == 201, locked.text
    snapshot = await world.client.get(f"/classes/{class_id}/snapshots/year", headers=leader)
    assert snapshot.status_code == 200, snapshot.text
    body: dict[str, Any] = snapshot.json()
    return body


async def _secondary(world: RecordsWorld) -> dict[str, Any]:
    school, grade = world.units.thcs, 9
    first = world.last_year_first
    homeroom, teacher = uuid.uuid4(), uuid.uuid4()
    class_id = await _new_class(world, school, grade, "9A2", homeroom)
    ids = await _enrol(world, class_id, school, SECONDARY_STUDENTS, first - 14, date(first, 8, 15))
    profiles = {sid: profile for sid, (_, _, profile) in zip(ids, SECONDARY_STUDENTS, strict=True)}
    subjects = await world.subjects(grade, world.last_year_id)
    for subject in subjects:
        for term in ("term_1", "term_2"):
            await world.assign(class_id, school, subject["code"], term, teacher)
    me, gvcn = world.teacher(teacher, school), world.teacher(homeroom, school)
    leaves = next(s for s, p in profiles.items() if p == "leaves")
    terms = (("term_1", date(first, 12, 1), 1), ("term_2", date(first + 1, 4, 1), 2))
    for term, on, term_no in terms:
        if term == "term_2":
            moved = await world.client.post(
                f"/students/{leaves}/movements",
                json={"kind": "drop_out", "effective_on": f"{first + 1}-02-20"},
                headers=world.admin_of(school),
            )
            assert moved.status_code == 201, moved.text
        for s_no, subject in enumerate(subjects):
            code = subject["code"]
            columns = await _columns(world, class_id, me, code, term)
            cells: list[dict[str, Any]] = []
            for i, sid in enumerate(ids):
                profile = profiles[sid]
                if term == "term_2" and sid == leaves:
                    continue
                for c_no, column in enumerate(columns):
                    if column == "nx":
                        if (i + s_no + term_no) % 3 == 0:
                            text = SUBJECT_COMMENTS[(i + s_no) % len(SUBJECT_COMMENTS)]
                            cells.append({"student_id": str(sid), "column": column, "value": text})
                        continue
                    if subject["form"] == "score":
                        value = _score(SCORE_BASE[profile], s_no, c_no, term_no)
                    else:
                        failing = profile == "one_fail" and code == "nghe_thuat" and term_no == 2
                        failing |= profile == "weak" and code == "gdtc" and c_no == 0
                        value = "CĐ" if failing else "Đ"
                    cells.append({"student_id": str(sid), "column": column, "value": value})
            await _save(world, class_id, me, code, term, cells, on)
        conduct = []
        for i, sid in enumerate(ids):
            rating = CONDUCT[profiles[sid]][term_no - 1]
            if rating is None:
                continue
            conduct.append({"student_id": str(sid), "column": "rating", "value": rating})
            text = HOMEROOM_COMMENTS[(i + term_no) % len(HOMEROOM_COMMENTS)]
            conduct.append({"student_id": str(sid), "column": "nx", "value": text})
        await _save(world, class_id, gvcn, "_conduct", term, conduct, on + timedelta(days=20))
    for sid, profile in profiles.items():
        if profile == "leaves":
            continue
        excused, unexcused = ABSENCES.get(profile, (1, 0))
        put = await world.client.put(
            f"/classes/{class_id}/absences/{sid}",
            json={"excused_days": excused, "unexcused_days": unexcused},
            headers=gvcn,
        )
        assert put.status_code == 204, put.text
    # Summer: the weak student's re-assessment, the conduct-failing student's re-rating.
    results = await world.client.get(f"/classes/{class_id}/results/year", headers=gvcn)
    assert results.status_code == 200, results.text
    summer_on = date(first + 1, 7, 10)
    weak = next(s for s, p in profiles.items() if p == "weak")
    retest = _retest_subjects(results.json(), weak)
    for code in retest:
        form = next(s["form"] for s in subjects if s["code"] == code)
        value = "6.0" if form == "score" else "Đ"
        await _save(
            world,
            class_id,
            me,
            code,
            "summer",
            [
                {"student_id": str(weak), "column": "retest", "value": value},
                {"student_id": str(weak), "column": "nx", "value": "Đạt yêu cầu sau ôn tập hè."},
            ],
            summer_on,
        )
    trained = next(s for s, p in profiles.items() if p == "conduct_fail")
    await _save(
        world,
        class_id,
        gvcn,
        "_conduct",
        "summer",
        [
            {"student_id": str(trained), "column": "rating", "value": "Đ"},
            {
                "student_id": str(trained),
                "column": "nx",
                "value": "Hoàn thành nhiệm vụ rèn luyện hè.",
            },
        ],
        summer_on,
    )
    return await _lock_and_read(world, class_id, school, homeroom)


def _retest_subjects(results: dict[str, Any], student: uuid.UUID) -> list[str]:
    """The subjects the re-assessment finding names for ``student``."""
    row = next(s for s in results["students"] if s["student_id"] == str(student))
    finding = next(f for f in row["findings"] if f["key"] == "summer_reassessment")
    assert finding["value"] == "yes", finding
    return sorted(finding["inputs"])


PRIMARY_LEVELS: Final = {
    "excellent": ("T", 10, "T"),
    "good": ("T", 8, "T"),
    "complete": ("H", 7, "D"),
    "incomplete": ("C", 4, "C"),
    "leaves": ("H", 6, "D"),
}
PRIMARY_COMMENTS: Final = (
    "Đọc to, rõ ràng; viết đúng chính tả, chữ viết đẹp.",
    "Thực hiện thành thạo các phép tính; giải toán có lời văn tốt.",
    "Hăng hái tham gia các hoạt động, biết hợp tác với bạn.",
    "Cần luyện thêm kỹ năng đọc hiểu và trình bày bài.",
)
QUALITY_COMMENTS: Final = (
    "Kính trọng thầy cô, yêu quý bạn bè; tự giác hoàn thành nhiệm vụ học tập.",
    "Mạnh dạn, tự tin trong giao tiếp; biết giúp đỡ bạn bè.",
    "Cần chủ động hơn trong học tập và mạnh dạn nêu ý kiến.",
)
QUALITY_CODES: Final = (
    "yeu_nuoc",
    "nhan_ai",
    "cham_chi",
    "trung_thuc",
    "trach_nhiem",
    "tu_chu_tu_hoc",
    "giao_tiep_hop_tac",
    "giai_quyet_van_de",
    "ngon_ngu",
    "tinh_toan",
    "khoa_hoc",
    "cong_nghe",
    "tin_hoc",
    "tham_mi",
    "the_chat",
)


async def _primary(world: RecordsWorld) -> dict[str, Any]:
    school, grade = world.units.primary, 5
    first = world.last_year_first
    homeroom, teacher = uuid.uuid4(), uuid.uuid4()
    class_id = await _new_class(world, school, grade, "5A1", homeroom)
    ids = await _enrol(world, class_id, school, PRIMARY_STUDENTS, first - 10, date(first, 8, 15))
    profiles = {sid: profile for sid, (_, _, profile) in zip(ids, PRIMARY_STUDENTS, strict=True)}
    subjects = await world.subjects(grade, world.last_year_id)
    for subject in subjects:
        for term in ("term_1", "term_2"):
            await world.assign(class_id, school, subject["code"], term, teacher)
    me, gvcn = world.teacher(teacher, school), world.teacher(homeroom, school)
    leaves = next(s for s, p in profiles.items() if p == "leaves")
    checkpoints = (
        ("mid_term_1", date(first, 10, 30)),
        ("end_term_1", date(first + 1, 1, 10)),
        ("mid_term_2", date(first + 1, 3, 20)),
        ("end_year", date(first + 1, 5, 20)),
    )
    for cp_no, (checkpoint, on) in enumerate(checkpoints):
        if checkpoint == "mid_term_2":
            moved = await world.client.post(
                f"/students/{leaves}/movements",
                json={"kind": "drop_out", "effective_on": f"{first + 1}-02-20"},
                headers=world.admin_of(school),
            )
            assert moved.status_code == 201, moved.text
        after_leaving = cp_no >= 2
        for s_no, subject in enumerate(subjects):
            code = subject["code"]
            columns = await _columns(world, class_id, me, code, checkpoint)
            cells: list[dict[str, Any]] = []
            for i, sid in enumerate(ids):
                profile = profiles[sid]
                if after_leaving and sid == leaves:
                    continue
                level, score, _ = PRIMARY_LEVELS[profile]
                # One subject of the good student is Hoàn thành at mid-year only.
                if profile == "good" and cp_no == 1 and s_no == 2:
                    level = "H"
                if profile == "excellent" and s_no % 3 == 1:
                    score = 9
                values = {"level": level, "score": str(max(1, min(10, score - (s_no % 2))))}
                if profile == "excellent":
                    values["score"] = str(score if s_no % 3 != 1 else 9)
                for column in columns:
                    if column == "nx":
                        if (i + s_no) % 2 == 0 or checkpoint == "end_year":
                            text = PRIMARY_COMMENTS[(i + s_no) % len(PRIMARY_COMMENTS)]
                            cells.append({"student_id": str(sid), "column": "nx", "value": text})
                        continue
                    cells.append(
                        {"student_id": str(sid), "column": column, "value": values[column]}
                    )
            await _save(world, class_id, me, code, checkpoint, cells, on)
        qualities: list[dict[str, Any]] = []
        for i, sid in enumerate(ids):
            profile = profiles[sid]
            if after_leaving and sid == leaves:
                continue
            _, _, level = PRIMARY_LEVELS[profile]
            for q_no, quality in enumerate(QUALITY_CODES):
                value = "Đ" if profile == "complete" and q_no % 4 == 0 else level
                value = "Đ" if value == "D" else value
                qualities.append({"student_id": str(sid), "column": quality, "value": value})
            text = QUALITY_COMMENTS[(i + cp_no) % len(QUALITY_COMMENTS)]
            qualities.append({"student_id": str(sid), "column": "nx", "value": text})
        await _save(world, class_id, gvcn, "_qualities", checkpoint, qualities, on)
    return await _lock_and_read(world, class_id, school, homeroom)


async def test_write_snapshots(records_world: RecordsWorld) -> None:
    written = {
        "secondary_year.json": await _secondary(records_world),
        "primary_year.json": await _primary(records_world),
    }
    for name, body in written.items():
        assert body["data"]["students"], name
        if os.environ.get("HSDT_WRITE_SNAPSHOTS") == "1":
            text = json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
            (HERE / name).write_text(text, encoding="utf-8")
