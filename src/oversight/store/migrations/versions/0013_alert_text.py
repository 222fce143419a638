"""An alert's title as a msgid and parameters, so each reader sees it in their own language.

Rows written before this migration keep only their English ``title``, which is shown as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_alert_text"
down_revision = "0012_one_head"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("title_msgid", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("title_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("title_params")
        batch.drop_column("title_msgid")
