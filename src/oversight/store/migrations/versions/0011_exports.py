"""exports: evidence exports run as background jobs, kept across restarts

Revision ID: 0011_exports
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0011_exports"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("exporter", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("start", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("source", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=128), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("export_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_jobs_exporter"), ["exporter"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_jobs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_exporter"))
    op.drop_table("export_jobs")
