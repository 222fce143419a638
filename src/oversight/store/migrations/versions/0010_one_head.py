"""One head again: the web, alerts, separation-of-duties, video-health and security branches meet.

Revision ID: 0010_one_head
Revises: 0002_web, alarms_alerts, duties_pending_changes, video_health, security_login_failures
"""

revision = "0010_one_head"
down_revision = (
    "0002_web",
    "alarms_alerts",
    "duties_pending_changes",
    "video_health",
    "security_login_failures",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point only: later migrations revise this one


def downgrade() -> None:
    pass
