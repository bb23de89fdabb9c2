"""The Excel staff import through HTTP on real PostgreSQL, with the demo province: the served
template filled in, a dry run that writes nothing, a real import that writes every row or none.

The caller is the school admin of BL-DX-TH01 (``current_principal`` overridden, as in
``test_identity_admin_api.py``: authority comes from the stored grants).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from openpyxl import load_workbook
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.auth import Principal, current_principal
from common.db import create_sessionmaker
from common.testing import DatabaseFactory, alembic
from identity.app import create_app
from identity.demo import load_demo
from identity.excel_import import GUIDE_SHEET, HEADERS, SHEET, XLSX_MEDIA_TYPE
from identity.models import UserRow
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork

REPO = Path(__file__).resolve().parents[4]
PASSWORD = "rừng cao su xanh mướt"
SCHOOL = "BL-DX-TH01"
SIBLING = "BL-DX-THCS01"
ADMIN = "quantri.bldxth01"  # the demo's school admin of BL-DX-TH01
URL = "/api/v1/imports/staff"


def _migrate(database_url: str) -> None:
    alembic("identity", database_url)


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine

    async def act_as(self, username: str) -> uuid.UUID:
        async with self.engine.connect() as conn:
            user_id = await conn.scalar(select(UserRow.id).where(UserRow.username == username))
        assert user_id is not None
        principal = Principal(
            subject=str(user_id),
            kind="user",
            grants=(),  # authority is read from the database, not the token
            token_id=uuid.uuid4().hex,
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
        )
        self.app.dependency_overrides[current_principal] = lambda: principal
        return user_id

    async def counts(self) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM users) AS users,"
                        " (SELECT count(*) FROM credentials) AS credentials,"
                        " (SELECT count(*) FROM grants) AS grants,"
                        " (SELECT count(*) FROM groups) AS groups,"
                        " (SELECT count(*) FROM group_members) AS members,"
                        " (SELECT count(*) FROM audit_log) AS audit,"
                        " (SELECT count(*) FROM outbox) AS outbox"
                    )
                )
            ).one()
        return dict(row._mapping)

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT body FROM outbox WHERE event_type = :t ORDER BY id"),
                {"t": event_type},
            )
            return [json.loads(bytes(r.body)) for r in rows]

    async def template(self) -> bytes:
        response = await self.client.get(f"{URL}/template")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == XLSX_MEDIA_TYPE
        return response.content

    async def upload(self, data: bytes, *, dry_run: bool, name: str = "x.xlsx") -> httpx.Response:
        return await self.client.post(
            URL,
            params={"dry_run": str(dry_run).lower()},
            files={"file": (name, data, XLSX_MEDIA_TYPE)},
        )


@pytest_asyncio.fixture
async def env(
    make_database: DatabaseFactory, amqp_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Env]:
    database_url = await make_database(f"idxl_{uuid.uuid4().hex[:8]}")
    _migrate(database_url)
    engine = create_async_engine(database_url)
    await load_demo(IdentityUnitOfWork(create_sessionmaker(engine), source="identity"), PASSWORD)
    settings = IdentitySettings(
        database_url=database_url, amqp_url=amqp_url, redis_url=redis_url, redis_prefix=redis_prefix
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://id") as client,
    ):
        state = Env(app, client, engine)
        await state.act_as(ADMIN)
        yield state
        app.dependency_overrides.clear()
    await engine.dispose()


def _fill(template: bytes, *rows: tuple[object, ...]) -> bytes:
    book = load_workbook(io.BytesIO(template))
    for row in rows:
        book[SHEET].append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD = (
    ("gv.nhap1", "Nguyễn Văn Một", "mot@example.vn", SCHOOL, "Giáo viên", "Tổ Toán - Tin"),
    ("gv.nhap2", "Trần Thị Hai", None, SCHOOL, "Giáo viên", "Tổ Toán - Tin"),
    ("nv.nhap3", "Lê Văn Ba", None, SCHOOL, "Nhân viên", None),
)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_the_template_is_served_with_the_callers_unit_codes(env: Env) -> None:
    book = load_workbook(io.BytesIO(await env.template()))

    assert book.sheetnames == [SHEET, GUIDE_SHEET]
    assert tuple(c.value for c in book[SHEET][1]) == HEADERS
    guide = " ".join(str(r[0]) for r in book[GUIDE_SHEET].iter_rows(values_only=True) if r[0])
    assert SCHOOL in guide
    assert SIBLING not in guide


async def test_three_good_rows_dry_run_writes_nothing_then_the_import_writes_them(
    env: Env,
) -> None:
    data = _fill(await env.template(), *GOOD)
    before = await env.counts()

    dry = await env.upload(data, dry_run=True)

    assert dry.status_code == 200, dry.text
    assert dry.json()["rows"] == 3
    assert dry.json()["problems"] == []
    assert await env.counts() == before

    real = await env.upload(data, dry_run=False)

    assert real.status_code == 200, real.text
    report = real.json()
    assert report["problems"] == []
    assert (report["users_created"], report["grants_created"]) == (3, 3)
    assert (report["groups_created"], report["memberships_added"]) == (1, 2)
    after = await env.counts()
    assert after["users"] == before["users"] + 3
    assert after["grants"] == before["grants"] + 3
    assert after["groups"] == before["groups"] + 1
    assert after["members"] == before["members"] + 2
    assert after["audit"] >= before["audit"] + 7  # 3 users, 3 grants, 1 group
    created = await env.outbox("vn.hsdt.identity.user.created.v1")
    granted = await env.outbox("vn.hsdt.identity.grant.changed.v1")
    async with env.engine.connect() as conn:
        new = {
            r.username: r
            for r in await conn.execute(
                text(
                    "SELECT u.id, u.username, u.full_name, c.password_hash FROM users u"
                    " JOIN credentials c ON c.user_id = u.id WHERE u.username LIKE '%.nhap%'"
                )
            )
        }
    assert set(new) == {"gv.nhap1", "gv.nhap2", "nv.nhap3"}
    # No usable password: an admin resets it (or invites the person) before the first sign-in.
    assert all(not r.password_hash.startswith("$argon2") for r in new.values())
    ids = {str(r.id) for r in new.values()}
    assert ids <= {e["data"]["user_id"] for e in created}
    assert ids <= {e["data"]["grantee_id"] for e in granted}

    again = await env.upload(data, dry_run=True)
    assert {p["code"] for p in again.json()["problems"]} == {"username-taken"}


async def test_one_bad_row_is_listed_and_the_real_import_writes_nothing(env: Env) -> None:
    bad = ("gv.nhap4", "Phạm Thị Bốn", "khong-phai-email", SCHOOL, "Hiệu trưởng", None)
    data = _fill(await env.template(), GOOD[0], bad, GOOD[2])
    before = await env.counts()

    dry = await env.upload(data, dry_run=True)
    real = await env.upload(data, dry_run=False)

    assert dry.status_code == 200, dry.text
    assert [(p["row"], p["column"], p["code"]) for p in dry.json()["problems"]] == [
        (3, "C", "email-invalid"),
        (3, "E", "role-unknown"),
    ]
    assert all(p["message"] for p in dry.json()["problems"])
    body = _problem(real, 422)
    assert body["code"] == "import-rows-invalid"
    assert {p["row"] for p in body["problems"]} == {3}
    assert await env.counts() == before


async def test_an_out_of_scope_unit_code_is_a_problem_and_refused(env: Env) -> None:
    row = ("gv.nhap5", "Đặng Năm", None, SIBLING, "Giáo viên", None)
    data = _fill(await env.template(), GOOD[0], row)
    before = await env.counts()

    dry = await env.upload(data, dry_run=True)
    real = await env.upload(data, dry_run=False)

    assert [(p["row"], p["column"], p["code"]) for p in dry.json()["problems"]] == [
        (3, "D", "unit-outside-scope")
    ]
    assert _problem(real, 403)["problems"][0]["code"] == "unit-outside-scope"
    assert await env.counts() == before


async def test_a_file_that_is_not_xlsx_or_not_the_template_is_a_problem(env: Env) -> None:
    before = await env.counts()

    csv = await env.upload(b"username,full_name\ngv.x,X\n", dry_run=False, name="x.csv")
    empty = await env.upload(_fill(await env.template()), dry_run=False)

    assert _problem(csv, 422)["code"] == "import-not-xlsx"
    assert _problem(empty, 422)["code"] == "import-empty"
    assert await env.counts() == before
