"""The authorization matrix of records, generated from ``records.access.ENDPOINT_RULES``: every
route × every role × in scope / out of scope, and for teachers × how they stand to the class.

The caller holds exactly one grant, of the role under test, at the tier that role is granted at:

- in scope: the department (province roles and the platform role archivist), the district
  office of the target's school (district roles), the target's school TP-D1-THCS itself
  (school roles);
- out of scope: a second province seeded here (province roles), the other district TP-D2
  (district roles), the sibling school TP-D1-TH in the same district (school roles).

Every request is about one target: a grade-6 class of the THCS school in the current year, with
students, a maths teacher for term 1 (the ``assigned`` teacher, writer of the maths sheet) and a
homeroom teacher (``homeroom``). Teachers come three ways — assigned, homeroom, ``unrelated``
(teaches nothing in the class) — each in and out of scope, so that the owner checks are tested
on their own: ``Owner.TEACHER_OF_CLASS`` admits assigned and homeroom teachers,
``Owner.HOMEROOM`` the homeroom teacher (and the row's keeper roles), ``Owner.SHEET_WRITER`` only
the assigned teacher.

Scope of a row, as the table defines it: ``Scope.SCHOOL`` needs a grant at the school or above
it; ``Scope.PROVINCE`` needs the caller to work in the resource's province (so a district or
school role is in scope even at the "out of scope" unit, which lies in the same province);
``Scope.MINE`` needs any grant at all.

The archivist is held only by a platform client (the archive service), so its token is a
client's acting for a person, as the archive's is; every other role's is a person's own.

Allowed answers are 2xx, with two documented exceptions that prove authorization passed:
confirming results answers 409 ``results-incomplete`` (nothing is graded) and approving them
409 ``not-confirmed`` (nothing is confirmed). ``GET /classes`` filters instead of refusing: a
teacher who does not teach the class gets 200 without it. Refused answers are 403
problem+json with ``forbidden`` (role or scope), or the owner check's own code
(``not-homeroom-teacher``, ``not-assigned``), and a refused write changes nothing: every records
table and the outbox hash the same before and after.
"""

from __future__ import annotations

import io
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from openpyxl import load_workbook

from common.app import API_PREFIX
from common.events.identity import OrgLevel, OrgUnitCreated, Role
from records.access import ENDPOINT_RULES, EndpointRule, LockScope, Owner, Scope
from records.excel.class_list import StudentProfileRow, export_class_list
from records.excel.grade_sheet import XLSX_MEDIA_TYPE
from records.handlers.base import school_today
from records.handlers.calendar import record_org_unit
from records.models import CorrectionRow, LockRow, SnapshotRow
from records.testing import RecordsWorld, calendar_body
from records.uow import RecordsUnitOfWork

NAMES: Final = ["Trần Văn Bình", "Nguyễn Thị An", "Lê Minh Anh"]

# Routes under /api/v1 without a row: any valid token, no role.
ROWLESS: Final = {("GET", "/me")}

# Which rows' refusals come from the owner check, and with which codes.
OWNER_CODES: Final[dict[Owner, frozenset[str]]] = {
    Owner.NONE: frozenset(),
    Owner.TEACHER_OF_CLASS: frozenset({"forbidden"}),
    Owner.HOMEROOM: frozenset({"not-homeroom-teacher"}),
    # The Excel import reads the sheet first (the class readers' check: "forbidden" for a
    # teacher who does not teach the class), then checks the writer ("not-assigned").
    Owner.SHEET_WRITER: frozenset({"not-assigned", "forbidden"}),
}


class Relation(StrEnum):
    IN_SCOPE = "in_scope"
    OUT_OF_SCOPE = "out_of_scope"


class Link(StrEnum):
    """How a teacher stands to the target class."""

    ASSIGNED = "assigned"  # teaches maths in term 1: the maths sheet's writer
    HOMEROOM = "homeroom"  # giáo viên chủ nhiệm
    UNRELATED = "unrelated"  # a teacher of the school who teaches nothing in the class


# Roles held only by platform service clients (identity.domain.roles): their tokens are a
# client's, acting for a person.
PLATFORM_ROLES: Final = frozenset({Role.ARCHIVIST})


def tier(role: Role) -> OrgLevel:
    if role in {Role.PROVINCE_ADMIN, Role.PROVINCE_INSPECTOR, Role.ARCHIVIST}:
        return OrgLevel.PROVINCE
    if role in {Role.DISTRICT_ADMIN, Role.DISTRICT_INSPECTOR}:
        return OrgLevel.DISTRICT
    return OrgLevel.SCHOOL


def links(role: Role) -> list[Link | None]:
    return list(Link) if role is Role.TEACHER else [None]


