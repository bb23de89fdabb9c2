"""month absences from attendance

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 04:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "month_absences",
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("school_year_id", sa.Uuid(), nullable=False),
        sa.Column("excused_days", sa.SmallInteger(), nullable=False),
        sa.Column("unexcused_days", sa.SmallInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["class_id"], ["classes.id"]),
        sa.ForeignKeyConstraint(["school_year_id"], ["school_years.id"]),
        sa.PrimaryKeyConstraint("student_id", "class_id", "month"),
    )
    op.create_index(
        "ix_month_absences_year_student",
        "month_absences",
        ["school_year_id", "student_id"],
        unique=False,
    )
    op.create_index(
        "ix_month_absences_class_month", "month_absences", ["class_id", "month"], unique=False
    )
    # The column existed since 0002 with 'manual' as its only value; now attendance fills it too.
    op.create_check_constraint(
        "ck_absence_totals_source", "absence_totals", "source IN ('manual', 'attendance')"
    )


def downgrade() -> None:
    op.drop_constraint("ck_absence_totals_source", "absence_totals", type_="check")
    op.drop_index("ix_month_absences_class_month", table_name="month_absences")
    op.drop_index("ix_month_absences_year_student", table_name="month_absences")
    op.drop_table("month_absences")
