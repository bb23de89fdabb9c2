"""Test support for the records service: a migrated database with a small province, the app
running on it, tokens for any role, and builders for classes, students and assignments.

Like ``common.testing``, it lives with the code so that every records test file shares one copy.
One world per test module (the database is migrated once); tests make their own classes, so
they never see each other's data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.events.identity import OrgLevel, OrgUnitCreated
from common.messaging.tables import outbox
from common.testing import DatabaseFactory, TokenIssuer, Unique, alembic, fingerprint
from records.app import create_app
from records.handlers.base import school_today
from records.handlers.calendar import record_org_unit
from records.models import Base
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork

REPO: Final = Path(__file__).resolve().parents[4]
DATA_KEY: Final = "test-records-data-key-not-a-secret-0123456789"


def _unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def migrate(database_url: str) -> None:
    alembic("records", database_url)


def school_year_around(today: date) -> tuple[str, date, date]:
    """The school year holding ``today`` in the test calendar (August to July)."""
    first = today.year if today.month >= 8 else today.year - 1
    return f"{first}-{first + 1}", date(first, 8, 1), date(first + 1, 7, 31)


def calendar_body(province: uuid.UUID, first: int) -> dict[str, Any]:
    """A school year starting in August ``first``: tests may date entries on any past day of it."""
    return {
        "province_id": str(province),
        "code": f"{first}-{first + 1}",
        "starts_on": f"{first}-08-01",
        "ends_on": f"{first + 1}-07-31",
        "periods": [
            {
                "period": "term_1",
                "starts_on": f"{first}-08-01",
                "ends_on": f"{first + 1}-01-15",
                "mid_term_from": f"{first}-10-15",
                "mid_term_to": f"{first}-11-15",
            },
            {
                "period": "term_2",
                "starts_on": f"{first + 1}-01-16",
                "ends_on": f"{first + 1}-05-31",
            },
            {
                "period": "summer",
                "starts_on": f"{first + 1}-06-01",
                "ends_on": f"{first + 1}-07-31",
            },
        ],
    }


@dataclass
class Units:
    province: uuid.UUID = field(default_factory=uuid.uuid4)
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    other_district: uuid.UUID = field(default_factory=uuid.uuid4)
    thcs: uuid.UUID = field(default_factory=uuid.uuid4)  # lower secondary, in ``district``
    primary: uuid.UUID = field(default_factory=uuid.uuid4)  # primary, in ``district``
    thpt: uuid.UUID = field(default_factory=uuid.uuid4)  # upper secondary, under the department
    other_thcs: uuid.UUID = field(default_factory=uuid.uuid4)  # in ``other_district``


@dataclass
class RecordsWorld:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: TokenIssuer
    sessions: async_sessionmaker[AsyncSession]
    units: Units
    unique: Unique
    # The current school year (holding today) and the previous one, fully in the past.
    year_id: uuid.UUID = field(default_factory=uuid.uuid4)
    last_year_id: uuid.UUID = field(default_factory=uuid.uuid4)
    last_year_first: int = 0
    province_admin: uuid.UUID = field(default_factory=uuid.uuid4)

    def as_(self, user: uuid.UUID, *grants: str, **kwargs: Any) -> dict[str, str]:
        return self.issuer.headers(user, *grants, **kwargs)

    def admin_of(self, school: uuid.UUID) -> dict[str, str]:
        """A fresh school admin (quản trị) of ``school``."""
        return self.as_(uuid.uuid4(), f"school_admin@{school}")

    def leader_of(self, school: uuid.UUID, user: uuid.UUID | None = None) -> dict[str, str]:
        return self.as_(user or uuid.uuid4(), f"school_leader@{school}")

    def teacher(self, user: uuid.UUID, school: uuid.UUID) -> dict[str, str]:
        return self.as_(user, f"teacher@{school}")

    async def new_class(
        self,
        school: uuid.UUID,
        grade: int,
        *,
        homeroom: uuid.UUID | None = None,
        year_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        response = await self.client.post(
            "/classes",
            json={
                "school_id": str(school),
                "school_year_id": str(year_id or self.year_id),
                "grade": grade,
                "name": f"{grade}{self.unique('c')[-6:].upper()}",
                "homeroom_teacher_id": str(homeroom) if homeroom else None,
            },
            headers=self.admin_of(school),
        )
        assert response.status_code == 201, response.text
        return uuid.UUID(response.json()["id"])

    async def add_students(
        self, class_id: uuid.UUID, school: uuid.UUID, names: list[str], starts_on: date
    ) -> list[uuid.UUID]:
        ids = []
        for i, name in enumerate(names):
            response = await self.client.post(
                f"/classes/{class_id}/students",
                json={
                    "full_name": name,
                    "date_of_birth": f"{starts_on.year - 12}-0{1 + i % 9}-1{i % 9}",
                    "gender": "female" if i % 2 else "male",
                    "ethnicity": "Kinh",
                    "place_of_birth": "Bình Lâm",
                    "starts_on": starts_on.isoformat(),
                },
                headers=self.admin_of(school),
            )
            assert response.status_code == 201, response.text
            ids.append(uuid.UUID(response.json()["id"]))
        return ids

    async def assign(
        self, class_id: uuid.UUID, school: uuid.UUID, subject: str, term: str, teacher: uuid.UUID
    ) -> None:
        response = await self.client.put(
            f"/classes/{class_id}/assignments/{subject}/{term}",
            json={"teacher_id": str(teacher)},
            headers=self.admin_of(school),
        )
        assert response.status_code == 200, response.text

    async def fill(  # noqa: PLR0917 - a sheet, who saves it, what and when
        self,
        class_id: uuid.UUID,
        headers: dict[str, str],
        sheet: str,
        period: str,
        values: dict[uuid.UUID, object],
        on: date,
    ) -> dict[str, Any]:
        """Every graded column of a sheet for the given students, in one save."""
        url = f"/classes/{class_id}/sheets/{sheet}/{period}"
        current = await self.client.get(url, headers=headers)
        assert current.status_code == 200, current.text
        columns = [c["code"] for c in current.json()["columns"] if c["kind"] != "comment"]
        cells = [
            {"student_id": str(s), "column": column, "value": value}
            for s, value in values.items()
            for column in columns
            if column != "retest"
        ]
        saved = await self.client.patch(
            url,
            json={"cells": cells, "assessed_on": on.isoformat()},
            headers={**headers, "If-Match": current.headers["etag"]},
        )
        assert saved.status_code == 200, saved.text
        body: dict[str, Any] = saved.json()
        return body

    async def subjects(self, grade: int, year_id: uuid.UUID) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/school-years/{year_id}/curriculum",
            params={"grade": grade},
            headers=self.admin_of(self.units.thcs),
        )
        assert response.status_code == 200, response.text
        subjects: list[dict[str, Any]] = response.json()
        return subjects

    async def last_years_grade6(
        self, school: uuid.UUID, names: list[str]
    ) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[uuid.UUID]]:
        """A grade-6 class of last year: (class, homeroom teacher, the teacher of every
        subject in both terms, students)."""
        homeroom, teacher = uuid.uuid4(), uuid.uuid4()
        class_id = await self.new_class(school, 6, homeroom=homeroom, year_id=self.last_year_id)
        students = await self.add_students(
            class_id, school, names, date(self.last_year_first, 8, 15)
        )
        for subject in await self.subjects(6, self.last_year_id):
            for term in ("term_1", "term_2"):
                await self.assign(class_id, school, subject["code"], term, teacher)
        return class_id, homeroom, teacher, students

    async def complete_year(
        self, school: uuid.UUID, names: list[str], score: str = "8"
    ) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[uuid.UUID]]:
        """``last_years_grade6`` with every sheet of both terms and conduct filled in."""
        class_id, homeroom, teacher, students = await self.last_years_grade6(school, names)
        first = self.last_year_first
        me, gvcn = self.teacher(teacher, school), self.teacher(homeroom, school)
        for subject in await self.subjects(6, self.last_year_id):
            value = score if subject["form"] == "score" else "Đ"
            for term, on in (("term_1", date(first, 12, 1)), ("term_2", date(first + 1, 4, 1))):
                await self.fill(
                    class_id, me, subject["code"], term, dict.fromkeys(students, value), on
                )
        for term, on in (("term_1", date(first, 12, 20)), ("term_2", date(first + 1, 5, 20))):
            await self.fill(class_id, gvcn, "_conduct", term, dict.fromkeys(students, "T"), on)
        return class_id, homeroom, teacher, students

    async def approve(
        self, class_id: uuid.UUID, school: uuid.UUID, homeroom: uuid.UUID, period: str
    ) -> None:
        """The homeroom teacher confirms, the leader approves (R17, R12)."""
        confirmed = await self.client.post(
            f"/classes/{class_id}/results/{period}/confirm", headers=self.teacher(homeroom, school)
        )
        assert confirmed.status_code == 201, confirmed.text
        approved = await self.client.post(
            f"/classes/{class_id}/results/{period}/approve", headers=self.leader_of(school)
        )
        assert approved.status_code == 200, approved.text

    async def fingerprint(self) -> dict[str, str]:
        """Row count and a hash of every table and the outbox (``common.testing.fingerprint``)."""
        return await fingerprint(self.sessions, Base.metadata)

    async def outbox_types(self) -> list[str]:
        async with self.sessions() as session:
            rows = await session.execute(select(outbox.c.event_type).order_by(outbox.c.id))
            return [r[0] for r in rows]

    async def outbox_events(self, event_type: str, subject: object) -> list[dict[str, Any]]:
        """The data of the outbox's events of one type about one subject, oldest first."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(outbox.c.body)
                .where(outbox.c.event_type == event_type, outbox.c.subject == str(subject))
                .order_by(outbox.c.id)
            )
            return [json.loads(body)["data"] for body in rows]


