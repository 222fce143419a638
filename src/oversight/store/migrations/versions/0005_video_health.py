"""video: stage outages recorded by the camera watchdog

Revision ID: video_health
Revises: 0004_incidents
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "video_health"
down_revision = "0004_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("start", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_stage_outages_camera_id"), "stage_outages", ["camera_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_stage_outages_camera_id"), table_name="stage_outages")
    op.drop_table("stage_outages")
