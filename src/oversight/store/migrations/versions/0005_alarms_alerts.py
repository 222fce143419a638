"""alarms: the alerts table (situations in the operator's queue, apart from events)

Revision ID: alarms_alerts
Revises: 0004_incidents
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "alarms_alerts"
down_revision = "0004_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=True),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("sound", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("last_event_id", sa.Integer(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("opened_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("ack_reason", sa.String(length=16), nullable=True),
        sa.Column("ack_cause", sa.String(length=16), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_ack_opened", "alerts", ["acknowledged_at", "opened_at"])
    op.create_index("ix_alerts_camera_opened", "alerts", ["camera_id", "opened_at"])
    op.create_index("ix_alerts_rule_opened", "alerts", ["rule_id", "opened_at"])


def downgrade() -> None:
    op.drop_table("alerts")
