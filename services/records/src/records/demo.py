"""The demo province in records: ``python -m records.demo`` (the run command calls it).

For the schools of ``common.demo``: the current school year with its terms, two classes per
general school with a dozen students each, gv1 teaching every subject and gv2 the homeroom
teacher, and the first term's entries made so far, through the same handlers as the API (so every
cell is validated as a teacher's would be). One cell column is left for the demo's teacher to
enter: Toán, ĐĐGck, term 1, class 6A1 of BL-DX-THCS01 (the acceptance walk-through in
``docs/records.md``).

Idempotent: a second run that finds the demo's school year changes nothing.
"""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Final

from common.auth import Grant, Principal
from common.db import create_engine, create_sessionmaker
from common.demo import (
    PROVINCE_ADMIN,
    PROVINCE_CODE,
    DemoSchool,
    all_schools,
    demo_id,
    org_events,
    username,
)
from common.events.records import WritePath
from records.access import Actor
from records.domain.cells import CellKind
from records.domain.curriculum import Level, Period, Term, level_of_grade
from records.domain.sheets import CONDUCT_SHEET, QUALITIES_SHEET
from records.handlers import calendar, classes, sheets
from records.handlers.base import school_today
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork

# Grades of the two demo classes of each kind of school.
CLASS_GRADES: Final = {
    "primary": (1, 5),
    "lower_secondary": (6, 9),
    "upper_secondary": (10, 12),
}
STUDENTS_PER_CLASS: Final = 12
# The one column left empty for the walk-through.
OPEN_SCHOOL: Final = "BL-DX-THCS01"
OPEN_CLASS: Final = "6A1"
OPEN_SUBJECT: Final = "toan"
OPEN_COLUMN: Final = "ck"

FAMILY: Final = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
MIDDLE: Final = {
    "male": ("Văn", "Minh", "Gia", "Đức", "Quốc"),
    "female": ("Thị", "Ngọc", "Thu", "Thanh", "Bảo"),
}
GIVEN: Final = {
    "male": (
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Đạt",
        "Hải",
        "Hùng",
        "Khang",
        "Khoa",
        "Long",
        "Minh",
        "Nam",
        "Phúc",
        "Quân",
        "Sơn",
        "Tuấn",
        "Việt",
    ),
    "female": (
        "Anh",
        "Ánh",
        "Chi",
        "Diệp",
        "Giang",
        "Hà",
        "Hạnh",
        "Hương",
        "Lan",
        "Linh",
        "Mai",
        "Ngân",
        "Nhung",
        "Phương",
        "Thảo",
        "Trang",
        "Vy",
        "Yến",
    ),
}


def demo_calendar(today: date) -> calendar.CreateSchoolYear:
    """The school year holding ``today``: from 15 August (tựu trường) to 31 July."""
    first = today.year if (today.month, today.day) >= (8, 15) else today.year - 1
    return calendar.CreateSchoolYear(
        province_id=demo_id("unit", PROVINCE_CODE),
        code=f"{first}-{first + 1}",
        starts_on=date(first, 8, 15),
        ends_on=date(first + 1, 7, 31),
        periods=(
            calendar.PeriodDates(
                Period.TERM_1,
                date(first, 8, 15),
                date(first + 1, 1, 17),
                date(first, 10, 20),
                date(first, 11, 10),
            ),
            calendar.PeriodDates(
                Period.TERM_2,
                date(first + 1, 1, 18),
                date(first + 1, 5, 31),
                date(first + 1, 3, 10),
                date(first + 1, 3, 31),
            ),
            calendar.PeriodDates(Period.SUMMER, date(first + 1, 6, 1), date(first + 1, 7, 31)),
        ),
    )


def actor(school: DemoSchool, prefix: str, role: str) -> Actor:
    """A demo account acting as the records API would see it after sign-in."""
    user = demo_id("user", username(school.code, prefix))
    unit = demo_id("unit", school.code)
    principal = Principal(
        subject=str(user),
        kind="user",
        grants=(Grant(role, str(unit)),),
        token_id=f"demo-{uuid.uuid4().hex}",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    return Actor.of(principal)


def student_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    names = []
    for _ in range(count):
        gender = rng.choice(("male", "female"))
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[gender])} {rng.choice(GIVEN[gender])}"
        names.append((name, gender))
    return names


_CHOICES: Final[dict[CellKind, tuple[str, ...]]] = {
    CellKind.SCORE_1DP: tuple(str(tenths / 10) for tenths in range(50, 101, 5)),
    CellKind.SCORE_INT: tuple(str(score) for score in range(6, 11)),
    CellKind.PASS_FAIL: ("D",),
    CellKind.SUBJECT_LEVEL: ("T", "T", "H"),
    CellKind.QUALITY_LEVEL: ("T", "D"),
    CellKind.CONDUCT_LEVEL: ("T", "T", "K"),
}


def value_for(kind: CellKind, rng: random.Random) -> str | None:
    """A plausible value of a column; comments stay empty."""
    choices = _CHOICES.get(kind)
    return rng.choice(choices) if choices else None


