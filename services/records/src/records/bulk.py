"""Bulk loading: a whole class's students, or a whole year of its sheets, in a few statements.

For initial loads (a school joining mid-year, the synthetic province of ``bench.province``):
every cell passes the checks of ``handlers.sheets.save_sheet`` — the sheet's columns from
``domain.sheets``, each value through ``domain.cells.parse_cell``, the student in the class's
roster and enrolled on the assessment date, the date inside the period's entry window — and a
load with any bad cell raises the same ``CellsInvalid`` (listing every bad cell of every sheet)
and writes nothing. What differs is the writing: ``COPY`` of the entries and their history rows
(``via="bulk"``) through the session's own asyncpg connection, in the session's transaction.

Deliberate differences from the API path, because a bulk load is not a teacher typing:

- it is the school's admin board (a school admin or leader, ``POST /classes``'s roles) that
  loads, and the cells are attributed to that person;
- it loads only sheets that do not exist yet (version 0 → 1); changing entered data goes
  through ``save_sheet``, which diffs and records old values;
- it emits no ``AssessmentChanged``: an initial load precedes the consumers that would read
  them, and one event per sheet with every cell would flood the outbox;
- enrolling still emits ``ClassRosterChanged`` (one per class, the whole list): attendance
  cannot take a roll of students it has never heard of;
- ``today`` may be given: a synthetic year is generated as it stands at the end of the year.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from common.events.records import WritePath
from common.vietnamese import name_sort_key
from records import progress
from records.access import Actor, rule
from records.domain.curriculum import Period, level_of_grade, periods_for
from records.domain.errors import DomainError
from records.domain.sheets import HOMEROOM_SHEETS, Column, homeroom_columns, subject_columns
from records.handlers.base import (
    audit,
    authorize_class,
    class_of,
    conflict,
    school_today,
    utcnow,
    year_of,
)
from records.handlers.calendar import entry_window, spec_of, window_of
from records.handlers.classes import StudentProfile, _check_enrolment_date, _check_profile
from records.handlers.locks import ensure_class_writable, ensure_writable
from records.handlers.sheets import (
    CellError,
    CellInput,
    CellsInvalid,
    SheetView,
    _check_date,
    _parse_cells,
    result_periods_of,
)
from records.models import (
    CurriculumSubjectRow,
    EnrolmentRow,
    EntryChangeRow,
    EntryRow,
    SheetRow,
    StudentRow,
)
from records.uow import RecordsUnitOfWork

# The school's admin board loads; the rule's roles are those that open classes.
_LOAD_RULE: Final = ("POST", "/classes")
_ENTRY_COLUMNS: Final = (
    "sheet_id",
    "student_id",
    "column",
    "value",
    "assessed_on",
    "entered_by",
    "entered_at",
)
_CHANGE_COLUMNS: Final = (
    "sheet_id",
    "student_id",
    "column",
    "old_value",
    "new_value",
    "sheet_version",
    "changed_by",
    "client_id",
    "via",
    "changed_at",
)


@dataclass(frozen=True, slots=True)
class BulkSheet:
    """One sheet of a class to load whole: its cells as typed, dated ``assessed_on``."""

    sheet: str
    period: Period
    assessed_on: date
    cells: tuple[CellInput, ...]


async def enrol_students(
    uow: RecordsUnitOfWork,
    actor: Actor,
    *,
    class_id: uuid.UUID,
    profiles: Sequence[StudentProfile],
    starts_on: date,
) -> list[uuid.UUID]:
    """``enrol_new_students`` for many students in two statements (all or none).

    Same checks (profile, role and homeroom owner, date inside the school year, student codes
    unique); national ID numbers are refused here, because their encryption and uniqueness by
    keyed hash belong to the API path.
    """
    for profile in profiles:
        _check_profile(profile)
        if profile.national_id is not None:
            raise DomainError(
                "national-id-not-bulk",
                "Số định danh cá nhân được nhập qua từng hồ sơ",
                "bulk loads take no national ID numbers",
            )
    codes = [p.student_code for p in profiles if p.student_code is not None]
    if len(codes) != len(set(codes)):
        raise conflict(
            "duplicate-in-request",
            "Danh sách có học sinh trùng mã",
            "two rows share a student code",
        )
    async with uow:
        row = await class_of(uow, class_id, for_update=True)
        await authorize_class(uow, actor, rule("POST", "/classes/{class_id}/students/import"), row)
        await ensure_class_writable(uow, row)
        year = await year_of(uow, row.school_year_id)
        _check_enrolment_date(year, starts_on)
        session = uow.records.session
        if codes and await session.scalar(
            select(StudentRow.id).where(StudentRow.student_code.in_(codes)).limit(1)
        ):
            raise conflict(
                "student-code-exists",
                "Mã học sinh đã có trong hệ thống",
                "another student has this education-sector code",
            )
        now = utcnow()
        ids = [uuid.uuid4() for _ in profiles]
        students: list[dict[str, Any]] = [
            {
                "id": sid,
                "school_id": row.school_id,
                "full_name": p.full_name,
                "sort_key": name_sort_key(p.full_name),
                "date_of_birth": p.date_of_birth,
                "gender": p.gender.value,
                "ethnicity": p.ethnicity,
                "place_of_birth": p.place_of_birth,
                "student_code": p.student_code,
                "address": p.address,
                "guardians": [
                    {"name": g.name, "relation": g.relation, "phone": g.phone} for g in p.guardians
                ],
                "status": "enrolled",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for sid, p in zip(ids, profiles, strict=True)
        ]
        if students:
            await session.execute(insert(StudentRow), students)
            await session.execute(
                insert(EnrolmentRow),
                [
                    {
                        "id": uuid.uuid4(),
                        "student_id": sid,
                        "class_id": row.id,
                        "school_id": row.school_id,
                        "starts_on": starts_on,
                    }
                    for sid in ids
                ],
            )
            await uow.records.bump_class_version(row.id)
        await progress.roster_changed(uow, row.id)  # progress figures (R11, R26)
        uow.roster_changed(row.id)
        await audit(
            uow,
            actor,
            row.school_id,
            "students.enrolled",
            row.id,
            {"students": ids, "starts_on": starts_on.isoformat(), "via": "bulk"},
        )
        await uow.commit()
        return ids


def _columns(
    bulk: BulkSheet, grade: int, subjects: dict[str, CurriculumSubjectRow]
) -> tuple[Column, ...]:
    """The sheet's columns, as the sheet API lays them out (``handlers.sheets._layout``)."""
    level = level_of_grade(grade)
    if bulk.period not in periods_for(level):
        raise DomainError(
            "period-invalid",
            "Kỳ đánh giá không phù hợp với cấp học",
            f"{level} has no {bulk.period} sheets",
        )
    if bulk.sheet in HOMEROOM_SHEETS:
        return homeroom_columns(bulk.sheet, level, bulk.period)
    subject = subjects.get(bulk.sheet)
    if subject is None:
        raise DomainError(
            "subject-not-in-grade",
            "Khối lớp không có môn học này",
            f"grade {grade} has no subject {bulk.sheet} this school year",
        )
    return subject_columns(spec_of(subject), bulk.period)