def in_scope(rule: EndpointRule, role: Role, relation: Relation) -> bool:
    if rule.scope is Scope.MINE:
        return True
    if rule.scope is Scope.PROVINCE:
        # Only a province role's out-of-scope unit lies in another province.
        return relation is Relation.IN_SCOPE or tier(role) is not OrgLevel.PROVINCE
    return relation is Relation.IN_SCOPE


def owner_passes(rule: EndpointRule, role: Role, link: Link | None) -> bool:
    """The owner checks bind teachers; other roles are admitted or refused by their role."""
    if role is not Role.TEACHER or rule.owner is Owner.NONE:
        return True
    if rule.owner is Owner.TEACHER_OF_CLASS:
        return link in {Link.ASSIGNED, Link.HOMEROOM}
    if rule.owner is Owner.HOMEROOM:
        return link is Link.HOMEROOM
    return link is Link.ASSIGNED  # Owner.SHEET_WRITER


@dataclass
class Target:
    """The class every request is about, and the people around it."""

    world: RecordsWorld
    other_province: uuid.UUID
    class_id: uuid.UUID
    students: list[uuid.UUID]
    teachers: dict[Link, uuid.UUID]
    side_class: uuid.UUID

    @property
    def school(self) -> uuid.UUID:
        return self.world.units.thcs

    def holder(self, role: Role, relation: Relation) -> uuid.UUID:
        u = self.world.units
        inside = relation is Relation.IN_SCOPE
        match tier(role):
            case OrgLevel.PROVINCE:
                return u.province if inside else self.other_province
            case OrgLevel.DISTRICT:
                return u.district if inside else u.other_district
            case _:
                return u.thcs if inside else u.primary

    def caller(self, role: Role, link: Link | None) -> uuid.UUID:
        return self.teachers[link] if link is not None else uuid.uuid4()

    def token(self, role: Role, person: uuid.UUID, unit: uuid.UUID) -> dict[str, str]:
        """``role`` at ``unit``: a person's own token, or for a platform role the platform
        client's acting for ``person``."""
        grant = f"{role.value}@{unit}"
        if role in PLATFORM_ROLES:
            return self.world.issuer.headers(
                "hsdt-archive", grant, kind="client", acting_for=person
            )
        return self.world.as_(person, grant)

    def admin(self) -> dict[str, str]:
        return self.world.admin_of(self.school)

    def leader(self) -> dict[str, str]:
        return self.world.leader_of(self.school)

    async def snapshot(self) -> dict[str, str]:
        return await self.world.fingerprint()


async def _seed_other_province(world: RecordsWorld) -> uuid.UUID:
    province = uuid.uuid4()
    await record_org_unit(
        OrgUnitCreated(
            unit_id=province,
            kind=OrgLevel.PROVINCE,
            code=f"KH{province.hex[:6].upper()}",
            parent_id=None,
            levels=[],
            province_id=province,
            district_id=None,
            created_at=datetime.now(UTC),
            created_by=None,
        ),
        RecordsUnitOfWork(world.sessions, source="records"),
    )
    return province


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(records_world: RecordsWorld) -> Target:
    world = records_world
    school = world.units.thcs
    teachers = {link: uuid.uuid4() for link in Link}
    class_id = await world.new_class(school, 6, homeroom=teachers[Link.HOMEROOM])
    students = await world.add_students(class_id, school, NAMES, school_today() - timedelta(days=1))
    await world.assign(class_id, school, "toan", "term_1", teachers[Link.ASSIGNED])
    side_class = await world.new_class(school, 6)
    other_province = await _seed_other_province(world)
    async with world.sessions() as session:
        # A locked snapshot to read: the matrix is about who reads it, not how it is made.
        session.add(
            SnapshotRow(
                id=uuid.uuid4(),
                class_id=class_id,
                school_id=school,
                school_year_id=world.year_id,
                period="term_1",
                version=1,
                lock_id=None,
                correction_id=None,
                created_at=datetime.now(UTC),
                data={"students": []},
                data_sha256="0" * 64,
            )
        )
        await session.commit()
    return Target(world, other_province, class_id, students, teachers, side_class)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    body: dict[str, Any] = response.json()
    assert body["title"]
    return body


# --- one valid request per route, about the target


@dataclass
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ok: frozenset[int] = frozenset({200, 201, 204})
    ok_code: str | None = None  # the problem code of a documented non-2xx allowed answer
    # More such codes, where the domain's own check (not the role's) refuses some callers.
    ok_codes: frozenset[str] = frozenset()
    why_ok: str = ""
    # A listing whose owner check filters instead of refusing: the id that must be listed
    # exactly when the owner check passes.
    listed: str | None = None


