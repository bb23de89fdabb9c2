"""Async SQLAlchemy engine and sessions; every service has its own database."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
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
        # No pre-ping: it costs a round trip per checkout (~13% of a one-row transaction
        # here). After a database restart the first statement on a dead connection fails,
        # SQLAlchemy then invalidates the whole pool, and the caller's retry (the consumer's
        # transient-error path, a client's retry of a 503) gets a fresh connection.
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` DSN of an SQLAlchemy URL, for raw asyncpg (LISTEN, COPY)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_transient(exc: BaseException) -> bool:
    """An outage of our own infrastructure (database or network), not a fault of the input.

    A consumer retries such a failure without counting an attempt, so a database restart
    never sends good events to the dead letters; an API answers 503 so clients retry.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        OSError
        | ConnectionError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.InterfaceError,
    )
