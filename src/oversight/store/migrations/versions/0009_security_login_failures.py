"""security: failed-login counts shared by a site's web servers

Revision ID: security_login_failures
Revises: security_oidc
"""

import sqlalchemy as sa
from alembic import op

revision = "security_login_failures"
down_revision = "security_oidc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("fails", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