Builder = Callable[[Target], Awaitable[Call]]
_years = itertools.count(2040)


def _student_body(i: int, starts_on: date) -> dict[str, Any]:
    return {
        "full_name": f"Đỗ Văn Thử {uuid.uuid4().hex[:4].upper()}",
        "date_of_birth": f"{starts_on.year - 12}-0{1 + i % 9}-1{i % 9}",
        "gender": "female" if i % 2 else "male",
        "ethnicity": "Kinh",
        "place_of_birth": "Bình Lâm",
    }


async def _create_year(t: Target) -> Call:
    first = next(_years)
    return Call("POST", "/school-years", calendar_body(t.world.units.province, first))


def _reader(path: str, **params: str) -> Builder:
    """A read of ``path`` with {class_id}, {student_id}, {year_id} of the target filled in."""

    async def build(t: Target) -> Call:
        filled = path.format(
            class_id=t.class_id, student_id=t.students[0], year_id=t.world.year_id, school=t.school
        )
        values = {k: v.format(year_id=t.world.year_id, school=t.school) for k, v in params.items()}
        return Call("GET", filled, params=values or None)

    return build


async def _put_subject(t: Target) -> Call:
    # Last year's grade 9, so that the target class's curriculum stays as it is.
    code = f"thu_{uuid.uuid4().hex[:8]}"
    body = {"name_vi": "Môn thử nghiệm", "form": "score", "periods_per_year": 35}
    return Call("PUT", f"/school-years/{t.world.last_year_id}/curriculum/9/{code}", body)


async def _list_classes(t: Target) -> Call:
    params = {"school_id": str(t.school), "school_year_id": str(t.world.year_id)}
    return Call("GET", "/classes", params=params, listed=str(t.class_id))


async def _create_class(t: Target) -> Call:
    body = {
        "school_id": str(t.school),
        "school_year_id": str(t.world.year_id),
        "grade": 7,
        "name": f"7{uuid.uuid4().hex[:6].upper()}",
    }
    return Call("POST", "/classes", body)


async def _patch_class(t: Target) -> Call:
    # A class of its own: the target's homeroom teacher stays who they are.
    class_id = await t.world.new_class(t.school, 8)
    return Call("PATCH", f"/classes/{class_id}", {"homeroom_teacher_id": str(uuid.uuid4())})


async def _add_student(t: Target) -> Call:
    starts_on = school_today() - timedelta(days=1)
    body = _student_body(3, starts_on) | {"starts_on": starts_on.isoformat()}
    return Call("POST", f"/classes/{t.class_id}/students", body)


async def _import_students(t: Target) -> Call:
    starts_on = school_today() - timedelta(days=1)
    row = StudentProfileRow(
        row=4,
        full_name=f"Hoàng Thị Nhập {uuid.uuid4().hex[:4].upper()}",
        date_of_birth=date(starts_on.year - 12, 3, 14),
        gender="female",
        ethnicity="Kinh",
        place_of_birth="Bình Lâm",
        national_id=None,
        student_code=None,
        address=None,
        guardian_name=None,
        guardian_relation=None,
        guardian_phone=None,
    )
    upload = ("lop.xlsx", export_class_list("6A", "2025-2026", [row]), XLSX_MEDIA_TYPE)
    return Call(
        "POST",
        f"/classes/{t.class_id}/students/import",
        params={"starts_on": starts_on.isoformat()},
        files={"file": upload},
    )


async def _patch_student(t: Target) -> Call:
    student = t.students[0]
    read = await t.world.client.get(f"/students/{student}", headers=t.admin())
    assert read.status_code == 200, read.text
    keep = ("full_name", "date_of_birth", "gender", "ethnicity", "place_of_birth")
    body = {k: read.json()[k] for k in keep} | {"address": f"Số {uuid.uuid4().hex[:4]}"}
    return Call("PATCH", f"/students/{student}", body, headers={"If-Match": read.headers["etag"]})


async def _movement(t: Target) -> Call:
    # A student of another class: while the Excel import sends the empty cells of a student
    # who has left, a leaver in the target class makes every import of its sheet answer 422
    # student-not-enrolled, and the import case would test that instead of authorization.
    (student,) = await t.world.add_students(
        t.side_class, t.school, ["Vũ Thị Rời"], school_today() - timedelta(days=1)
    )
    body = {"kind": "drop_out", "effective_on": school_today().isoformat()}
    return Call("POST", f"/students/{student}/movements", body)


async def _put_assignment(t: Target) -> Call:
    body = {"teacher_id": str(uuid.uuid4())}
    return Call("PUT", f"/classes/{t.class_id}/assignments/ngu_van/term_2", body)


