"""One head again: this session's branches meet (alert texts per reader, Web Push subscriptions,
export recipients, the unit roster).

Revision ID: 0014_one_head
"""

revision = "0014_one_head"
down_revision = (
    "0013_alert_text",
    "0013_push",
    "0013_recipients",
    "0013_roster",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point only: later migrations revise this one


def downgrade() -> None:
    pass
