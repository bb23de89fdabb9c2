"""What the writer side (``bench.events``) and the worker process (``bench.worker``) share."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

from common.events.base import IntegrationEvent

bench_metadata = MetaData()

# The business row each writer transaction inserts beside its outbox row.
writes = Table(
    "bench_writes",
    bench_metadata,
    Column("id", BigInteger, primary_key=True),
    Column("n", Integer, nullable=False),
)
# The consumer's effect, committed in the same transaction as its inbox row.
effects = Table(
    "bench_effects",
    bench_metadata,
    Column("id", BigInteger, primary_key=True),
    Column("event_key", String(64), nullable=False),
    Column("n", Integer, nullable=False),
)

# The raw asyncpg baseline writes the same shapes to tables of its own, without the NOTIFY
# trigger (a second variant adds it, to show what the trigger costs).
BARE_TABLES_SQL = [
    "CREATE TABLE bare_writes (id bigserial PRIMARY KEY, n integer NOT NULL)",
    """CREATE TABLE bare_outbox (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        event_type varchar(200) NOT NULL,
        subject varchar(200),
        body bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        last_error text
    )""",
    "CREATE INDEX ix_bare_outbox_unsent ON bare_outbox (id) WHERE sent_at IS NULL",
]


class BenchPinged(IntegrationEvent):
    """A small event, about the size of the platform's own (a few hundred bytes of JSON)."""

    event_type = "vn.hsdt.bench.ping.sent.v1"
    subject_field = "key"
    key: str
    n: int
    school_id: str
    note: str


CONSUMER_NAME = "bench-events"
EXCHANGE_NAME = "hsdt.bench.events"