async def _delete_assignment(t: Target) -> Call:
    await t.world.assign(t.class_id, t.school, "ngu_van", "term_1", uuid.uuid4())
    return Call("DELETE", f"/classes/{t.class_id}/assignments/ngu_van/term_1")


SHEET: Final = "/classes/{class_id}/sheets/toan/term_1"


async def _save_sheet(t: Target) -> Call:
    url = SHEET.format(class_id=t.class_id)
    read = await t.world.client.get(url, headers=t.leader())
    assert read.status_code == 200, read.text
    value = str(5 + read.json()["version"] % 5)
    cells = [{"student_id": str(t.students[0]), "column": "tx1", "value": value}]
    return Call("PATCH", url, {"cells": cells}, headers={"If-Match": read.headers["etag"]})


def _values(sheet: Any, row: int) -> list[object]:
    return [c.value for c in sheet[row]]


async def _import_sheet(t: Target) -> Call:
    url = SHEET.format(class_id=t.class_id)
    exported = await t.world.client.get(f"{url}/xlsx", headers=t.leader())
    assert exported.status_code == 200, exported.text
    book = load_workbook(io.BytesIO(exported.content))
    sheet = book.worksheets[0]
    header = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "STT")
    tx1 = [c.value for c in sheet[header]].index("ĐĐGtx 1") + 1
    # The first student's row: students added by other cases may have left the class.
    row = next(r for r in range(header + 1, header + 60) if NAMES[0] in _values(sheet, r))
    now = sheet.cell(row, tx1).value
    sheet.cell(row, tx1).value = 6 + (int(now) if isinstance(now, int | float) else 0) % 3
    out = io.BytesIO()
    book.save(out)
    return Call("POST", f"{url}/import", files={"file": ("so-diem.xlsx", out.getvalue())})


async def _absences(t: Target) -> Call:
    body = {"excused_days": 1 + uuid.uuid4().int % 5, "unexcused_days": 0}
    return Call("PUT", f"/classes/{t.class_id}/absences/{t.students[0]}", body)


async def _confirm(t: Target) -> Call:
    return Call(
        "POST",
        f"/classes/{t.class_id}/results/term_1/confirm",
        ok=frozenset({201, 409}),
        ok_code="results-incomplete",
        why_ok="authorised, but nothing is graded yet",
    )


async def _approve(t: Target) -> Call:
    return Call(
        "POST",
        f"/classes/{t.class_id}/results/term_1/approve",
        ok=frozenset({409}),
        ok_code="not-confirmed",
        why_ok="authorised, but the homeroom teacher has not confirmed",
    )


async def _lock(t: Target) -> Call:
    body = {
        "school_id": str(t.school),
        "school_year_id": str(t.world.year_id),
        "period": "term_1",
        "class_ids": [str(t.class_id)],
    }
    return Call(
        "POST",
        "/locks",
        body,
        ok=frozenset({409}),
        ok_code="results-not-approved",
        why_ok="authorised, but the class's results are not approved",
    )


async def _stored_lock(t: Target, kind: str) -> uuid.UUID:
    """A lock written straight to the database: one that holds nothing the matrix touches (a
    term lock of a class no case writes, a window that starts next month)."""
    now = datetime.now(UTC)
    lock = LockRow(
        id=uuid.uuid4(),
        kind=kind,
        scope_unit_id=t.school if kind == "term" else t.world.units.district,
        school_id=t.school if kind == "term" else None,
        school_year_id=t.world.last_year_id if kind == "term" else None,
        period="term_2" if kind == "term" else None,
        class_ids=[t.side_class] if kind == "term" else None,
        created_by=uuid.uuid4(),
        created_at=now,
        starts_at=now if kind == "term" else now + timedelta(days=30),
        ends_at=None if kind == "term" else now + timedelta(days=31),
        snapshot=1 if kind == "term" else None,
    )
    async with t.world.sessions() as session:
        session.add(lock)
        await session.commit()
    return lock.id


async def _reopen(t: Target) -> Call:
    lock_id = await _stored_lock(t, "term")
    return Call("POST", f"/locks/{lock_id}/reopen", {"reason": "Mở để sửa phân công"})


async def _open_window(t: Target) -> Call:
    # Next month, so it refuses nothing the other cases do now.
    now = datetime.now(UTC)
    body = {
        "unit_id": str(t.world.units.district),
        "starts_at": (now + timedelta(days=40)).isoformat(),
        "ends_at": (now + timedelta(days=41)).isoformat(),
        "reason": "Kiểm tra định kỳ",
    }
    return Call("POST", "/inspection-windows", body)


