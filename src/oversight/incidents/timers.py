"""Response timers: the four intervals emergency services are judged by, against per-priority targets.

Step           from          to            NFPA name
dispatch       reported_at   dispatched_at alarm processing (call to dispatch)
turnout        dispatched_at en_route_at   turnout time
travel         en_route_at   on_scene_at   travel time
total          reported_at   on_scene_at   total response
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oversight.config.incidents import IncidentSettings
from oversight.incidents.models import Incident
from oversight.store.base import utcnow

STEPS: tuple[tuple[str, str, str, str], ...] = (
    ("dispatch", "Call → dispatch", "reported_at", "dispatched_at"),
    ("turnout", "Dispatch → en route", "dispatched_at", "en_route_at"),
    ("travel", "En route → on scene", "en_route_at", "on_scene_at"),
    ("total", "Total response", "reported_at", "on_scene_at"),
)


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds(), 3)


def step_durations(inc: Incident) -> dict[str, float | None]:
    """Finished step durations in seconds (None where the step has not finished)."""
    return {name: seconds_between(getattr(inc, start), getattr(inc, end)) for name, _, start, end in STEPS}


def timers(inc: Incident, settings: IncidentSettings, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every step with its start, end, elapsed seconds, target and whether it is overdue.

    A step that has started but not finished keeps running while the incident is active; once the
    incident is cleared or closed an unfinished step stops counting (it will never finish).
    """
    now = now or utcnow()
    target = settings.target(inc.priority)
    active = inc.status not in ("cleared", "closed")
    out = []
    for name, label, start_attr, end_attr in STEPS:
        start, end = getattr(inc, start_attr), getattr(inc, end_attr)
        limit = float(getattr(target, name))
        running = start is not None and end is None and active
        if start is None:
            elapsed = None
        elif end is not None:
            elapsed = seconds_between(start, end)
        elif running:
            elapsed = seconds_between(start, now)
        else:
            elapsed = None
        out.append(
            {
                "step": name,
                "label": label,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
                "seconds": elapsed,
                "target": limit,
                "running": running,
                "overdue": elapsed is not None and elapsed > limit,
            }
        )
    return out
