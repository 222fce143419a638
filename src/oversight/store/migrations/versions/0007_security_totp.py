"""security: TOTP second factor per user

Revision ID: security_totp
Revises: security_reveal_approvals
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "security_totp"
down_revision = "security_reveal_approvals"
branch_labels = None
depends_on = None

UTC = oversight.store.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "user_totp",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("confirmed_at", UTC(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_totp_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_totp")),
    )


def downgrade() -> None:
    op.drop_table("user_totp")
