"""i18n: each user's UI language (null follows the browser's Accept-Language)

Revision ID: 0011_i18n
Revises: 0010_one_head
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_i18n"
down_revision = "0010_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
