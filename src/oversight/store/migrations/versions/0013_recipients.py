"""recipients: who received each evidence export (a published category and an internal reference)

Existing exports read "not_recorded", except those that answered a subject access request: the
request names them, so their recipient is known to be the person filmed ("data_subject").

Revision ID: 0013_recipients
Revises: 0012_one_head
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_recipients"
down_revision = "0012_one_head"
branch_labels = None
depends_on = None

TABLES = ("evidence_exports", "export_jobs")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("recipient", sa.String(length=16), nullable=False, server_default="not_recorded")
            )
            batch_op.add_column(sa.Column("recipient_ref", sa.String(length=128), nullable=True))
    op.execute(
        "UPDATE evidence_exports SET recipient = 'data_subject' WHERE id IN "
        "(SELECT export_id FROM subject_requests WHERE export_id IS NOT NULL)"
    )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("recipient_ref")
            batch_op.drop_column("recipient")
