"""health: tombstones of sessions an administrator ended, so the login page can say why

Revision ID: 0011_health
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0011_health"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ended_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("ended_by", sa.String(length=64), nullable=False),
        sa.Column("ended_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shown_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ended_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ended_sessions_token_hash")),
    )
    op.create_index(op.f("ix_ended_sessions_user_id"), "ended_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ended_sessions_user_id"), table_name="ended_sessions")
    op.drop_table("ended_sessions")
