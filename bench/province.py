"""A synthetic province for the records service: schools in districts, classes, students with
Vietnamese names, and a full school year of entries for every class.

    uv run --no-sync python -m bench.province [--scale 0.01 | --schools N] [--seed 7] [--keep]

Defaults: 500 schools, 10,000 classes, 300,000 students (``--scale`` multiplies all three;
``--schools`` sets the school count and scales the rest with it). A mix of primary (55 %), THCS
(33 %) and THPT (12 %) schools, about twenty to a district; THPT schools hang under the
department, as they do. Deterministic for a given ``--seed`` (ids too).

How each kind of row goes in, and why:

- org units through records' own consumer handler ``record_org_unit``, as identity's
  ``orgunit.created`` events would bring them;
- the school year (the current one, August to July as ``records.testing.calendar_body``) through
  ``create_school_year``, which seeds the curricula from the rules' catalogue;
- classes through ``create_class`` (one transaction each, with its ``ClassCreated`` event);
- students through ``records.bulk.enrol_students``: the checks of ``enrol_new_students`` with
  two multi-row inserts instead of one flush per student (the ORM bounds single-row writes);
- every sheet of the year (all subjects of both terms, or the four primary checkpoints, and the
  conduct or qualities sheet) through ``records.bulk.load_sheets``: every cell as a teacher would
  type it ("7,5", "Đạt", "T"), parsed by ``parse_cell`` against the sheet's columns, then COPY.
  The year is generated as it stands at its end, so ``load_sheets`` runs with ``today`` = the
  last day of the year.
- ``ANALYZE`` at the end, as a bulk load must (autovacuum would get there only later).

Progress and the load rate (rows/s) go to stderr; at the end, rows by table and the database's
size. The database (``hsdt_bench_province_<id>``) is dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.auth import Grant, Principal
from common.db import create_engine, create_sessionmaker
from common.events.identity import OrgLevel, OrgUnitCreated
from records.access import Actor
from records.bulk import BulkSheet, enrol_students, load_sheets
from records.domain.cells import CellKind
from records.domain.curriculum import (
    PRIMARY_CHECKPOINTS,
    Level,
    Period,
    SubjectSpec,
    level_of_grade,
)
from records.domain.sheets import (
    CONDUCT_SHEET,
    QUALITIES_SHEET,
    Column,
    homeroom_columns,
    subject_columns,
)
from records.handlers.base import school_today
from records.handlers.calendar import (
    CreateSchoolYear,
    PeriodDates,
    create_school_year,
    record_org_unit,
    spec_of,
)
from records.handlers.classes import CreateClass, Gender, StudentProfile, create_class
from records.handlers.sheets import CellInput
from records.testing import calendar_body, migrate, school_year_around
from records.uow import RecordsUnitOfWork

PG_HOST = os.environ.get("HSDT_BENCH_PG_HOST", "127.0.0.1:5432")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}/postgres"
ROOT = Path(__file__).resolve().parent.parent
GRACE_DAYS: Final = 21  # RecordsSettings.entry_grace_days' default

DEFAULT_SCHOOLS: Final = 500
DEFAULT_CLASSES: Final = 10_000
DEFAULT_STUDENTS: Final = 300_000
SCHOOL_MIX: Final = (
    (Level.PRIMARY, 0.55),
    (Level.LOWER_SECONDARY, 0.33),
    (Level.UPPER_SECONDARY, 0.12),
)
GRADES: Final = {
    Level.PRIMARY: range(1, 6),
    Level.LOWER_SECONDARY: range(6, 10),
    Level.UPPER_SECONDARY: range(10, 13),
}
SCHOOL_PREFIX: Final = {
    Level.PRIMARY: "TH",
    Level.LOWER_SECONDARY: "THCS",
    Level.UPPER_SECONDARY: "THPT",
}

# --- names ------------------------------------------------------------------------------------
# Family names with their shares of the population (commonly cited survey figures, in %);
# the tail shares the remainder.
FAMILY: Final = (
    ("Nguyễn", 38.4), ("Trần", 12.1), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 3.0),
    ("Huỳnh", 2.1), ("Phan", 4.5), ("Vũ", 2.0), ("Võ", 1.9), ("Đặng", 2.1), ("Bùi", 2.0),
    ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đinh", 0.9),
    ("Trương", 0.9), ("Mai", 0.6), ("Đào", 0.6), ("Lương", 0.5), ("Cao", 0.5), ("Trịnh", 0.5),
    ("Hà", 0.5), ("Lâm", 0.4), ("Tạ", 0.3), ("Quách", 0.2), ("Châu", 0.2), ("Tô", 0.2),
    ("Kiều", 0.1), ("Thái", 0.2), ("Lưu", 0.3), ("Phùng", 0.2), ("Vương", 0.2), ("Triệu", 0.2),
)  # fmt: skip
MIDDLE: Final = {
    Gender.MALE: (
        ("Văn", 18), ("Minh", 14), ("Đức", 10), ("Gia", 8), ("Quốc", 7), ("Thành", 5),
        ("Hoàng", 5), ("Anh", 5), ("Tuấn", 4), ("Hữu", 5), ("Thanh", 4), ("Bảo", 5),
        ("Đăng", 3), ("Trung", 3), ("Nhật", 4),
    ),
    Gender.FEMALE: (
        ("Thị", 22), ("Ngọc", 12), ("Thu", 6), ("Thanh", 6), ("Minh", 6), ("Bảo", 6),
        ("Khánh", 6), ("Phương", 5), ("Hồng", 4), ("Gia", 5), ("Mai", 4), ("Quỳnh", 4),
        ("Hà", 3), ("Kim", 3), ("Diệu", 3),
    ),
}  # fmt: skip
GIVEN: Final = {
    Gender.MALE: (
        "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu",
        "Hoàng", "Huy", "Hùng", "Khang", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Minh", "Nam",
        "Nghĩa", "Nhân", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thành",
        "Thịnh", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Hưng",
    ),
    Gender.FEMALE: (
        "An", "Anh", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hân", "Hằng", "Hoa", "Hương",
        "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh",
        "Phương", "Quỳnh", "Thảo", "Thư", "Trang", "Trâm", "Uyên", "Vân", "Vy", "Yến",
    ),
}  # fmt: skip
# Given names are far from uniform: the first few of each list are the most common.
_GIVEN_WEIGHTS: Final = {g: [1.0 / (1 + i / 8) for i in range(len(n))] for g, n in GIVEN.items()}
ETHNICITIES: Final = (
    ("Kinh", 85.3), ("Tày", 1.9), ("Thái", 1.9), ("Mường", 1.5), ("Khmer", 1.4), ("Hoa", 0.8),
    ("Nùng", 1.1), ("H'Mông", 1.5), ("Dao", 0.9), ("Gia Rai", 0.5), ("Ê Đê", 0.4),
)  # fmt: skip
PLACES: Final = (
    "Hà Nội", "TP. Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "Nghệ An", "Thanh Hóa",
    "Nam Định", "Thái Bình", "Quảng Nam", "Bình Định", "Đồng Nai", "Long An", "An Giang",
)  # fmt: skip
DISTRICT_NAMES: Final = ("Quận", "Huyện", "Thị xã", "Thành phố")
COMMENTS: Final = (
    "Tiến bộ rõ rệt trong học kỳ.",
    "Chăm chỉ, tích cực phát biểu.",
    "Cần cố gắng hơn ở phần bài tập về nhà.",
    "Nắm vững kiến thức cơ bản.",
    "Có năng khiếu, cần phát huy.",
    "Chữ viết cần cẩn thận hơn.",
    "Hoàn thành tốt nhiệm vụ học tập.",
    "Hăng hái tham gia hoạt động của lớp.",
)


def full_name(rng: random.Random, gender: Gender) -> str:
    family = rng.choices([f for f, _ in FAMILY], [w for _, w in FAMILY])[0]
    middles = MIDDLE[gender]
    middle = rng.choices([m for m, _ in middles], [w for _, w in middles])[0]
    given = rng.choices(GIVEN[gender], _GIVEN_WEIGHTS[gender])[0]
    if rng.random() < 0.12:  # "Nguyễn Ngọc Bảo Anh": a second middle name
        second = rng.choices([m for m, _ in middles], [w for _, w in middles])[0]
        if second not in (middle, given):
            middle = f"{middle} {second}"
    return f"{family} {middle} {given}"


def profiles(rng: random.Random, count: int, grade: int, first_year: int) -> list[StudentProfile]:
    born = first_year - 5 - grade  # grade 1 at six
    out = []
    for _ in range(count):
        gender = Gender.FEMALE if rng.random() < 0.485 else Gender.MALE
        out.append(
            StudentProfile(
                full_name=full_name(rng, gender),
                date_of_birth=date(born, 1, 1) + timedelta(days=rng.randrange(365)),
                gender=gender,
                ethnicity=rng.choices([e for e, _ in ETHNICITIES], [w for _, w in ETHNICITIES])[0],
                place_of_birth=rng.choice(PLACES),
            )
        )
    return out


# --- cells, as teachers type them ------------------------------------------------------------


def _score_1dp(rng: random.Random, ability: float) -> object:
    raw = min(10.0, max(0.0, rng.gauss(ability, 1.1)))
    value = round(raw * 2) / 2 if rng.random() < 0.7 else round(raw, 1)
    if value == int(value):
        return str(int(value)) if rng.random() < 0.8 else int(value)
    text = f"{value:.1f}"
    return text.replace(".", ",") if rng.random() < 0.25 else text


def cell_value(rng: random.Random, kind: CellKind, ability: float) -> object | None:
    """A value of ``kind`` for a student of ``ability`` (0–10); None leaves the cell empty."""
    if kind is CellKind.SCORE_1DP:
        return _score_1dp(rng, ability)
    if kind is CellKind.SCORE_INT:
        return max(1, min(10, round(rng.gauss(ability, 1.0))))
    if kind is CellKind.PASS_FAIL:
        return "CĐ" if rng.gauss(ability, 1.5) < 3.5 else rng.choice(("Đ", "Đ", "Đ", "Đạt"))
    draw = rng.gauss(ability, 1.2)
    if kind is CellKind.SUBJECT_LEVEL:
        return "T" if draw >= 8 else "H" if draw >= 5 else "C"
    if kind is CellKind.QUALITY_LEVEL:
        return "T" if draw >= 7.5 else "Đ" if draw >= 4.5 else "C"
    if kind is CellKind.CONDUCT_LEVEL:
        return "T" if draw >= 7 else "K" if draw >= 5.5 else "Đ" if draw >= 4 else "CĐ"
    return rng.choice(COMMENTS) if rng.random() < 0.25 else None  # COMMENT


def period_dates(first_year: int) -> dict[Period, date]:
    """The day each period's sheet is dated (inside its window of ``calendar_body``)."""
    y0, y1 = first_year, first_year + 1
    return {
        Period.TERM_1: date(y0, 12, 20),
        Period.TERM_2: date(y1, 5, 20),
        Period.MID_TERM_1: date(y0, 10, 30),
        Period.END_TERM_1: date(y1, 1, 8),
        Period.MID_TERM_2: date(y1, 3, 20),
        Period.END_YEAR: date(y1, 5, 25),
    }


