"""JSON shapes of incidents, units and timeline entries: one place, used by the API, the bus,
webhooks and MQTT alike (documented in docs/incidents.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oversight.config.incidents import IncidentSettings
from oversight.incidents.models import (
    Assignment,
    Incident,
    IncidentClip,
    IncidentEntry,
    ResponseUnit,
    Station,
)
from oversight.incidents.timers import step_durations, timers


def iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def incident_dict(inc: Incident, settings: IncidentSettings, now: datetime | None = None) -> dict[str, Any]:
    t = settings.type(inc.type)
    return {
        "id": inc.id,
        "type": inc.type,
        "type_label": t.label if t else inc.type,
        "priority": inc.priority,
        "status": inc.status,
        "source": inc.source,
        "location": {"lat": inc.lat, "lon": inc.lon, "x": inc.x, "y": inc.y, "address": inc.address},
        "district": inc.district,
        "description": inc.description,
        "notes": inc.notes,
        "caller": {"name": inc.caller_name, "phone": inc.caller_phone, "account": inc.caller_account},
        "camera_id": inc.camera_id,
        "event_id": inc.event_id,
        "has_snapshot": bool(inc.snapshot_path),
        "snapshot_url": (  # webhooks and MQTT get the API route, never the server's file path
            f"/api/events/{inc.event_id}/thumbnail.jpg" if inc.event_id and inc.snapshot_path else None
        ),
        "reported_at": iso(inc.reported_at),
        "created_at": iso(inc.created_at),
        "created_by": inc.created_by,
        "updated_at": iso(inc.updated_at),
        "dispatched_at": iso(inc.dispatched_at),
        "en_route_at": iso(inc.en_route_at),
        "on_scene_at": iso(inc.on_scene_at),
        "cleared_at": iso(inc.cleared_at),
        "closed_at": iso(inc.closed_at),
        "disposition": inc.disposition,
        "durations": step_durations(inc),
        "timers": timers(inc, settings, now),
    }


def unit_dict(u: ResponseUnit) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "type": u.type,
        "status": u.status,
        "station": u.station,
        "location": {"lat": u.lat, "lon": u.lon, "x": u.x, "y": u.y},
        "location_at": iso(u.location_at),  # None: the configured position, not a live one
        "incident_id": u.incident_id,
        "status_changed_at": iso(u.status_changed_at),
        "on_duty": u.on_duty is not False,  # None before the first flush: the column's default
        "retired": u.retired_at is not None,
        "retired_at": iso(u.retired_at),
    }


def station_dict(st: Station) -> dict[str, Any]:
    return {"id": st.id, "name": st.name, "location": {"lat": st.lat, "lon": st.lon, "x": st.x, "y": st.y}}


def entry_dict(e: IncidentEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "actor": e.actor,
        "kind": e.kind,
        "message": e.message,
        "detail": e.detail,
    }


def assignment_dict(a: Assignment) -> dict[str, Any]:
    return {
        "id": a.id,
        "incident_id": a.incident_id,
        "unit_id": a.unit_id,
        "dispatched_at": iso(a.dispatched_at),
        "dispatched_by": a.dispatched_by,
        "recommended_unit_id": a.recommended_unit_id,
        "en_route_at": iso(a.en_route_at),
        "on_scene_at": iso(a.on_scene_at),
        "released_at": iso(a.released_at),
    }


def clip_dict(c: IncidentClip) -> dict[str, Any]:
    return {
        "id": c.id,
        "camera_id": c.camera_id,
        "start": iso(c.start),
        "end": iso(c.end),
        "hold_id": c.hold_id,
        "note": c.note,
        "added_by": c.added_by,
        "added_at": iso(c.added_at),
        "release_after": iso(c.release_after),
    }
