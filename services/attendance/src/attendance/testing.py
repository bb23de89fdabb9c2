"""Test support for the attendance service: a migrated database with a small province copied in
through attendance's own consumers, the app running on it, tokens for any role, builders for
classes with their lists, and the frozen clock.

One world per test module; tests make their own classes, so they never see each other's data.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import httpx
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from attendance.app import create_app
from attendance.clock import CLOCK
from attendance.domain.calendar import VIETNAM
from attendance.handlers.copies import record_org_unit, record_roster, record_school_year
from attendance.models import Base
from attendance.settings import AttendanceSettings
from attendance.uow import AttendanceUnitOfWork
from common.events.base import CloudEvent, IntegrationEvent
from common.events.identity import OrgLevel, OrgUnitCreated
from common.events.records import (
    ClassRosterChanged,
    RosterStudent,
    SchoolYearScheduled,
    Term,
    TermDates,
)
from common.messaging.tables import outbox
from common.testing import DatabaseFactory, TokenIssuer, alembic, fingerprint

NAMES: Final = [
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Minh Châu",
    "Phạm Đức Dũng",
    "Hoàng Thị Én",
    "Vũ Quang Giang",
]
_sequence = itertools.count(1)


def local(day: date, at: time) -> datetime:
    """``at`` on ``day`` in Việt Nam, as an aware UTC instant."""
    return datetime.combine(day, at, VIETNAM).astimezone(UTC)


def test_year(today: date) -> tuple[str, date, date]:
    first = today.year if today.month >= 8 else today.year - 1
    return f"{first}-{first + 1}", date(first, 8, 1), date(first + 1, 7, 31)


@dataclass
class Units:
    province: uuid.UUID = field(default_factory=uuid.uuid4)
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    thcs: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``district``
    primary: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``district``
    other_thcs: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``other_district``


@dataclass
class AttendanceWorld:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: TokenIssuer
    sessions: async_sessionmaker[AsyncSession]
    units: Units
    settings: AttendanceSettings
    year_code: str
    year_starts: date
    year_ends: date
    year_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def uow(self) -> AttendanceUnitOfWork:
        return AttendanceUnitOfWork(self.sessions, source="attendance")

    def as_(self, user: uuid.UUID, *grants: str, **kwargs: Any) -> dict[str, str]:
        return self.issuer.headers(user, *grants, **kwargs)

    def admin_of(self, school: uuid.UUID) -> dict[str, str]:
        return self.as_(uuid.uuid4(), f"school_admin@{school}")

    def leader_of(self, school: uuid.UUID, user: uuid.UUID | None = None) -> dict[str, str]:
        return self.as_(user or uuid.uuid4(), f"school_leader@{school}")

    def teacher(self, user: uuid.UUID, school: uuid.UUID) -> dict[str, str]:
        return self.as_(user, f"teacher@{school}")

    def province_admin(self) -> dict[str, str]:
        return self.as_(uuid.uuid4(), f"province_admin@{self.units.province}")

    async def deliver(self, event: IntegrationEvent, handler: Any) -> None:
        """Hand ``event`` to one of attendance's consumers as the bus would, with a sequence."""
        envelope = CloudEvent.wrap(event, source="records", sequence=f"{next(_sequence):020d}")
        await handler(event, uow=self.uow(), envelope=envelope)

    async def new_class(
        self,
        school: uuid.UUID,
        grade: int = 6,
        *,
        homeroom: uuid.UUID | None = None,
        names: list[str] | None = None,
        starts_on: date | None = None,
        district: uuid.UUID | None = None,
    ) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
        """A class with students, as records' roster event brings it: (class, homeroom, pupils)."""
        class_id, homeroom = uuid.uuid4(), homeroom or uuid.uuid4()
        students = [uuid.uuid4() for _ in names or NAMES]
        await self.roster(
            class_id,
            school,
            grade,
            homeroom,
            [
                (s, n, starts_on or self.year_starts, None)
                for s, n in zip(students, names or NAMES, strict=True)
            ],
            district=district,
        )
        return class_id, homeroom, students

    async def roster(
        self,
        class_id: uuid.UUID,
        school: uuid.UUID,
        grade: int,
        homeroom: uuid.UUID | None,
        students: list[tuple[uuid.UUID, str, date, date | None]],
        *,
        district: uuid.UUID | None = None,
    ) -> None:
        await self.deliver(
            ClassRosterChanged(
                class_id=class_id,
                school_id=school,
                district_id=district or self.units.district,
                province_id=self.units.province,
                school_year=self.year_code,
                grade=grade,
                label=f"{grade}A{class_id.hex[:4].upper()}",
                homeroom_teacher_id=homeroom,
                students=tuple(
                    RosterStudent(student_id=s, full_name=n, starts_on=a, ends_on=b)
                    for s, n, a, b in students
                ),
                changed_at=datetime.now(UTC),
            ),
            record_roster,
        )

    async def set_bells(
        self, school: uuid.UUID, sessions: list[dict[str, Any]], weekdays: list[int]
    ) -> None:
        response = await self.client.put(
            f"/schools/{school}/bell-schedule",
            json={"sessions": sessions, "weekdays": weekdays},
            headers=self.admin_of(school),
        )
        assert response.status_code == 200, response.text

    def roll(self, students: list[uuid.UUID], **marks: str) -> dict[str, Any]:
        """A body marking everyone present, except ``marks`` (student index ``s0``… → mark)."""
        by_index = {int(k[1:]): v for k, v in marks.items()}
        return {
            "marks": [
                {"student_id": str(s), "mark": by_index.get(i, "present")}
                for i, s in enumerate(students)
            ]
        }

    async def fingerprint(self) -> dict[str, str]:
        """Row count and a hash of every table and the outbox (``common.testing.fingerprint``)."""
        return await fingerprint(self.sessions, Base.metadata)

    async def outbox_events(self, event_type: str, subject: object) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(outbox.c.body)
                .where(outbox.c.event_type == event_type, outbox.c.subject == str(subject))
                .order_by(outbox.c.id)
            )
            return [json.loads(body)["data"] for body in rows]