def class_year_sheets(
    rng: random.Random,
    grade: int,
    subjects: Sequence[SubjectSpec],
    students: Sequence[tuple[uuid.UUID, float]],
    dates: dict[Period, date],
) -> list[BulkSheet]:
    """Every sheet of a class's year, every column of it filled for every student."""
    level = level_of_grade(grade)
    periods = PRIMARY_CHECKPOINTS if level is Level.PRIMARY else (Period.TERM_1, Period.TERM_2)
    homeroom = QUALITIES_SHEET if level is Level.PRIMARY else CONDUCT_SHEET
    sheets = []
    for period in periods:
        layouts: list[tuple[str, tuple[Column, ...]]] = [
            (s.code, subject_columns(s, period)) for s in subjects
        ]
        layouts.append((homeroom, homeroom_columns(homeroom, level, period)))
        for sheet, columns in layouts:
            cells = []
            for student, ability in students:
                for column in columns:
                    value = cell_value(rng, column.kind, ability)
                    if value is not None:
                        cells.append(CellInput(student, column.code, value))
            sheets.append(BulkSheet(sheet, period, dates[period], tuple(cells)))
    return sheets


# --- the province -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scale:
    schools: int
    classes: int
    students: int

    @classmethod
    def of(cls, scale: float = 1.0, schools: int | None = None) -> Scale:
        if schools is not None:
            scale = schools / DEFAULT_SCHOOLS
        n = max(1, round(DEFAULT_SCHOOLS * scale))
        classes = max(n, round(DEFAULT_CLASSES * scale))
        return cls(n, classes, max(classes, round(DEFAULT_STUDENTS * scale)))


