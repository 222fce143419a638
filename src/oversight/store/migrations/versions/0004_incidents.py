"""incidents: incidents, timeline, response units, assignments, clips

Revision ID: 0004_incidents
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

import oversight.store.base

revision = "0004_incidents"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("caller_name", sa.String(length=128), nullable=True),
        sa.Column("caller_phone", sa.String(length=64), nullable=True),
        sa.Column("caller_account", sa.Text(), nullable=True),
        sa.Column("camera_id", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("snapshot_path", sa.String(length=1024), nullable=True),
        sa.Column("reported_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("en_route_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "response_units",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("status_changed_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_units")),
    )
    op.create_table(
        "incident_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=32), nullable=False),
        sa.Column("dispatched_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_by", sa.String(length=64), nullable=False),
        sa.Column("recommended_unit_id", sa.String(length=32), nullable=True),
        sa.Column("en_route_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_at", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_assignments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["response_units.id"], name=op.f("fk_incident_assignments_unit_id_response_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_assignments")),
    )
    op.create_table(
        "incident_clips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("start", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("release_after", oversight.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["evidence_holds.id"], name=op.f("fk_incident_clips_hold_id_evidence_holds")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_clips_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_clips")),
    )
    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", oversight.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_timeline_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_timeline")),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"], unique=False)
    op.create_index("ix_incidents_reported_at", "incidents", ["reported_at"], unique=False)
    op.create_index("ix_incidents_event_id", "incidents", ["event_id"], unique=False)
    op.create_index("ix_response_units_status", "response_units", ["status"], unique=False)
    op.create_index(
        op.f("ix_incident_assignments_incident_id"), "incident_assignments", ["incident_id"], unique=False
    )
    op.create_index(
        "uq_incident_assignments_active_unit",
        "incident_assignments",
        ["unit_id"],
        unique=True,
        sqlite_where=sa.text("released_at IS NULL"),
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index(op.f("ix_incident_clips_incident_id"), "incident_clips", ["incident_id"], unique=False)
    op.create_index(
        op.f("ix_incident_timeline_incident_id"), "incident_timeline", ["incident_id"], unique=False
    )


def downgrade() -> None:
    for name in (
        "incident_timeline",
        "incident_clips",
        "incident_assignments",
        "response_units",
        "incidents",
    ):
        op.drop_table(name)
