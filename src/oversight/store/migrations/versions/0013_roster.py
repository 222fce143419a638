"""roster: stations, units' duty (shift on/off) and soft retirement

Revision ID: 0013_roster
Revises: 0012_one_head
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0013_roster"
down_revision = "0012_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = oversight.store.base.UTCDateTime(timezone=True)
    with op.batch_alter_table("response_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_duty", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("duty_changed_at", when, nullable=True))
        batch_op.add_column(sa.Column("retired_at", when, nullable=True))
        batch_op.add_column(sa.Column("retired_by", sa.String(length=64), nullable=True))
    op.create_table(
        "stations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
    )


def downgrade() -> None:
    op.drop_table("stations")
    with op.batch_alter_table("response_units", schema=None) as batch_op:
        for col in ("retired_by", "retired_at", "duty_changed_at", "on_duty"):
            batch_op.drop_column(col)
