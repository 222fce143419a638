"""One head again: this session's branches (health, language, camera groups, ...) meet.

Revision ID: 0012_one_head
"""

revision = "0012_one_head"
down_revision = (
    "0011_groups",
    "0011_health",
    "0011_i18n",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point only: later migrations revise this one


def downgrade() -> None:
    pass