async def _close_window(t: Target) -> Call:
    lock_id = await _stored_lock(t, "inspection")
    return Call("POST", f"/inspection-windows/{lock_id}/close", {"reason": "Kết thúc sớm"})


async def _stored_correction(t: Target) -> uuid.UUID:
    """A pending correction of the target's maths sheet filed by its assigned teacher, written
    straight to the database (filing needs a lock, which needs a whole approved term)."""
    now = datetime.now(UTC)
    row = CorrectionRow(
        id=uuid.uuid4(),
        school_id=t.school,
        class_id=t.class_id,
        sheet="toan",
        period="term_1",
        student_id=t.students[0],
        cells=[{"column": "tx1", "old": None, "new": "9.0"}],
        reason="Nhập nhầm điểm thường xuyên",
        status="pending",
        requested_by=t.teachers[Link.ASSIGNED],
        requested_at=now,
        expires_at=now + timedelta(days=14),
    )
    async with t.world.sessions() as session:
        session.add(row)
        await session.commit()
    return row.id


async def _file_correction(t: Target) -> Call:
    body = {
        "class_id": str(t.class_id),
        "sheet": "toan",
        "period": "term_1",
        "student_id": str(t.students[0]),
        "cells": [{"column": "tx2", "new": "9"}],
        "reason": "Nhập nhầm điểm thường xuyên",
    }
    return Call(
        "POST",
        "/corrections",
        body,
        ok=frozenset({409}),
        ok_code="not-locked",
        why_ok="authorised (the sheet's teacher), but the entries are not locked",
    )


def _correction_step(step: str, body: dict[str, Any] | None, **expect: Any) -> Builder:
    async def build(t: Target) -> Call:
        correction = await _stored_correction(t)
        return Call("POST", f"/corrections/{correction}/{step}", body, **expect)

    return build


async def _read_correction(t: Target) -> Call:
    correction = await _stored_correction(t)
    return Call(
        "GET",
        f"/corrections/{correction}",
        ok=frozenset({200, 403}),
        ok_code="not-involved",
        why_ok="a teacher reads the requests they filed or must witness",
    )


async def _put_evidence(t: Target) -> Call:
    correction = await _stored_correction(t)
    pdf = b"%PDF-1.4\n% bien ban\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    return Call(
        "PUT",
        f"/corrections/{correction}/evidence",
        files={"file": ("bien-ban.pdf", pdf, "application/pdf")},
        ok=frozenset({200, 201, 204, 403}),
        ok_code="not-requester",
        why_ok="only the requester attaches evidence",
    )


async def _get_evidence(t: Target) -> Call:
    correction = await _stored_correction(t)
    return Call(
        "GET",
        f"/corrections/{correction}/evidence",
        ok=frozenset({403, 404}),
        ok_code="no-evidence",
        ok_codes=frozenset({"not-involved"}),
        why_ok="authorised, but nothing is attached (or the teacher is not involved)",
    )


