"""Response-time reports: percentiles by type, priority, district and period; CSV; an SVG chart;
and ``incident_summary`` for the transparency report.

Percentiles use linear interpolation between closest ranks (numpy's default), over incidents whose
call time (``reported_at``) falls in [start, end). A step counts only when both of its timestamps
exist, so a cancelled call never pulls the travel-time numbers down.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import datetime
from html import escape
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.incidents import IncidentSettings
from oversight.i18n import N_, _
from oversight.incidents.models import Incident
from oversight.incidents.timers import STEPS, step_durations

# the chart's words for steps and groupings (translated where the chart is drawn)
CHART_WORDS = (
    N_("dispatch"),
    N_("turnout"),
    N_("travel"),
    N_("total"),
    N_("type"),
    N_("priority"),
    N_("district"),
    N_("period"),
)

GROUPS = ("type", "priority", "district", "period")
PERIODS = ("day", "week", "month")
STEP_NAMES = tuple(s[0] for s in STEPS)


def _incidents(session: Session, start: datetime, end: datetime) -> list[Incident]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("report start and end need a time zone (use UTC)")
    if not start < end:
        raise ValueError("report start must be before end")
    q = (
        select(Incident)
        .where(Incident.reported_at >= start, Incident.reported_at < end)
        .order_by(Incident.reported_at)
    )
    return list(session.scalars(q))


def _period_key(t: datetime, period: str) -> str:
    if period == "day":
        return t.strftime("%Y-%m-%d")
    if period == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    return t.strftime("%Y-%m")


def _pct(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p90": None}
    arr = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(arr, 50)), 1),
        "p90": round(float(np.percentile(arr, 90)), 1),
    }


def _stats(incs: list[Incident], settings: IncidentSettings | None) -> dict[str, Any]:
    per_step: dict[str, list[float]] = {s: [] for s in STEP_NAMES}
    met: Counter[str] = Counter()
    for inc in incs:
        for step, sec in step_durations(inc).items():
            if sec is not None:
                per_step[step].append(sec)
                if settings is not None and sec <= float(getattr(settings.target(inc.priority), step)):
                    met[step] += 1
    out: dict[str, Any] = {"count": len(incs), "steps": {}}
    for step, vals in per_step.items():
        st = _pct(vals)
        if settings is not None:
            st["within_target_pct"] = round(100.0 * met[step] / len(vals), 1) if vals else None
        out["steps"][step] = st
    return out


def response_report(
    session: Session,
    start: datetime,
    end: datetime,
    group_by: str = "type",
    period: str = "day",
    settings: IncidentSettings | None = None,
) -> dict[str, Any]:
    """Counts and p50/p90 seconds of every step, overall and per group."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    settings = settings or IncidentSettings()
    incs = _incidents(session, start, end)
    groups: dict[str, list[Incident]] = defaultdict(list)
    for inc in incs:
        key = _period_key(inc.reported_at, period) if group_by == "period" else getattr(inc, group_by)
        groups[key or "(none)"].append(inc)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group_by": group_by,
        "period": period if group_by == "period" else None,
        "overall": _stats(incs, settings),
        "groups": [{"key": k, **_stats(v, settings)} for k, v in sorted(groups.items())],
    }


CSV_FIELDS = (
    "id",
    "type",
    "priority",
    "district",
    "status",
    "disposition",
    "source",
    "reported_at",
    "dispatched_at",
    "en_route_at",
    "on_scene_at",
    "cleared_at",
    "closed_at",
    *(f"{s}_s" for s in STEP_NAMES),
)


