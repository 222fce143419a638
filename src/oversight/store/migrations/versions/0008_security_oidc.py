"""security: accounts linked to an OpenID Connect provider

Revision ID: security_oidc
Revises: security_totp
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "security_oidc"
down_revision = "security_totp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_links",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oidc_links_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_oidc_links")),
    )
    with op.batch_alter_table("oidc_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_links_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oidc_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_links_user_id"))
    op.drop_table("oidc_links")
