"""Pytest fixtures shared by every test suite (loaded with ``-p common.testing``).

Each test run isolates itself on the shared servers: its own databases, RabbitMQ vhost and Redis
key prefix, all named after one run id, and all removed at the end of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import LargeBinary, MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db import asyncpg_dsn

PG_HOST = os.environ.get("HSDT_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN_DSN = os.environ.get(
    "HSDT_TEST_PG_ADMIN_DSN", f"postgresql://postgres@{PG_HOST}:5432/postgres"
)
AMQP_HOST = os.environ.get("HSDT_TEST_AMQP_HOST", "127.0.0.1:5672")
REDIS_URL = os.environ.get("HSDT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _run_id() -> str:
    return os.environ.get("HSDT_TEST_RUN_ID") or uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def run_id() -> str:
    return _run_id()


DatabaseFactory = Callable[[str], Awaitable[str]]


@pytest_asyncio.fixture(scope="session")
async def make_database(run_id: str) -> AsyncIterator[DatabaseFactory]:
    """Create ``hsdt_t_<run>_<name>`` and return its SQLAlchemy URL; all dropped at the end."""
    created: list[str] = []

    async def make(name: str) -> str:
        db = f"hsdt_t_{run_id}_{name}".lower()
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{db}"')
        finally:
            await admin.close()
        created.append(db)
        return f"postgresql+asyncpg://postgres@{PG_HOST}:5432/{db}"

    yield make
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for db in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_schema(url: str, *metadatas: MetaData, extra_sql: list[str] | None = None) -> None:
    """Create tables straight from metadata (for library tests; services use their migrations)."""
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for md in metadatas:
                await conn.run_sync(md.create_all)
            for sql in extra_sql or []:
                await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


def rabbitmqctl(*args: str) -> str:
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    done = subprocess.run(  # noqa: S603 — fixed executable, arguments from this module
        [exe, *args], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


@pytest.fixture(scope="session")
def amqp_url(run_id: str) -> Iterator[str]:
    """A RabbitMQ vhost of this run's own, removed at the end."""
    vhost = f"hsdt-t-{run_id}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@{AMQP_HOST}/{quote(vhost, safe='')}"
    with contextlib.suppress(subprocess.CalledProcessError):
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest_asyncio.fixture(scope="session")
async def redis_prefix(run_id: str, redis_url: str) -> AsyncIterator[str]:
    """This run's Redis key prefix; every key under it is deleted at the end of the run."""
    from redis.asyncio import Redis  # noqa: PLC0415

    prefix = f"hsdt-t-{run_id}:"
    yield prefix
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


Unique = Callable[[str], str]


@pytest.fixture
def unique() -> Unique:
    """Unique names inside a run: queues, consumers, buckets."""
    return lambda stem: f"{stem}-{uuid.uuid4().hex[:8]}"


