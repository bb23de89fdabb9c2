"""Platform clients: a client is bound to an org unit (a school, or the province) and has a kind.

``clients.school_id`` becomes ``clients.unit_id``; ``clients.kind`` is ``school`` (every existing
row) or ``platform`` (a platform service such as the archive, bound to the province). A platform
client's name is unique, so the operator command that creates one is idempotent by name.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("clients", "school_id", new_column_name="unit_id")
    op.execute("ALTER INDEX ix_clients_school_id RENAME TO ix_clients_unit_id")
    op.execute(
        "ALTER TABLE clients RENAME CONSTRAINT clients_school_id_fkey TO clients_unit_id_fkey"
    )
    op.add_column(
        "clients",
        sa.Column("kind", sa.String(length=16), server_default="school", nullable=False),
    )
    op.create_check_constraint("client_kind", "clients", "kind IN ('school', 'platform')")
    op.create_index(
        "platform_client_name",
        "clients",
        ["name"],
        unique=True,
        postgresql_where="kind = 'platform'",
    )


def downgrade() -> None:
    # A platform client cannot be expressed without its kind, and deleting one silently would
    # cut the archive off: refuse, and let an operator remove them on purpose first.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM clients WHERE kind = 'platform') THEN"
        " RAISE EXCEPTION 'platform clients exist; delete them before downgrading'; END IF;"
        " END $$"
    )
    op.drop_index(
        "platform_client_name", table_name="clients", postgresql_where="kind = 'platform'"
    )
    op.drop_constraint("client_kind", "clients", type_="check")
    op.drop_column("clients", "kind")
    op.execute(
        "ALTER TABLE clients RENAME CONSTRAINT clients_unit_id_fkey TO clients_school_id_fkey"
    )
    op.execute("ALTER INDEX ix_clients_unit_id RENAME TO ix_clients_school_id")
    op.alter_column("clients", "unit_id", new_column_name="school_id")