async def seed_units(uow: RecordsUnitOfWork, units: Units) -> None:
    """The org tree as identity's events would have brought it (the consumer's own handler)."""
    at = datetime.now(UTC)

    def event(  # noqa: PLR0917 - the fields of the event, in its order
        unit: uuid.UUID,
        kind: OrgLevel,
        code: str,
        parent: uuid.UUID | None,
        district: uuid.UUID | None,
        levels: list[str],
    ) -> OrgUnitCreated:
        return OrgUnitCreated(
            unit_id=unit,
            kind=kind,
            code=code,
            parent_id=parent,
            levels=levels,
            province_id=units.province,
            district_id=district,
            created_at=at,
            created_by=None,
        )

    p, d, d2 = units.province, units.district, units.other_district
    for created in (
        event(p, OrgLevel.PROVINCE, "TP", None, None, []),
        event(d, OrgLevel.DISTRICT, "TP-D1", p, d, []),
        event(d2, OrgLevel.DISTRICT, "TP-D2", p, d2, []),
        event(units.thcs, OrgLevel.SCHOOL, "TP-D1-THCS", d, d, ["lower_secondary"]),
        event(units.primary, OrgLevel.SCHOOL, "TP-D1-TH", d, d, ["primary"]),
        event(units.thpt, OrgLevel.SCHOOL, "TP-THPT", p, None, ["upper_secondary"]),
        event(units.other_thcs, OrgLevel.SCHOOL, "TP-D2-THCS", d2, d2, ["lower_secondary"]),
    ):
        await record_org_unit(created, uow)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def records_world(
    make_database: DatabaseFactory,
    amqp_url: str,
    redis_url: str,
    redis_prefix: str,
    token_issuer: TokenIssuer,
) -> AsyncIterator[RecordsWorld]:
    unique = _unique
    url = await make_database(unique("records").replace("-", "_"))
    migrate(url)
    settings = RecordsSettings(
        database_url=url,
        amqp_url=amqp_url,
        redis_url=redis_url,
        redis_prefix=f"{redis_prefix}{unique('rec')}:",
        jwks_url=token_issuer.jwks_url,
        data_key=SecretStr(DATA_KEY),
    )
    app = create_app(settings)
    units = Units()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://records/api/v1"
        ) as client,
    ):
        deps = app.state.deps
        await seed_units(RecordsUnitOfWork(deps.sessionmaker, source="records"), units)
        world = RecordsWorld(app, client, token_issuer, deps.sessionmaker, units, unique)
        admin = world.as_(world.province_admin, f"province_admin@{units.province}")
        code, _, _ = school_year_around(school_today())
        first = int(code[:4])
        for year_first, attr in ((first, "year_id"), (first - 1, "last_year_id")):
            response = await client.post(
                "/school-years", json=calendar_body(units.province, year_first), headers=admin
            )
            assert response.status_code == 201, response.text
            setattr(world, attr, uuid.UUID(response.json()["id"]))
        world.last_year_first = first - 1
        yield world