def pg_dsn(url: str) -> str:
    return asyncpg_dsn(url)


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.05
) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; returns the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await predicate():
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on a free loopback port; yields its base URL.

    For tests whose subject makes HTTP calls of its own (a verifier fetching a JWKS).
    """
    import uvicorn  # noqa: PLC0415 — only tests that serve something need it

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, lifespan="off", ws="none", http="h11", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # uvicorn offers no event for "listening"; its flag is all there is.
        while not server.started:
            if task.done():
                await task  # raises what stopped it
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class TokenIssuer:
    """A stand-in for identity's token endpoint in other services' tests: one Ed25519 key, its
    JWKS served over real HTTP, and access tokens with exactly the grants a test wants.

    Tokens follow the contract in ``common.auth`` (the one identity implements); the services
    under test verify them with their own ``JwksVerifier``, revocation list included.
    """

    def __init__(self, issuer: str = "hsdt-identity", audience: str = "hsdt") -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
            Ed25519PrivateKey,
        )

        self.issuer = issuer
        self.audience = audience
        self.kid = f"test-{uuid.uuid4().hex[:8]}"
        self._key = Ed25519PrivateKey.generate()
        self.jwks_url = ""

    def jwks(self) -> dict[str, Any]:
        import json  # noqa: PLC0415

        from jwt.algorithms import OKPAlgorithm  # noqa: PLC0415

        public = json.loads(OKPAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}

    def mint(
        self,
        subject: uuid.UUID | str,
        *grants: str,
        kind: str = "user",
        acting_for: uuid.UUID | str | None = None,
        lifetime_seconds: int = 600,
    ) -> str:
        """A signed access token; ``grants`` as ``"role@unit_id"``."""
        import time  # noqa: PLC0415

        import jwt  # noqa: PLC0415

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(subject),
            "kind": kind,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + lifetime_seconds,
            "grants": list(grants),
        }
        if acting_for is not None:
            claims["acting_for"] = str(acting_for)
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})

    def mint_step_up(
        self,
        subject: uuid.UUID | str,
        purpose: str,
        *,
        expires_in: int = 300,
        family_id: str | None = None,
        token_id: str | None = None,
    ) -> str:
        """A step-up token as identity's ``POST /auth/step-up`` answers it (``common.step_up``):
        ``subject`` confirmed ``purpose`` with a second factor. A negative ``expires_in`` gives
        one that has already expired."""
        import time  # noqa: PLC0415

        import jwt  # noqa: PLC0415

        from common.step_up import STEP_UP_TYP, step_up_claims  # noqa: PLC0415

        now = int(time.time())
        claims = step_up_claims(
            issuer=self.issuer,
            audience=self.audience,
            subject=str(subject),
            purpose=purpose,
            issued_at=min(now, now + expires_in),
            expires_at=now + expires_in,
            token_id=token_id,
            family_id=family_id,
        )
        headers = {"kid": self.kid, "typ": STEP_UP_TYP}
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers=headers)

    def headers(self, subject: uuid.UUID | str, *grants: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(subject, *grants, **kwargs)}"}


@pytest_asyncio.fixture(scope="session")
async def token_issuer() -> AsyncIterator[TokenIssuer]:
    """A JWKS on a loopback port and a key to mint tokens with, for the whole run."""
    from fastapi import FastAPI  # noqa: PLC0415

    issuer = TokenIssuer()
    app = FastAPI()

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return issuer.jwks()

    async with serving(app) as base_url:
        issuer.jwks_url = f"{base_url}/.well-known/jwks.json"
        yield issuer


REPO_ROOT: Final = Path(__file__).resolve().parents[4]


def alembic(service: str, database_url: str, *args: str) -> None:
    """Run a service's Alembic (``upgrade head`` by default) against ``database_url``, as
    ``make migrate`` does: a subprocess, so each run starts from the service's own env.py."""
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            f"services/{service}/alembic.ini",
            *(args or ("upgrade", "head")),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, f"{service.upper()}_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        timeout=120,
    )


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """``response`` (an httpx response) is a problem+json answer of ``status`` (and ``code``),
    with a title for people; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    body: dict[str, Any] = response.json()
    assert body["title"], body
    if code is not None:
        assert body["code"] == code, body
    return body


async def fingerprint(
    sessions: async_sessionmaker[AsyncSession], metadata: MetaData
) -> dict[str, str]:
    """Row count and a hash of every row of every table of ``metadata`` and of the outbox:
    equal before and after means a request changed nothing. Binary columns count by their MD5,
    so documents are not hashed as hex text."""
    from common.messaging.tables import outbox  # noqa: PLC0415 - tables import this module's peers

    tables: list[Table] = [*metadata.sorted_tables, outbox]
    state: dict[str, str] = {}
    async with sessions() as session:
        for table in sorted(tables, key=lambda t: t.name):
            columns = ", ".join(
                f'md5("{c.name}")' if isinstance(c.type, LargeBinary) else f'"{c.name}"'
                for c in table.columns
            )
            # Names from our own metadata, never from input.
            rows = f'SELECT ROW({columns})::text AS r FROM "{table.name}"'  # noqa: S608
            query = f"SELECT count(*) || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') FROM ({rows}) t"  # noqa: E501, S608
            state[table.name] = str(await session.scalar(text(query)))
    return state