class _Loader:
    def __init__(self, uow: RecordsUnitOfWork, settings: RecordsSettings, today: date) -> None:
        self.uow = uow
        self.settings = settings
        self.today = today
        self.box = classes.records_secret_box(settings.data_key_bytes())
        self.rng = random.Random(2026)  # noqa: S311 — made-up names and scores, not secrets

    async def school(self, school: DemoSchool, year_id: uuid.UUID) -> int:
        grades = next((CLASS_GRADES[x] for x in school.levels if x in CLASS_GRADES), ())
        admin = actor(school, "quantri", "school_admin")
        gv1 = demo_id("user", username(school.code, "gv1"))
        gv2 = demo_id("user", username(school.code, "gv2"))
        saved = 0
        for grade in grades:
            name = f"{grade}A1"
            row = await classes.create_class(
                self.uow,
                admin,
                classes.CreateClass(demo_id("unit", school.code), year_id, grade, name, gv2),
            )
            profiles = [
                classes.StudentProfile(
                    full_name=full_name,
                    date_of_birth=date(self.today.year - 6 - grade, 1 + i % 12, 1 + i % 28),
                    gender=classes.Gender(gender),
                    ethnicity="Kinh",
                    place_of_birth="Bình Lâm",
                    student_code=f"{self.rng.randrange(10**10):010d}",
                )
                for i, (full_name, gender) in enumerate(student_names(self.rng, STUDENTS_PER_CLASS))
            ]
            start = demo_calendar(self.today).starts_on
            await classes.enrol_new_students(
                self.uow, admin, self.box, class_id=row.id, profiles=profiles, starts_on=start
            )
            async with self.uow:
                subjects = await self.uow.records.curriculum(year_id, grade)
            for subject in subjects:
                for term in Term:
                    await classes.assign_teacher(
                        self.uow,
                        admin,
                        class_id=row.id,
                        subject=subject.code,
                        term=term,
                        teacher_id=gv1,
                    )
            saved += await self.entries(school, row.id, grade, [s.code for s in subjects])
        return saved

    async def entries(
        self, school: DemoSchool, class_id: uuid.UUID, grade: int, subjects: list[str]
    ) -> int:
        """The first term's entries so far: the subjects by gv1, conduct or qualities by gv2."""
        level = level_of_grade(grade)
        periods = (
            (Period.MID_TERM_1, Period.END_TERM_1) if level is Level.PRIMARY else (Period.TERM_1,)
        )
        homeroom = QUALITIES_SHEET if level is Level.PRIMARY else CONDUCT_SHEET
        teacher = actor(school, "gv1", "teacher")
        gvcn = actor(school, "gv2", "teacher")
        saved = 0
        for period in periods:
            for sheet, who in [(s, teacher) for s in subjects] + [(homeroom, gvcn)]:
                view = await sheets.read_sheet(self.uow, who, class_id, sheet, period)
                cells = []
                for student, _ in view.roster:
                    for column in view.columns:
                        if (
                            school.code == OPEN_SCHOOL
                            and view.class_.name == OPEN_CLASS
                            and sheet == OPEN_SUBJECT
                            and column.code == OPEN_COLUMN
                        ):
                            continue
                        value = value_for(column.kind, self.rng)
                        if value is not None:
                            cells.append(sheets.CellInput(student.id, column.code, value))
                await sheets.save_sheet(
                    self.uow,
                    who,
                    sheets.SaveSheet(
                        class_id=class_id,
                        sheet=sheet,
                        period=period,
                        if_match=view.version,
                        cells=tuple(cells),
                        via=WritePath.BULK,
                        assessed_on=self.today,
                    ),
                    grace_days=self.settings.entry_grace_days,
                )
                saved += len(cells)
        return saved


async def load_demo(uow: RecordsUnitOfWork, settings: RecordsSettings) -> bool:
    """Load the demo into records; False when it was loaded before."""
    today = school_today()
    at = datetime.now(UTC)
    for event in org_events(at):
        await calendar.record_org_unit(event, uow)
    year_cmd = demo_calendar(today)
    async with uow:
        existing = await uow.records.school_year_by_code(year_cmd.province_id, year_cmd.code)
    if existing is not None:
        return False
    province_admin = Actor.of(
        Principal(
            subject=str(demo_id("user", PROVINCE_ADMIN)),
            kind="user",
            grants=(Grant("province_admin", str(year_cmd.province_id)),),
            token_id=f"demo-{uuid.uuid4().hex}",
            expires_at=at + timedelta(minutes=5),
        )
    )
    year = await calendar.create_school_year(uow, province_admin, year_cmd)
    loader = _Loader(uow, settings, today)
    cells = 0
    for _, school in all_schools():
        cells += await loader.school(school, year.id)
    print(f"records demo loaded: school year {year.code}, {cells} cells entered")
    return True


async def _main() -> int:
    settings = RecordsSettings()
    engine = create_engine(settings.database_url, pool_size=2, application_name="records-demo")
    uow = RecordsUnitOfWork(create_sessionmaker(engine), source=settings.service_name)
    try:
        if not await load_demo(uow, settings):
            print("records demo already loaded; nothing changed")
    finally:
        await engine.dispose()
    return 0


def main() -> int:
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
