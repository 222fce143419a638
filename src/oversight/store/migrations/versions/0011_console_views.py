"""console: saved views and bookmarks

Revision ID: 0011_console_views
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0011_console_views"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None

UTC = oversight.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "console_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("layout", sa.String(length=8), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_views")),
    )
    op.create_index(op.f("ix_console_views_owner"), "console_views", ["owner"])
    op.create_table(
        "console_bookmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("start", UTC(timezone=True), nullable=False),
        sa.Column("end", UTC(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_bookmarks")),
    )
    op.create_index("ix_console_bookmarks_camera_start", "console_bookmarks", ["camera_id", "start"])


def downgrade() -> None:
    op.drop_table("console_bookmarks")
    op.drop_table("console_views")
