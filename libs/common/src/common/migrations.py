"""Alembic support shared by every service: the async environment and the messaging tables."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from common.messaging.tables import (
    create_messaging_schema_sql,
    drop_messaging_schema_sql,
    messaging_metadata,
)


def run_alembic_env(database_url: str, target_metadata: Sequence[MetaData]) -> None:
    """Body of a service's ``migrations/env.py``: online (async) or offline (SQL script)."""
    metadata = [*target_metadata, messaging_metadata]
    if context.is_offline_mode():
        context.configure(url=database_url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(database_url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())


def create_messaging_tables() -> None:
    """Create the outbox, its sequence and the inbox, with the NOTIFY trigger (first migration)."""
    bind = op.get_bind()
    messaging_metadata.create_all(bind)
    for sql in create_messaging_schema_sql():
        op.execute(sql)


def drop_messaging_tables() -> None:
    for sql in drop_messaging_schema_sql():
        op.execute(sql)
    messaging_metadata.drop_all(op.get_bind())