async def _audit_load(
    uow: RecordsUnitOfWork,
    actor: Actor,
    school_id: uuid.UUID,
    class_id: uuid.UUID,
    parsed: Sequence[tuple[BulkSheet, dict[tuple[uuid.UUID, str], str | None]]],
) -> None:
    """One chain record per load: which sheets and how many cells (the cells themselves are in
    entry_changes with via=bulk)."""
    await audit(
        uow,
        actor,
        school_id,
        "sheets.loaded",
        class_id,
        {"via": "bulk", "sheets": [[b.sheet, b.period.value, len(w)] for b, w in parsed]},
    )


async def load_sheets(
    uow: RecordsUnitOfWork,
    actor: Actor,
    class_id: uuid.UUID,
    sheets: Sequence[BulkSheet],
    *,
    grace_days: int,
    today: date | None = None,
) -> int:
    """Load new sheets of one class with every cell checked as ``save_sheet`` checks it.

    Returns the number of entries written. Raises ``CellsInvalid`` naming every bad cell of
    every sheet (nothing written), ``DomainError`` for a period or date that does not fit, and
    409 ``sheet-exists`` for a sheet that already has a version.
    """
    today = today or school_today()
    async with uow:
        row = await class_of(uow, class_id, for_update=True)
        school = await authorize_class(uow, actor, rule(*_LOAD_RULE), row)
        person = actor.person()
        # A lock refuses a bulk load as it refuses the sheet API.
        await ensure_writable(
            uow,
            school,
            year_id=row.school_year_id,
            class_id=row.id,
            periods={bulk.period for bulk in sheets},
        )
        year = await year_of(uow, row.school_year_id)
        windows = await uow.records.period_windows(year.id)
        subjects = {s.code: s for s in await uow.records.curriculum(year.id, row.grade)}
        enrolments: dict[uuid.UUID, list[EnrolmentRow]] = {}
        rosters: dict[Period, SheetView] = {}
        errors: list[CellError] = []
        parsed: list[tuple[BulkSheet, dict[tuple[uuid.UUID, str], str | None]]] = []
        for bulk in sheets:
            columns = _columns(bulk, row.grade, subjects)
            _check_date(
                entry_window(windows, bulk.period, grace_days),
                bulk.period,
                bulk.assessed_on,
                today,
            )
            base = rosters.get(bulk.period)
            if base is None:
                start, end = window_of(windows, bulk.period) or (year.starts_on, year.ends_on)
                base = SheetView(
                    class_=row,
                    school=school,
                    year=year,
                    sheet=bulk.sheet,
                    period=bulk.period,
                    title_vi="",
                    columns=(),
                    sheet_id=None,
                    version=0,
                    roster=await uow.records.class_roster(row.id, start, end),
                    cells={},
                    writer_id=person,
                )
                rosters[bulk.period] = base
                new = {s.id for s, _ in base.roster} - set(enrolments)
                if new:
                    enrolments |= await uow.records.enrolments_in_class(row.id, new)
            base.columns = columns
            try:
                # A new sheet has no current values: every cell is a change.
                wanted = _parse_cells(base, bulk.cells, enrolments, bulk.assessed_on, {})
            except CellsInvalid as exc:
                errors.extend(exc.errors)
                continue
            parsed.append((bulk, wanted))
        if errors:
            raise CellsInvalid(errors)
        written = await _write(uow, row.id, parsed, person, actor.client_id)
        if parsed:
            await uow.records.bump_class_version(row.id)
            periods = {p for bulk, _ in parsed for p in result_periods_of(bulk.period)}
            await uow.records.void_reviews(row.id, periods, utcnow(), "input_changed")
            await progress.recount_class(uow, row.id)  # progress figures (R11, R26)
            await _audit_load(uow, actor, row.school_id, row.id, parsed)
        await uow.commit()
        return written