BUILDERS: Final[dict[tuple[str, str], Builder]] = {
    ("POST", "/corrections"): _file_correction,
    ("GET", "/corrections"): _reader("/corrections", school_id="{school}"),
    ("GET", "/corrections/{correction_id}"): _read_correction,
    ("PUT", "/corrections/{correction_id}/evidence"): _put_evidence,
    ("GET", "/corrections/{correction_id}/evidence"): _get_evidence,
    ("POST", "/corrections/{correction_id}/permit"): _correction_step("permit", {"note": "Đồng ý"}),
    ("POST", "/corrections/{correction_id}/reject"): _correction_step(
        "reject", {"note": "Không đủ căn cứ"}
    ),
    ("POST", "/corrections/{correction_id}/witness"): _correction_step(
        "witness",
        None,
        ok=frozenset({200, 403, 409}),
        ok_code="not-a-witness",
        ok_codes=frozenset({"requester-cannot-witness"}),
        why_ok="witnesses are the admin board and the homeroom teacher, never the requester",
    ),
    ("POST", "/corrections/{correction_id}/withdraw"): _correction_step(
        "withdraw",
        None,
        ok=frozenset({200, 403}),
        ok_code="not-requester",
        why_ok="only the requester withdraws",
    ),
    ("GET", "/classes/{class_id}/forensics"): _reader("/classes/{class_id}/forensics"),
    ("GET", "/classes/{class_id}/forensics.xlsx"): _reader("/classes/{class_id}/forensics.xlsx"),
    ("GET", "/students/{student_id}/forensics"): _reader(
        "/students/{student_id}/forensics", school_year_id="{year_id}"
    ),
    ("GET", "/schools/{school_id}/audit"): _reader("/schools/{school}/audit"),
    ("GET", "/schools/{school_id}/audit/verify"): _reader("/schools/{school}/audit/verify"),
    ("GET", "/progress"): _reader("/progress", unit_id="{school}", school_year_id="{year_id}"),
    ("GET", "/progress.xlsx"): _reader(
        "/progress.xlsx", unit_id="{school}", school_year_id="{year_id}"
    ),
    ("POST", "/locks"): _lock,
    ("POST", "/locks/{lock_id}/reopen"): _reopen,
    ("GET", "/locks"): _reader("/locks", school_id="{school}"),
    ("POST", "/inspection-windows"): _open_window,
    ("POST", "/inspection-windows/{lock_id}/close"): _close_window,
    ("GET", "/classes/{class_id}/snapshots/{period}"): _reader(
        "/classes/{class_id}/snapshots/term_1"
    ),
    ("POST", "/school-years"): _create_year,
    ("GET", "/school-years"): _reader("/school-years"),
    ("GET", "/school-years/{year_id}"): _reader("/school-years/{year_id}"),
    ("GET", "/school-years/{year_id}/curriculum"): _reader(
        "/school-years/{year_id}/curriculum", grade="6"
    ),
    ("PUT", "/school-years/{year_id}/curriculum/{grade}/{code}"): _put_subject,
    ("GET", "/rule-sets"): _reader("/rule-sets"),
    ("POST", "/classes"): _create_class,
    ("GET", "/classes"): _list_classes,
    ("GET", "/classes/{class_id}"): _reader("/classes/{class_id}"),
    ("PATCH", "/classes/{class_id}"): _patch_class,
    ("GET", "/classes/{class_id}/students"): _reader("/classes/{class_id}/students"),
    ("POST", "/classes/{class_id}/students"): _add_student,
    ("GET", "/classes/{class_id}/students.xlsx"): _reader("/classes/{class_id}/students.xlsx"),
    ("POST", "/classes/{class_id}/students/import"): _import_students,
    ("GET", "/templates/class-list.xlsx"): _reader("/templates/class-list.xlsx"),
    ("GET", "/students/{student_id}"): _reader("/students/{student_id}"),
    ("PATCH", "/students/{student_id}"): _patch_student,
    ("GET", "/students/{student_id}/history"): _reader("/students/{student_id}/history"),
    ("POST", "/students/{student_id}/movements"): _movement,
    ("GET", "/students/{student_id}/results"): _reader(
        "/students/{student_id}/results", school_year_id="{year_id}"
    ),
    ("GET", "/classes/{class_id}/assignments"): _reader("/classes/{class_id}/assignments"),
    ("PUT", "/classes/{class_id}/assignments/{subject}/{term}"): _put_assignment,
    ("DELETE", "/classes/{class_id}/assignments/{subject}/{term}"): _delete_assignment,
    ("GET", "/assignments/mine"): _reader("/assignments/mine"),
    ("GET", "/classes/{class_id}/sheets/{sheet}/{period}"): _reader(SHEET),
    ("PATCH", "/classes/{class_id}/sheets/{sheet}/{period}"): _save_sheet,
    ("GET", "/classes/{class_id}/sheets/{sheet}/{period}/xlsx"): _reader(f"{SHEET}/xlsx"),
    ("POST", "/classes/{class_id}/sheets/{sheet}/{period}/import"): _import_sheet,
    ("PUT", "/classes/{class_id}/absences/{student_id}"): _absences,
    ("GET", "/classes/{class_id}/results/{period}"): _reader("/classes/{class_id}/results/term_1"),
    ("POST", "/classes/{class_id}/results/{period}/confirm"): _confirm,
    ("POST", "/classes/{class_id}/results/{period}/approve"): _approve,
}


async def _send(t: Target, call: Call, auth: dict[str, str]) -> httpx.Response:
    return await t.world.client.request(
        call.method,
        call.path,
        json=call.json,
        params=call.params,
        files=call.files,
        headers={**call.headers, **auth},
    )


# --- the table covers every route


def _api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if path.startswith(f"{API_PREFIX}/"):
            assert isinstance(route.original_route, APIRoute), path
            methods = set(route.methods or ()) - {"HEAD", "OPTIONS"}
            found.update((m, path.removeprefix(API_PREFIX)) for m in methods)
    return found


async def test_every_route_has_a_row_and_a_request(records_world: RecordsWorld) -> None:
    routes = _api_routes(records_world.app)

    without_row = sorted(routes - ENDPOINT_RULES.keys() - ROWLESS)
    stale = sorted((ENDPOINT_RULES.keys() | ROWLESS) - routes)

    assert without_row == [], f"routes with no row in ENDPOINT_RULES: {without_row}"
    assert stale == [], f"rows for routes that do not exist: {stale}"
    assert BUILDERS.keys() == ENDPOINT_RULES.keys(), "each row needs a request in BUILDERS"


