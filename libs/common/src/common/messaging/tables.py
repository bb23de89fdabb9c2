"""The outbox and inbox tables that every service keeps in its own database.

They live in their own ``MetaData`` so each service's Alembic environment includes them beside
its own models, and the first migration of every service creates them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

messaging_metadata = MetaData()

OUTBOX_NOTIFY_CHANNEL = "hsdt_outbox"

outbox = Table(
    "outbox",
    messaging_metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("subject", String(200), nullable=True),
    # The whole CloudEvent as published, traceparent included: the relay sends these bytes.
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
)
# The relay scans only what is unsent; a partial index keeps that scan small however many
# rows have been sent.
Index("ix_outbox_unsent", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None))

inbox = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
)


NOTIFY_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION hsdt_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{OUTBOX_NOTIFY_CHANNEL}', '');
    RETURN NULL;
END $$;
"""
# One notification per transaction, not per row: PostgreSQL folds identical notifications
# sent in one transaction, and a statement-level trigger keeps the cost per insert flat.
NOTIFY_TRIGGER_SQL = """
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION hsdt_outbox_notify();
"""


def create_messaging_schema_sql() -> list[str]:
    """DDL that a service's first migration runs (``op.execute`` each) after creating tables."""
    return [NOTIFY_FUNCTION_SQL, NOTIFY_TRIGGER_SQL]


def drop_messaging_schema_sql() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
        "DROP FUNCTION IF EXISTS hsdt_outbox_notify()",
    ]
