"""Async SQLAlchemy engine and sessions; every service has its own database."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str, *, pool_size: int = 10, application_name: str = "hsdt") -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # A restarted PostgreSQL leaves dead connections in the pool; check before use.
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN of an SQLAlchemy URL, for raw asyncpg (LISTEN, COPY)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
