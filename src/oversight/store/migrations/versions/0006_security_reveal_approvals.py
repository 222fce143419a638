"""security: reveals that reach further into the future need two approvers

Revision ID: security_reveal_approvals
Revises: security_audit_digests
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "security_reveal_approvals"
down_revision = "security_audit_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reveal_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approvals_needed", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("first_approved_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("first_approved_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("reveal_requests", schema=None) as batch_op:
        batch_op.drop_column("first_approved_at")
        batch_op.drop_column("first_approved_by")
        batch_op.drop_column("approvals_needed")