# --- the matrix

CASES: Final = [
    pytest.param(
        method,
        path,
        role,
        relation,
        link,
        id=f"{method} {path}-{role.value}{f'({link})' if link else ''}-{relation}",
    )
    for (method, path) in ENDPOINT_RULES
    for role in Role
    for relation in Relation
    for link in links(role)
]


@pytest.mark.parametrize(("method", "path", "role", "relation", "link"), CASES)
async def test_authorization_matrix(
    target: Target, method: str, path: str, role: Role, relation: Relation, link: Link | None
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    call = await BUILDERS[method, path](t)
    assert call.method == method
    holder = t.holder(role, relation)
    auth = t.token(role, t.caller(role, link), holder)
    before = await t.snapshot() if rule.writes else None

    response = await _send(t, call, auth)

    role_ok = role in rule.roles and in_scope(rule, role, relation)
    owner_ok = owner_passes(rule, role, link)
    if role_ok and (owner_ok or call.listed is not None):
        assert response.status_code in call.ok, (call.why_ok, response.text)
        if not response.is_success:
            code = _problem(response, response.status_code)["code"]
            assert code in {call.ok_code} | call.ok_codes, (call.why_ok, code)
        if call.listed is not None:
            listed = {item["id"] for item in response.json()}
            assert (call.listed in listed) is owner_ok, listed
    else:
        body = _problem(response, 403)
        expected = {"forbidden"} if not role_ok else OWNER_CODES[rule.owner]
        assert body["code"] in expected, body
        if rule.writes:
            assert await t.snapshot() == before, "a refused write changed something"


# --- school software must say whom it acts for

WRITES: Final = [
    pytest.param(method, path, id=f"{method} {path}")
    for (method, path), rule in ENDPOINT_RULES.items()
    if rule.writes
]


def _writer_role(rule: EndpointRule) -> Role:
    """A role the row admits, preferring the school's keepers over teachers."""
    order = [Role.SCHOOL_ADMIN, Role.SCHOOL_LEADER, Role.PROVINCE_ADMIN, Role.TEACHER]
    return next(r for r in order if r in rule.roles)


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_a_client_token_without_acting_for_writes_nothing(
    target: Target, method: str, path: str
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    role = _writer_role(rule)
    call = await BUILDERS[method, path](t)
    auth = t.world.issuer.headers(
        f"phan-mem-{uuid.uuid4().hex[:6]}",
        f"{role.value}@{t.holder(role, Relation.IN_SCOPE)}",
        kind="client",
    )
    before = await t.snapshot()

    response = await _send(t, call, auth)

    body = _problem(response, 403)
    # The sheet import reads the sheet first, and a teacher's read needs a person too.
    expected = {"acting-user-required"} | (
        {"forbidden"} if rule.owner is Owner.SHEET_WRITER and call.files else set()
    )
    assert body["code"] in expected, body
    assert await t.snapshot() == before, "a client without acting_for changed something"


async def test_a_client_token_acting_for_the_homeroom_teacher_writes_as_them(
    target: Target,
) -> None:
    t = target
    call = await _absences(t)
    homeroom = t.teachers[Link.HOMEROOM]
    auth = t.world.issuer.headers(
        "phan-mem-truong", f"teacher@{t.school}", kind="client", acting_for=homeroom
    )

    response = await _send(t, call, auth)

    assert response.status_code == 204, response.text


# --- no token, no access


async def test_every_route_with_a_row_needs_a_token(target: Target) -> None:
    wrong: list[str] = []
    for method, path in sorted(ENDPOINT_RULES):
        call = await BUILDERS[method, path](target)
        for auth in ({}, {"Authorization": "Bearer not-a-token"}):
            before = await target.snapshot()
            response = await _send(target, call, auth)
            ok = (
                response.status_code == 401
                and response.headers.get("content-type", "").startswith("application/problem+json")
                and response.json().get("code") == "unauthenticated"
            )
            if not ok:
                wrong.append(f"{method} {path} {auth}: {response.status_code} {response.text}")
            if await target.snapshot() != before:
                wrong.append(f"{method} {path} {auth}: changed something")
    assert wrong == []


# --- a lock refuses every write path (R10, R31, R34)

# Writes no lock refuses, each with why. A new write route must say what a lock refuses it for
# (``EndpointRule.lock``) or be listed here: otherwise this suite fails.
UNLOCKED_WRITES: Final[dict[tuple[str, str], str]] = {
    ("POST", "/school-years"): "the department's calendar, not a school's data",
    ("PUT", "/school-years/{year_id}/curriculum/{grade}/{code}"): "the department's curricula",
    ("POST", "/locks"): "locking is what locks are made by",
    ("POST", "/locks/{lock_id}/reopen"): "reopening is how a lock ends",
    ("POST", "/inspection-windows"): "windows are made by the inspecting authority",
    ("POST", "/inspection-windows/{lock_id}/close"): "closing is how a window ends early",
    ("POST", "/corrections"): "the correction workflow is the one way to change locked entries",
    ("PUT", "/corrections/{correction_id}/evidence"): "a step of the correction workflow",
    ("POST", "/corrections/{correction_id}/permit"): "a step of the correction workflow",
    ("POST", "/corrections/{correction_id}/reject"): "a step of the correction workflow",
    ("POST", "/corrections/{correction_id}/witness"): "a step of the correction workflow",
    ("POST", "/corrections/{correction_id}/withdraw"): "a step of the correction workflow",
}
# The consumers that write, and why no lock refuses them.
UNLOCKED_CONSUMERS: Final[dict[str, str]] = {
    "record_org_unit": "identity's org tree, kept as a copy; no school's data",
    # A refused event could only be retried into the dead letters: the month row is
    # attendance's fact and is stored, while a live year lock holds the year's totals
    # (test_records_attendance.py proves results do not move under it).
    "record_month_closed": "stores attendance's month; a year lock holds the totals itself",
}
LOCKABLE: Final = [
    pytest.param(method, path, id=f"{method} {path}")
    for (method, path), rule in ENDPOINT_RULES.items()
    if rule.writes and rule.lock is not LockScope.NONE
]


def test_every_write_route_and_consumer_says_what_a_lock_refuses() -> None:
    from records.consumers import SUBSCRIPTIONS  # noqa: PLC0415

    undeclared = sorted(
        f"{method} {path}"
        for (method, path), rule in ENDPOINT_RULES.items()
        if rule.writes and rule.lock is LockScope.NONE and (method, path) not in UNLOCKED_WRITES
    )
    assert undeclared == [], f"write routes a lock would let through: {undeclared}"
    declared_twice = sorted(
        f"{m} {p}" for (m, p) in UNLOCKED_WRITES if ENDPOINT_RULES[m, p].lock is not LockScope.NONE
    )
    assert declared_twice == []
    handlers = {h.__name__ for hs in SUBSCRIPTIONS.values() for h in hs}
    assert handlers <= UNLOCKED_CONSUMERS.keys(), handlers - UNLOCKED_CONSUMERS.keys()


def _authorised(t: Target, rule: EndpointRule) -> dict[str, str]:
    """A caller the row admits, owner check included."""
    if rule.owner is Owner.SHEET_WRITER:
        return t.world.teacher(t.teachers[Link.ASSIGNED], t.school)
    if rule.owner is Owner.HOMEROOM and Role.SCHOOL_ADMIN not in rule.roles:
        return t.world.teacher(t.teachers[Link.HOMEROOM], t.school)
    role = next(r for r in (Role.SCHOOL_ADMIN, Role.SCHOOL_LEADER) if r in rule.roles)
    return t.world.as_(uuid.uuid4(), f"{role.value}@{t.school}")


@pytest.mark.parametrize(("method", "path"), LOCKABLE)
async def test_an_inspection_window_refuses_every_write_route(
    target: Target, method: str, path: str
) -> None:
    t = target
    rule = ENDPOINT_RULES[method, path]
    call = await BUILDERS[method, path](t)
    auth = _authorised(t, rule)
    now = datetime.now(UTC)
    opened = await t.world.client.post(
        "/inspection-windows",
        json={
            "unit_id": str(t.world.units.district),
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "reason": "Kiểm tra hồ sơ",
        },
        headers=t.world.as_(uuid.uuid4(), f"district_admin@{t.world.units.district}"),
    )
    assert opened.status_code == 201, opened.text
    window = opened.json()["id"]
    try:
        before = await t.snapshot()
        response = await _send(t, call, auth)
        body = _problem(response, 423)
        assert body["code"] == "scope-locked"
        assert body["lock"]["id"] == window
        assert body["lock"]["kind"] == "inspection"
        assert await t.snapshot() == before, "a write under an inspection window changed something"
    finally:
        closed = await t.world.client.post(
            f"/inspection-windows/{window}/close",
            json={"reason": "Kết thúc"},
            headers=t.world.as_(uuid.uuid4(), f"district_admin@{t.world.units.district}"),
        )
        assert closed.status_code == 200, closed.text
