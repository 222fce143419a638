"""security: audit checkpoints become numbered, chained digests

Revision ID: security_audit_digests
Revises: 0003_privacy
"""

import sqlalchemy as sa
from alembic import op

revision = "security_audit_digests"
down_revision = "0003_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_checkpoints_number"), ["number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_number"))
        batch_op.drop_column("reason")
        batch_op.drop_column("prev")
        batch_op.drop_column("number")
