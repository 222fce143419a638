"""masks: subject access requests and the operator's marks of the requester

Revision ID: 0011_masks
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0011_masks"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None

UTC = oversight.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", UTC(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("start", UTC(timezone=True), nullable=False),
        sa.Column("end", UTC(timezone=True), nullable=False),
        sa.Column("places", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("deadline_at", UTC(timezone=True), nullable=False),
        sa.Column("identity_check", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("export_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_requests")),
    )
    op.create_index(op.f("ix_subject_requests_received_at"), "subject_requests", ["received_at"])
    op.create_index(op.f("ix_subject_requests_deadline_at"), "subject_requests", ["deadline_at"])
    op.create_index(op.f("ix_subject_requests_status"), "subject_requests", ["status"])
    op.create_table(
        "subject_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("ts", UTC(timezone=True), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_marks")),
    )
    op.create_index(op.f("ix_subject_marks_request_id"), "subject_marks", ["request_id"])


def downgrade() -> None:
    op.drop_table("subject_marks")
    op.drop_table("subject_requests")
