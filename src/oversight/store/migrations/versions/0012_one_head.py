"""One head again: this session's branches meet (console views, export jobs, camera groups, health, language,
map, privacy masks).

Revision ID: 0012_one_head
"""

revision = "0012_one_head"
down_revision = (
    "0011_console_views",
    "0011_exports",
    "0011_groups",
    "0011_health",
    "0011_i18n",
    "0011_map",
    "0011_masks",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point only: later migrations revise this one


def downgrade() -> None:
    pass