async def _write(
    uow: RecordsUnitOfWork,
    class_id: uuid.UUID,
    parsed: Sequence[tuple[BulkSheet, dict[tuple[uuid.UUID, str], str | None]]],
    person: uuid.UUID,
    client_id: str | None,
) -> int:
    """The sheets at version 1 (Core insert), then entries and history by COPY."""
    if not parsed:
        return 0
    session = uow.records.session
    now = utcnow()
    keys = [(bulk.sheet, bulk.period.value) for bulk, _ in parsed]
    if len(set(keys)) != len(keys):
        raise conflict("sheet-twice", "Một sổ xuất hiện hai lần", "each sheet is loaded once")
    sheet_ids = {key: uuid.uuid4() for key in keys}
    inserted = await session.execute(
        pg_insert(SheetRow)
        .values(
            [
                {
                    "id": sheet_ids[key],
                    "class_id": class_id,
                    "sheet": key[0],
                    "period": key[1],
                    "version": 1,
                    "updated_at": now,
                    "updated_by": person,
                }
                for key in keys
            ]
        )
        .on_conflict_do_nothing(index_elements=["class_id", "sheet", "period"])
        .returning(SheetRow.sheet, SheetRow.period)
    )
    existing = set(keys) - {(s, p) for s, p in inserted}
    if existing:
        raise conflict(
            "sheet-exists",
            "Sổ đã có dữ liệu; hãy lưu qua sổ điểm",
            f"{len(existing)} sheet(s) exist already, e.g. {sorted(existing)[0]}",
        )
    entries: list[tuple[object, ...]] = []
    changes: list[tuple[object, ...]] = []
    via = WritePath.BULK.value
    for bulk, wanted in parsed:
        sheet_id = sheet_ids[(bulk.sheet, bulk.period.value)]
        for (student_id, column), value in wanted.items():
            if value is None:  # clearing a cell of a new sheet changes nothing
                continue
            entries.append((sheet_id, student_id, column, value, bulk.assessed_on, person, now))
            changes.append(
                (sheet_id, student_id, column, None, value, 1, person, client_id, via, now)
            )
    if entries:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # asyncpg.Connection, in the session's transaction
        await driver.copy_records_to_table(
            EntryRow.__tablename__, records=entries, columns=_ENTRY_COLUMNS
        )
        await driver.copy_records_to_table(
            EntryChangeRow.__tablename__, records=changes, columns=_CHANGE_COLUMNS
        )
    return len(entries)