def incidents_csv(session: Session, start: datetime, end: datetime) -> str:
    """One line per incident with its timestamps and step durations in seconds."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for inc in _incidents(session, start, end):
        d = step_durations(inc)
        row: list[Any] = [
            inc.id,
            inc.type,
            inc.priority,
            inc.district or "",
            inc.status,
            inc.disposition or "",
            inc.source,
        ]
        for attr in ("reported_at", "dispatched_at", "en_route_at", "on_scene_at", "cleared_at", "closed_at"):
            v = getattr(inc, attr)
            row.append(v.isoformat() if v else "")
        row += ["" if d[s] is None else f"{d[s]:.1f}" for s in STEP_NAMES]
        w.writerow(row)
    return buf.getvalue()


def report_csv(report: dict[str, Any]) -> str:
    """The grouped report as CSV: one line per group and step."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["group_by", "key", "count", "step", "n", "p50_s", "p90_s", "within_target_pct"])
    for g in [{"key": "(all)", **report["overall"]}, *report["groups"]]:
        for step, st in g["steps"].items():
            w.writerow(
                [
                    report["group_by"],
                    g["key"],
                    g["count"],
                    step,
                    st["n"],
                    "" if st["p50"] is None else st["p50"],
                    "" if st["p90"] is None else st["p90"],
                    "" if st.get("within_target_pct") is None else st["within_target_pct"],
                ]
            )
    return buf.getvalue()


def report_svg(report: dict[str, Any], step: str = "total", width: int = 640) -> str:
    """A horizontal bar chart of p50 and p90 seconds of one step per group, as inline SVG."""
    rows = [(g["key"], g["steps"][step]["p50"], g["steps"][step]["p90"]) for g in report["groups"]]
    rows = [r for r in rows if r[1] is not None]
    bar_h, gap, left, top = 14, 10, 150, 28
    height = top + max(1, len(rows)) * (2 * bar_h + gap) + 20
    vmax = max([r[2] for r in rows] + [1.0])
    scale = (width - left - 70) / vmax
    words = {"step": _(step), "group": _(report["group_by"])}
    label = escape(_("{step} response time p50 and p90 by {group}", **words))
    heading = escape(_("{step} seconds by {group}", **words))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="8" y="16" fill="#ccc">{heading}: '
        '<tspan fill="#5b9bd5">p50</tspan> / <tspan fill="#e0a040">p90</tspan></text>',
    ]
    if not rows:
        none = escape(_("no finished responses in this period"))
        parts.append(f'<text x="8" y="{top + 14}" fill="#999">{none}</text>')
    for i, (key, p50, p90) in enumerate(rows):
        y = top + i * (2 * bar_h + gap)
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h + 4}" text-anchor="end" fill="#ddd">'
            f"{escape(str(key))}</text>"
        )
        for j, (val, color) in enumerate(((p50, "#5b9bd5"), (p90, "#e0a040"))):
            yy = y + j * bar_h
            parts.append(
                f'<rect x="{left}" y="{yy}" width="{max(1.0, val * scale):.1f}" height="{bar_h - 2}" '
                f'fill="{color}"><title>{escape(str(key))}: {val:.0f} s</title></rect>'
            )
            parts.append(
                f'<text x="{left + val * scale + 4:.1f}" y="{yy + bar_h - 3}" fill="#bbb">{val:.0f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def incident_summary(
    session: Session, start: datetime, end: datetime, settings: IncidentSettings | None = None
) -> dict[str, Any]:
    """What the transparency report publishes about emergency response in [start, end): counts by type,
    priority, source and disposition, and p50/p90 of every response step. No personal data."""
    incs = _incidents(session, start, end)
    stats = _stats(incs, settings or IncidentSettings())
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "count": len(incs),
        "open": sum(1 for i in incs if i.status != "closed"),
        "by_type": dict(Counter(i.type for i in incs)),
        "by_priority": dict(Counter(i.priority for i in incs)),
        "by_source": dict(Counter(i.source for i in incs)),
        "by_disposition": dict(Counter(i.disposition for i in incs if i.disposition)),
        "from_alerts": sum(1 for i in incs if i.source == "alert"),
        "response_seconds": stats["steps"],
    }
