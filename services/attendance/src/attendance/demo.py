"""The demo province in attendance: ``python -m attendance.demo`` (the run command calls it).

Attendance owns bells and holidays, so this is what it loads: each demo school's bell schedule
(primary schools two sessions Monday to Friday, secondary schools one morning session Monday to
Saturday, first period at 07:00) and the province's solar-calendar public holidays of the
school year. The school year and the class lists arrive from records' events once the workers
run; the org tree is loaded here too, so the bells' checks do not wait for identity's events.

Idempotent: a second run changes nothing.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, date, datetime, time
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attendance.access import Actor
from attendance.domain.calendar import BellSchedule, SessionBells
from attendance.handlers import schedule
from attendance.handlers.copies import record_org_unit
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.db import create_engine, create_sessionmaker
from common.demo import (
    PROVINCE_ADMIN,
    PROVINCE_CODE,
    all_schools,
    demo_id,
    demo_principal,
    org_events,
    username,
)
from common.events.attendance import Session

# Public holidays on fixed solar dates (Bộ luật Lao động 2019, Điều 112); Tết and the Hùng
# Kings' day move with the lunar calendar and are left to the department to enter each year.
SOLAR_HOLIDAYS: Final = (
    ((1, 1), "Tết Dương lịch"),
    ((4, 30), "Ngày Giải phóng miền Nam, thống nhất đất nước"),
    ((5, 1), "Ngày Quốc tế Lao động"),
    ((9, 2), "Quốc khánh"),
)


def _actor(user: str, role: str, unit: uuid.UUID) -> Actor:
    return Actor.of(demo_principal(user, role, unit))


def bells_for(levels: tuple[str, ...]) -> BellSchedule:
    if "primary" in levels:
        return BellSchedule(
            sessions=(
                SessionBells(Session.MORNING, time(7, 0), periods=4),
                SessionBells(Session.AFTERNOON, time(14, 0), periods=3),
            ),
            weekdays=frozenset({1, 2, 3, 4, 5}),
        )
    return BellSchedule(
        sessions=(SessionBells(Session.MORNING, time(7, 0)),),
        weekdays=frozenset({1, 2, 3, 4, 5, 6}),
    )


def school_year_of(today: date) -> tuple[date, date]:
    first = today.year if (today.month, today.day) >= (8, 15) else today.year - 1
    return date(first, 8, 15), date(first + 1, 7, 31)


async def load_demo(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Load the demo; returns how many schools got their bells now (0 on a second run)."""

    def uow() -> AttendanceUnitOfWork:
        return AttendanceUnitOfWork(sessions, source="attendance")

    for event in org_events(datetime.now(UTC)):
        await record_org_unit(event, uow())
    province = demo_id("unit", PROVINCE_CODE)
    admin = _actor(PROVINCE_ADMIN, "province_admin", province)
    first, last = school_year_of(datetime.now(UTC).date())
    existing = {
        d.day for d in await schedule.list_calendar_days(uow(), admin, province, first, last)
    }
    for year in (first.year, last.year):
        for (month, day), name in SOLAR_HOLIDAYS:
            on = date(year, month, day)
            if first <= on <= last and on not in existing:
                await schedule.set_calendar_day(uow(), admin, province, on, "holiday", name)
    loaded = 0
    for _, school in all_schools():
        unit = demo_id("unit", school.code)
        board = _actor(username(school.code, "quantri"), "school_admin", unit)
        async with uow() as check:
            if await check.repo.bell_schedule(unit) is not None:
                continue
        await schedule.set_bells(uow(), board, unit, bells_for(school.levels))
        loaded += 1
    return loaded


async def _main() -> int:
    settings = AttendanceSettings()
    engine = create_engine(settings.database_url, pool_size=2, application_name="attendance-demo")
    try:
        loaded = await load_demo(create_sessionmaker(engine))
        print(f"attendance demo loaded: bells of {loaded} school(s), the province's holidays")
    finally:
        await engine.dispose()
    return 0


def main() -> int:
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
