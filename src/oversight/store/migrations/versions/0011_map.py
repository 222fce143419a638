"""map: when a response unit's position last arrived, for the age shown beside it on the map

Revision ID: 0011_map
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0011_map"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("response_units", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("location_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("response_units", schema=None) as batch_op:
        batch_op.drop_column("location_at")