async def seed_units(world: AttendanceWorld) -> None:
    at = datetime.now(UTC)
    u = world.units

    def event(
        unit: uuid.UUID,
        kind: OrgLevel,
        code: str,
        parent: uuid.UUID | None,
        district: uuid.UUID | None,
    ) -> OrgUnitCreated:
        return OrgUnitCreated(
            unit_id=unit,
            kind=kind,
            code=f"{code}-{u.province.hex[:4].upper()}",
            parent_id=parent,
            levels=[],
            province_id=u.province,
            district_id=district,
            created_at=at,
            created_by=None,
        )

    for created in (
        event(u.province, OrgLevel.PROVINCE, "AT", None, None),
        event(u.district, OrgLevel.DISTRICT, "AT-D1", u.province, u.district),
        event(u.other_district, OrgLevel.DISTRICT, "AT-D2", u.province, u.other_district),
        event(u.thcs, OrgLevel.SCHOOL, "AT-D1-THCS", u.district, u.district),
        event(u.primary, OrgLevel.SCHOOL, "AT-D1-TH", u.district, u.district),
        event(u.other_thcs, OrgLevel.SCHOOL, "AT-D2-THCS", u.other_district, u.other_district),
    ):
        await record_org_unit(created, world.uow())
    split = date(world.year_starts.year + 1, 1, 15)
    await world.deliver(
        SchoolYearScheduled(
            school_year_id=world.year_id,
            province_id=u.province,
            school_year=world.year_code,
            starts_on=world.year_starts,
            ends_on=world.year_ends,
            terms=(
                TermDates(term=Term.TERM_1, starts_on=world.year_starts, ends_on=split),
                TermDates(
                    term=Term.TERM_2, starts_on=split + timedelta(days=1), ends_on=world.year_ends
                ),
            ),
            scheduled_at=at,
        ),
        record_school_year,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def attendance_world(
    make_database: DatabaseFactory,
    amqp_url: str,
    redis_url: str,
    redis_prefix: str,
    token_issuer: TokenIssuer,
) -> AsyncIterator[AttendanceWorld]:
    tag = uuid.uuid4().hex[:8]
    url = await make_database(f"attendance_{tag}")
    alembic("attendance", url)
    settings = AttendanceSettings(
        database_url=url,
        amqp_url=amqp_url,
        redis_url=redis_url,
        redis_prefix=f"{redis_prefix}att-{tag}:",
        jwks_url=token_issuer.jwks_url,
    )
    app = create_app(settings)
    code, starts, ends = test_year(datetime.now(VIETNAM).date())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://attendance/api/v1"
        ) as client,
    ):
        deps = app.state.deps
        world = AttendanceWorld(
            app, client, token_issuer, deps.sessionmaker, Units(), settings, code, starts, ends
        )
        await seed_units(world)
        try:
            yield world
        finally:
            CLOCK.thaw()
