"""groups: the camera groups granted to each account (per-camera access)

Revision ID: 0011_groups
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_groups"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("camera_groups", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("camera_groups")