@dataclass(slots=True)
class ClassInfo:
    id: uuid.UUID
    grade: int
    name: str
    students: int


@dataclass(slots=True)
class SchoolInfo:
    id: uuid.UUID
    code: str
    level: Level
    district: uuid.UUID | None
    classes: list[ClassInfo] = field(default_factory=list)

    @property
    def students(self) -> int:
        return sum(c.students for c in self.classes)


@dataclass(slots=True)
class Province:
    id: uuid.UUID
    year_id: uuid.UUID
    year_code: str
    first_year: int
    schools: list[SchoolInfo]
    results_school: SchoolInfo | None
    rows: Counter[str]
    seconds: float
    actor: Actor

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def loader_actor(province: uuid.UUID, person: uuid.UUID) -> Actor:
    """The department's admin, who also keeps every school's board (for the loads)."""
    grants = (Grant("province_admin", str(province)), Grant("school_admin", str(province)))
    principal = Principal(
        subject=str(person),
        kind="user",
        grants=grants,
        token_id="bench-province",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    return Actor.of(principal)


def _plan_schools(rng: random.Random, scale: Scale, prefix: str) -> list[tuple[Level, str, int]]:
    """(level, code, district number) per school; district 0 is none (THPT)."""
    levels: list[Level] = []
    for level, share in SCHOOL_MIX:
        levels += [level] * round(scale.schools * share)
    levels = (levels + [Level.PRIMARY] * scale.schools)[: scale.schools]
    rng.shuffle(levels)
    districts = max(1, scale.schools // 20)
    plan, seq = [], Counter[Level]()
    for i, level in enumerate(levels):
        seq[level] += 1
        district = 0 if level is Level.UPPER_SECONDARY else 1 + i % districts
        where = f"D{district:02d}-" if district else ""
        plan.append((level, f"{prefix}-{where}{SCHOOL_PREFIX[level]}{seq[level]:03d}", district))
    return plan


def _split(total: int, parts: int, rng: random.Random, spread: int) -> list[int]:
    """``total`` in ``parts`` positive parts around the mean, summing exactly to ``total``."""
    mean = total / parts
    sizes = [max(1, round(mean + rng.uniform(-spread, spread))) for _ in range(parts)]
    i = 0
    while (diff := total - sum(sizes)) != 0:
        j = i % parts
        if diff > 0 or sizes[j] > 1:
            sizes[j] += 1 if diff > 0 else -1
        i += 1
    return sizes


class Loader:
    """Loads one province into a migrated records database; see the module docstring."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        seed: int = 7,
        jobs: int = 3,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.seed = seed
        self.jobs = jobs
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
        self.rows: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._ids = random.Random(seed * 7919 + 1)
        self._started = time.perf_counter()
        self._done = 0
        self._total = 0

    def uow(self) -> RecordsUnitOfWork:
        return RecordsUnitOfWork(self.sessions, source="records")

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._ids.getrandbits(128), version=4)

    async def _units(
        self, province: uuid.UUID, prefix: str, plan: list[tuple[Level, str, int]]
    ) -> list[SchoolInfo]:
        at = datetime.now(UTC)

        def event(
            unit: uuid.UUID, kind: OrgLevel, code: str, parent: uuid.UUID | None,
            district: uuid.UUID | None, levels: list[str],
        ) -> OrgUnitCreated:  # fmt: skip
            return OrgUnitCreated(
                unit_id=unit, kind=kind, code=code, parent_id=parent, levels=levels,
                province_id=province,
                district_id=district, created_at=at, created_by=None,
            )  # fmt: skip

        await record_org_unit(
            event(province, OrgLevel.PROVINCE, prefix, None, None, []), self.uow()
        )
        districts: dict[int, uuid.UUID] = {}
        schools = []
        for level, code, number in plan:
            district = None
            if number:
                district = districts.get(number)
                if district is None:
                    district = districts[number] = self.new_id()
                    await record_org_unit(
                        event(district, OrgLevel.DISTRICT, f"{prefix}-D{number:02d}", province,
                              district, []),
                        self.uow(),
                    )  # fmt: skip
            school = SchoolInfo(self.new_id(), code, level, district)
            await record_org_unit(
                event(school.id, OrgLevel.SCHOOL, code, district or province, district,
                      [level.value]),
                self.uow(),
            )  # fmt: skip
            schools.append(school)
        self.rows["org_units"] += 1 + len(districts) + len(schools)
        return schools

    async def _year(self, province: uuid.UUID, actor: Actor) -> tuple[uuid.UUID, str, int]:
        code, _, _ = school_year_around(school_today())
        first = int(code[:4])
        body = calendar_body(province, first)
        cmd = CreateSchoolYear(
            province_id=province,
            code=body["code"],
            starts_on=date.fromisoformat(body["starts_on"]),
            ends_on=date.fromisoformat(body["ends_on"]),
            periods=tuple(
                PeriodDates(
                    period=Period(p["period"]),
                    starts_on=date.fromisoformat(p["starts_on"]),
                    ends_on=date.fromisoformat(p["ends_on"]),
                    mid_term_from=date.fromisoformat(p["mid_term_from"])
                    if "mid_term_from" in p
                    else None,
                    mid_term_to=date.fromisoformat(p["mid_term_to"])
                    if "mid_term_to" in p
                    else None,
                )
                for p in body["periods"]
            ),
        )
        year = await create_school_year(self.uow(), actor, cmd)
        self.rows["school_years"] += 1
        return year.id, year.code, first

    async def load_class(
        self,
        actor: Actor,
        school: SchoolInfo,
        year_id: uuid.UUID,
        first_year: int,
        grade: int,
        name: str,
        size: int,
        subjects: Sequence[SubjectSpec],
    ) -> ClassInfo:
        """One class: created, its students enrolled, every sheet of its year loaded."""
        rng = random.Random(f"{self.seed}:{school.code}:{name}")
        row = await create_class(
            self.uow(),
            actor,
            CreateClass(school.id, year_id, grade, name, homeroom_teacher_id=self.new_id()),
        )
        starts_on = date(first_year, 9, 5)  # the school year opens on 5 September
        ids = await enrol_students(
            self.uow(),
            actor,
            class_id=row.id,
            profiles=profiles(rng, size, grade, first_year),
            starts_on=starts_on,
        )
        students = [(sid, min(9.6, max(2.5, rng.gauss(6.9, 1.3)))) for sid in ids]
        sheets = class_year_sheets(rng, grade, subjects, students, period_dates(first_year))
        entries = await load_sheets(
            self.uow(),
            actor,
            row.id,
            sheets,
            grace_days=GRACE_DAYS,
            today=date(first_year + 1, 7, 31),
        )
        self.rows["classes"] += 1
        self.rows["students"] += size
        self.rows["enrolments"] += size
        self.rows["sheets"] += len(sheets)
        self.rows["entries"] += entries
        self.rows["entry_changes"] += entries
        info = ClassInfo(row.id, grade, name, size)
        school.classes.append(info)
        self._done += 1
        if self._done % max(1, self._total // 20) == 0 or self._done == self._total:
            elapsed = time.perf_counter() - self._started
            total = sum(self.rows.values())
            self.progress(
                f"  classes {self._done:,}/{self._total:,}  rows {total:,}  "
                f"{total / elapsed:,.0f} rows/s  ({elapsed:,.0f} s)"
            )
        return info

    async def generate(
        self, scale: Scale, *, prefix: str = "GEN", results_school: bool = False
    ) -> Province:
        """The whole province; with ``results_school``, one more THCS of exactly 1,000
        students (24 classes) for the results benchmark."""
        started = self._started = time.perf_counter()
        province = self.new_id()
        actor = loader_actor(province, self.new_id())
        plan = _plan_schools(self._rng, scale, prefix)
        if results_school:
            plan.append((Level.LOWER_SECONDARY, f"{prefix}-D01-THCS1000", 1))
        schools = await self._units(province, prefix, plan)
        year_id, year_code, first = await self._year(province, actor)
        uow = self.uow()
        async with uow:
            rows = await uow.records.curriculum(year_id)
        curricula: dict[int, list[SubjectSpec]] = {}
        for subject in rows:
            curricula.setdefault(subject.grade, []).append(spec_of(subject))
        # Classes spread over the ordinary schools, students over the classes.
        ordinary = schools[:-1] if results_school else schools
        per_school = _split(scale.classes, len(ordinary), self._rng, 3)
        work: list[tuple[SchoolInfo, int, str, int]] = []
        sizes = iter(_split(scale.students, scale.classes, self._rng, 6))
        for school, count in zip(ordinary, per_school, strict=True):
            grades = list(GRADES[school.level])
            seq: Counter[int] = Counter()
            for i in range(count):
                grade = grades[i % len(grades)]
                seq[grade] += 1
                work.append((school, grade, f"{grade}A{seq[grade]}", next(sizes)))
        big: SchoolInfo | None = None
        if results_school:
            big = schools[-1]
            for i, size in enumerate(_split(1000, 24, self._rng, 0)):
                grade = 6 + i // 6
                work.append((big, grade, f"{grade}A{i % 6 + 1}", size))
        self._total = len(work)
        self.progress(
            f"province {prefix}: {len(schools)} schools, {len(work):,} classes, "
            f"{sum(w[3] for w in work):,} students; year {year_code}"
        )
        gate = asyncio.Semaphore(self.jobs)

        async def one(item: tuple[SchoolInfo, int, str, int]) -> None:
            school, grade, name, size = item
            async with gate:
                await self.load_class(
                    actor, school, year_id, first, grade, name, size, curricula[grade]
                )

        await asyncio.gather(*(one(item) for item in work))
        # Fresh statistics: right after a bulk load the planner still believes the tables are
        # empty, and the results query then scans a whole year of entries for each class.
        async with self.sessions() as session:
            await session.execute(text("ANALYZE"))
            await session.commit()
        for school in schools:
            school.classes.sort(key=lambda c: (c.grade, c.name))
        return Province(
            id=province,
            year_id=year_id,
            year_code=year_code,
            first_year=first,
            schools=ordinary,
            results_school=big,
            rows=self.rows,
            seconds=time.perf_counter() - started,
            actor=actor,
        )


# --- command line -----------------------------------------------------------------------------


async def create_database(name: str) -> str:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@{PG_HOST}/{name}"
    await asyncio.to_thread(migrate, url)
    return url


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def database_sizes(name: str) -> dict[str, int]:
    """Bytes of the whole database and of the largest tables (indexes included)."""
    conn = await asyncpg.connect(f"postgresql://postgres@{PG_HOST}/{name}")
    try:
        await conn.execute("CHECKPOINT")
        sizes = {"database": int(await conn.fetchval("SELECT pg_database_size($1)", name))}
        for table in ("entries", "entry_changes", "students", "enrolments", "sheets", "outbox"):
            sizes[table] = int(await conn.fetchval("SELECT pg_total_relation_size($1)", table))
        return sizes
    finally:
        await conn.close()


async def _main(args: argparse.Namespace) -> None:
    scale = Scale.of(args.scale, args.schools)
    name = f"hsdt_bench_province_{uuid.uuid4().hex[:8]}"
    url = await create_database(name)
    engine = create_engine(url, pool_size=args.jobs + 2, application_name="bench-province")
    try:
        loader = Loader(create_sessionmaker(engine), seed=args.seed, jobs=args.jobs)
        province = await loader.generate(scale, results_school=args.results_school)
        sizes = await database_sizes(name)
        total = province.total_rows
        print(f"\nprovince at scale {scale}: {province.seconds:,.1f} s, {total:,} rows")
        print(f"load rate {total / province.seconds:,.0f} rows/s")
        cpu = time.process_time()
        print(f"generator process CPU {cpu:,.1f} s ({cpu / province.seconds:.0%} of a core)")
        for table, count in sorted(province.rows.items(), key=lambda kv: -kv[1]):
            print(f"  {table:<15} {count:>12,}")
        print("sizes (with indexes):")
        for table, size in sizes.items():
            print(f"  {table:<15} {size / 2**20:>10,.1f} MiB")
        print(f"database {name}" + (" kept" if args.keep else " dropped"))
    finally:
        await engine.dispose()
        if not args.keep:
            await drop_database(name)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.province", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default size")
    parser.add_argument("--schools", type=int, help="school count (scales the rest with it)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=3, help="classes loaded at once")
    parser.add_argument("--results-school", action="store_true", help="add a 1,000-student THCS")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
