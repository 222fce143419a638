"""Per-camera rules: turn tracks into ``Condition``s ("this rule is in alarm for this object now").

Every rule uses an object's bottom-centre (``Track.anchor``) as its position, i.e. where it
stands. Coordinates are detect-frame pixels, as in the config. Rules only say what is true in
this frame; the event store turns conditions into event starts/updates/ends with a hold-off.

* zone: an object of the rule's classes inside the polygon (during the schedule).
* line: an object's anchor crossed the line segment since the previous frame, in the allowed
  direction. Side "a" is the left of someone walking from the first point to the second as
  seen on screen. Momentary; ``counts`` keeps totals per direction.
* dwell: an object stayed in the polygon for at least ``seconds``.
* crowd: more than ``max_count`` objects in the polygon at once (one condition for the rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from oversight.analytics.geometry import point_in_polygon, segments_intersect, side_of_line
from oversight.analytics.types import Condition, Track
from oversight.config.schema import AnyRule, CrowdRule, DwellRule, LineRule, Schedule, ZoneRule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hhmm(s: str) -> time | None:
    h, m = (int(p) for p in s.split(":"))
    return None if h == 24 else time(h, m)  # None = end of day


def schedule_active(schedule: Schedule | None, ts: datetime, tz: ZoneInfo) -> bool:
    """Whether ``ts`` falls in the schedule, read in the site time zone. A window whose end is
    before its start runs overnight and belongs to the day it starts on."""
    if schedule is None:
        return True
    local = ts.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    start, end = _hhmm(schedule.start) or time(0, 0), _hhmm(schedule.end)
    day = DAYS[local.weekday()]
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    if end is None or start < end:
        return day in schedule.days and start <= t and (end is None or t < end)
    if start == end:  # "00:00"-"00:00" style: all day
        return day in schedule.days
    return (day in schedule.days and t >= start) or (yesterday in schedule.days and t < end)


class RuleEngine:
    """Holds per-rule state (line sides, dwell entry times, counts) across frames."""

    def __init__(self, rules: Sequence[AnyRule], timezone: str = "UTC"):
        self.rules = list(rules)
        self.tz = ZoneInfo(timezone)
        self._last_side: dict[tuple[str, int], tuple[float, tuple[float, float]]] = {}
        self._entered: dict[tuple[str, int], datetime] = {}
        self.counts: dict[str, dict[str, int]] = {
            r.id: {"a_to_b": 0, "b_to_a": 0} for r in self.rules if isinstance(r, LineRule)
        }

    @property
    def has_state(self) -> bool:
        """Whether per-track state is held (it must be cleared once the tracks are gone)."""
        return bool(self._last_side or self._entered)

    def evaluate(self, tracks: Sequence[Track], ts: datetime) -> list[Condition]:
        out: list[Condition] = []
        for rule in self.rules:
            active = bool(tracks) and schedule_active(rule.schedule, ts, self.tz)
            mine = [t for t in tracks if t.label in rule.classes] if active else []
            if isinstance(rule, ZoneRule):
                out.extend(self._zone(rule, mine))
            elif isinstance(rule, LineRule):
                out.extend(self._line(rule, mine, active))
            elif isinstance(rule, DwellRule):
                out.extend(self._dwell(rule, mine, ts))
            else:
                out.extend(self._crowd(rule, mine))
        return out

    def _zone(self, rule: ZoneRule, tracks: Sequence[Track]) -> list[Condition]:
        return [
            Condition(rule.id, "zone", t.label, t.track_id, t.confidence, t.box)
            for t in tracks
            if point_in_polygon(t.anchor, rule.polygon)
        ]

    def _line(self, rule: LineRule, tracks: Sequence[Track], active: bool) -> list[Condition]:
        a, b = rule.line
        out = []
        seen = set()
        for t in tracks:
            key = (rule.id, t.track_id)
            seen.add(key)
            p = t.anchor
            s = side_of_line(p, a, b)
            prev = self._last_side.get(key)
            if s == 0:  # on the line: wait until it is clearly on one side
                continue
            self._last_side[key] = (s, p)
            if prev is None or (prev[0] < 0) == (s < 0) or not segments_intersect(prev[1], p, a, b):
                continue
            direction = "a_to_b" if prev[0] < 0 else "b_to_a"
            self.counts[rule.id][direction] += 1
            if rule.direction in ("any", direction):
                data = {"direction": direction, "counts": dict(self.counts[rule.id])}
                out.append(Condition(rule.id, "line", t.label, t.track_id, t.confidence, t.box, True, data))
        for key in [k for k in self._last_side if k[0] == rule.id and k not in seen]:
            del self._last_side[key]  # track gone (or schedule off): forget its side
        return out

    def _dwell(self, rule: DwellRule, tracks: Sequence[Track], ts: datetime) -> list[Condition]:
        out = []
        inside = set()
        for t in tracks:
            if not point_in_polygon(t.anchor, rule.polygon):
                continue
            key = (rule.id, t.track_id)
            inside.add(key)
            since = self._entered.setdefault(key, ts)
            dwelt = (ts - since).total_seconds()
            if dwelt >= rule.seconds:
                data = {"seconds": round(dwelt, 1), "since": since.isoformat()}
                out.append(Condition(rule.id, "dwell", t.label, t.track_id, t.confidence, t.box, data=data))
        for key in [k for k in self._entered if k[0] == rule.id and k not in inside]:
            del self._entered[key]
        return out

    def _crowd(self, rule: CrowdRule, tracks: Sequence[Track]) -> list[Condition]:
        inside = [t for t in tracks if point_in_polygon(t.anchor, rule.polygon)]
        if len(inside) <= rule.max_count:
            return []
        conf = max(t.confidence for t in inside)
        x1 = min(t.box[0] for t in inside)
        y1 = min(t.box[1] for t in inside)
        x2 = max(t.box[2] for t in inside)
        y2 = max(t.box[3] for t in inside)
        data = {"count": len(inside), "max_count": rule.max_count, "track_ids": [t.track_id for t in inside]}
        return [Condition(rule.id, "crowd", "crowd", None, conf, (x1, y1, x2, y2), data=data)]
