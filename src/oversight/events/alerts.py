"""Alarm discipline: turns event lifecycle messages into alerts; one open alert per situation.

Invariants:
* Only rules with ``alert: true`` raise alerts; events of other rules, and "object" events of
  cameras without rules, are recorded and searchable but never alert.
* A situation is one rule on one camera (zone and crowd: while the zone stays occupied; dwell: one
  track; line: while crossings in ``per_minutes`` stay above ``alert_above``). Its events update
  one alert row; a recurrence within the rule's ``cooldown_s`` after the situation ended updates
  the same alert again.
* Storm control: beyond ``alarms.storm_per_minute`` new alerts a minute on one camera, further
  new situations fold into one "storm" alert for that camera that says how many it holds.
* An alert left unacknowledged past ``alarms.escalate_after_s[priority]`` escalates once: its
  priority rises one step and it is announced again.
* Health problems are alerts of kind "health", one per (camera, problem), that close (end and are
  acknowledged by "system") when the problem is resolved.

Every change is written to the ``alerts`` table and published on the bus topic ``"alert"`` with a
``phase`` (open, update, end, escalate, ack) so the web socket and MQTT follow. ``observe`` is
called on camera threads and ``tick`` on the manager's own thread; one lock serialises them.
Situations live in memory and are rebuilt from the ``alerts`` table at ``start`` (``restore``), so
the same situation after a restart updates its open alert instead of opening a new one: health
alerts stay open until the health check clears them, storms keep grouping, and a rule alert that
was open ends at the restart (its tracks died with the old process) but is taken up again by a
recurrence within ``max(cooldown_s, RESTART_GRACE_S)``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from oversight.config.schema import PRIORITIES, AnyRule, CameraConfig, LineRule, Priority, SiteConfig
from oversight.events import topics
from oversight.events.bus import EventBus
from oversight.events.models import Alert
from oversight.i18n import N_, Message, Translator
from oversight.store.base import utcnow
from oversight.store.db import Database

log = logging.getLogger(__name__)

STORM_WINDOW_S = 60.0
RESTART_GRACE_S = 60.0  # a rule situation interrupted by a restart continues if it recurs within this
Key = tuple[str | None, str, int | None]  # (camera, rule id or "storm"/"health:<code>", track)


@dataclass
class Situation:
    alert_id: int
    priority: str
    cooldown_s: float
    open_events: set[int] = field(default_factory=set)
    ended: datetime | None = None  # None while the situation lasts
    last: datetime | None = None  # newest occurrence (storm: newest grouped alert)


def alert_dict(a: Alert) -> dict[str, Any]:
    """The JSON shape of an alert, for the API and the bus."""

    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "id": a.id,
        "kind": a.kind,
        "camera_id": a.camera_id,
        "rule_id": a.rule_id,
        "priority": a.priority,
        "sound": a.sound,
        "title": a.title,
        "title_msgid": a.title_msgid,
        "title_params": a.title_params,
        "event_id": a.event_id,
        "last_event_id": a.last_event_id,
        "occurrences": a.occurrences,
        "opened_at": iso(a.opened_at),
        "updated_at": iso(a.updated_at),
        "ended_at": iso(a.ended_at),
        "escalated_at": iso(a.escalated_at),
        "acknowledged_at": iso(a.acknowledged_at),
        "acknowledged_by": a.acknowledged_by,
        "ack_reason": a.ack_reason,
        "ack_cause": a.ack_cause,
        "ack_note": a.ack_note,
        "thumbnail": f"/api/events/{a.event_id}/thumbnail.jpg" if a.event_id else None,
        "data": dict(a.data or {}),
    }


def localized(d: dict[str, Any], tr: Translator) -> dict[str, Any]:
    """An ``alert_dict`` (or bus message) with ``title`` in ``tr``'s language; an alert from before
    titles were stored as msgids keeps its English title."""
    msgid = d.get("title_msgid")
    if not isinstance(msgid, str):
        return d
    return {**d, "title": Message.from_json(msgid, d.get("title_params")).translate(tr)}


def _set_title(a: Alert, title: Message) -> None:
    a.title = str(title)[:255]
    data = title.jsonable()
    a.title_msgid, a.title_params = data["msgid"], data["params"]


def _ts(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return default
    return default


def _on(what: Message, cam: CameraConfig) -> Message:
    return Message(N_("{what} on {camera}"), {"what": what, "camera": cam.display_name})


# the classes a detector reports, for the catalogue (an alert's title names the class)
CLASS_NAMES = (N_("person"), N_("car"), N_("truck"), N_("bus"), N_("bicycle"), N_("motorcycle"), N_("object"))


def _raise(priority: str) -> Priority:
    i = PRIORITIES.index(priority) if priority in PRIORITIES else 2
    return PRIORITIES[max(0, i - 1)]


class AlertManager:
    def __init__(
        self,
        cfg: SiteConfig,
        db: Database,
        bus: EventBus,
        clock: Callable[[], datetime] = utcnow,
        server_alerts: bool = True,
        health_only: bool = False,
    ):
        """``server_alerts``: this manager also escalates alerts of no camera (one per site: a
        cluster's camera hosts each run a manager for their own camera only). ``health_only``: a
        cluster head's manager, which raises health alerts for every camera but leaves the cameras'
        alerts to their hosts' managers: it restores only health situations and escalates only
        alerts of no camera."""
        self.cfg, self.db, self.bus, self.clock = cfg, db, bus, clock
        self.server_alerts, self.health_only = server_alerts, health_only
        self._lock = threading.RLock()
        self._situations: dict[Key, Situation] = {}
        self._opens: dict[str, deque[datetime]] = {}  # camera -> times of alerts opened (storm control)
        self._line_hits: dict[tuple[str, str], deque[datetime]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, interval_s: float = 1.0) -> None:
        if self._thread is not None:
            return
        try:
            self.restore()
        except Exception:  # an unreadable history must not stop alerting
            log.exception("could not restore open alert situations")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), name="alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.tick(self.clock())
            except Exception:  # a database blip must not end escalation for good
                log.exception("alert tick failed")

    def _mine(self, escalating: bool = False) -> ColumnElement[bool]:
        """This manager's alerts: its cameras', and the server's when it handles those."""
        if self.health_only:
            return Alert.camera_id.is_(None) if escalating else Alert.kind == "health"
        mine: ColumnElement[bool] = Alert.camera_id.in_([c.id for c in self.cfg.cameras])
        return or_(mine, Alert.camera_id.is_(None)) if self.server_alerts else mine

    def restore(self) -> int:
        """Rebuild open situations (and storm-control counts) from the alerts table; returns how
        many situations were taken up. Called by ``start``; safe to call on an empty table."""
        now = self.clock()
        longest = max(
            [RESTART_GRACE_S, STORM_WINDOW_S] + [r.cooldown_s for c in self.cfg.cameras for r in c.rules]
        )
        horizon = now - timedelta(seconds=longest)
        ended: list[int] = []
        with self._lock, self.db.session() as s:
            rows = s.scalars(
                select(Alert)
                .where(self._mine(), or_(Alert.ended_at.is_(None), Alert.ended_at >= horizon))
                .order_by(Alert.id)
            )
            for a in rows:
                found = self._restored(a, now)
                if found is None:
                    continue
                key, sit = found
                self._situations[key] = sit
                if (
                    a.kind == "rule"
                    and a.camera_id
                    and a.opened_at >= now - timedelta(seconds=STORM_WINDOW_S)
                ):
                    self._opens.setdefault(a.camera_id, deque()).append(a.opened_at)
                if a.kind == "rule" and a.ended_at is None:
                    ended.append(a.id)
        for alert_id in ended:  # its tracks ended with the old process
            self._write(alert_id, "end", ended_at=now, updated_at=now)
        return len(self._situations)

    def _restored(self, a: Alert, now: datetime) -> tuple[Key, Situation] | None:
        """The in-memory situation of one stored alert, or None when it is over for good."""
        if a.kind == "health":
            if a.ended_at is not None or a.rule_id is None:
                return None
            return (a.camera_id, "health:" + a.rule_id, None), Situation(
                a.id, a.priority, 0.0, last=a.updated_at
            )
        if a.kind == "storm":
            key: Key = (a.camera_id, "storm", None)
            return key, Situation(a.id, a.priority, STORM_WINDOW_S, ended=a.ended_at, last=a.updated_at)
        cam = self._camera(str(a.camera_id))
        rule = next((r for r in cam.rules if r.id == a.rule_id), None) if cam else None
        if cam is None or rule is None:
            return None  # the rule is gone from the config
        track = (a.data or {}).get("track") if rule.type == "dwell" else None
        cooldown = max(rule.cooldown_s, RESTART_GRACE_S)
        sit = Situation(a.id, a.priority, cooldown, ended=a.ended_at or now, last=a.updated_at)
        return (cam.id, rule.id, track if isinstance(track, int) else None), sit

    # -- events in ---------------------------------------------------------------------------
    def _camera(self, camera_id: str) -> CameraConfig | None:
        return next((c for c in self.cfg.cameras if c.id == camera_id), None)

    def observe(self, msg: dict[str, Any]) -> None:
        """One event lifecycle message (phase start|update|end) from a camera's EventRecorder."""
        cam = self._camera(str(msg.get("camera_id")))
        rule = next((r for r in cam.rules if r.id == msg.get("rule_id")), None) if cam else None
        if cam is None or rule is None or not rule.alert:
            return  # detections are not alerts
        phase = msg.get("phase")
        now = _ts(msg.get("end") if phase == "end" else msg.get("start"), self.clock())
        eid = msg.get("id")
        with self._lock:
            if isinstance(rule, LineRule):
                if phase == "start":
                    self._line_hit(cam, rule, msg, now)
                return
            track = msg.get("track_id") if rule.type == "dwell" else None
            key: Key = (cam.id, rule.id, track)
            if phase == "start":
                label = str(msg.get("label") or "object")
                what = Message(
                    N_("{label} · {rule_type} '{rule}'"),
                    {"label": Message(label), "rule_type": Message(rule.type), "rule": rule.id},
                )
                self._occurrence(key, cam, rule, what, eid, now)
            elif phase == "end":
                sit = self._situations.get(key)
                if sit is not None and isinstance(eid, int) and eid in sit.open_events:
                    sit.open_events.discard(eid)
                    if not sit.open_events:
                        sit.ended = now
                        self._write(sit.alert_id, "end", ended_at=now, updated_at=now)

    def _line_hit(self, cam: CameraConfig, rule: LineRule, msg: dict[str, Any], now: datetime) -> None:
        hits = self._line_hits.setdefault((cam.id, rule.id), deque())
        hits.append(now)
        window = timedelta(minutes=rule.per_minutes)
        while hits and hits[0] <= now - window:
            hits.popleft()
        if rule.alert_above is None or len(hits) <= rule.alert_above:
            return
        what = Message(
            N_("{n} crossings of line '{rule}' in {minutes} min (above {above})"),
            {"n": len(hits), "rule": rule.id, "minutes": f"{rule.per_minutes:g}", "above": rule.alert_above},
        )
        key: Key = (cam.id, rule.id, None)
        self._occurrence(key, cam, rule, what, None, now)
        sit = self._situations.get(key)
        if sit is not None and sit.ended is None:  # not folded into a storm
            self._write(sit.alert_id, None, data={"crossings": len(hits)}, title=_on(what, cam))

    def _occurrence(
        self,
        key: Key,
        cam: CameraConfig,
        rule: AnyRule,
        what: Message,
        eid: Any,
        now: datetime,
    ) -> None:
        rule_id, priority, cooldown_s = rule.id, rule.priority, rule.cooldown_s
        sit = self._situations.get(key)
        if sit is not None and (sit.ended is None or (now - sit.ended).total_seconds() <= sit.cooldown_s):
            if isinstance(eid, int):
                sit.open_events.add(eid)
            sit.ended, sit.last = None, now
            self._write(sit.alert_id, "update", bump=True, last_event_id=eid, updated_at=now, ended_at=None)
            return
        opens = self._opens.setdefault(cam.id, deque())
        while opens and (now - opens[0]).total_seconds() >= STORM_WINDOW_S:
            opens.popleft()
        if len(opens) >= self.cfg.alarms.storm_per_minute:
            self._storm(cam, rule_id, priority, now)
            return
        opens.append(now)
        title = _on(what, cam)
        data = {"track": key[2]} if key[2] is not None else None  # restore() finds the situation again
        alert_id = self._open("rule", cam.id, rule_id, priority, rule.sound, title, eid, now, data)
        self._situations[key] = Situation(
            alert_id, priority, cooldown_s, {eid} if isinstance(eid, int) else set(), None, now
        )

    def _storm(self, cam: CameraConfig, rule_id: str, priority: Priority, now: datetime) -> None:
        key: Key = (cam.id, "storm", None)
        sit = self._situations.get(key)
        if sit is None or sit.ended is not None:
            n = self.cfg.alarms.storm_per_minute
            title = Message(
                N_("Alert storm on {camera}: over {n} alerts a minute, further ones grouped here"),
                {"camera": cam.display_name, "n": n},
            )
            alert_id = self._open("storm", cam.id, None, priority, None, title, None, now, {"rules": {}})
            sit = self._situations[key] = Situation(alert_id, priority, STORM_WINDOW_S, last=now)
            self._add_to_storm(sit, rule_id, priority, now, bump=False)
            return
        self._add_to_storm(sit, rule_id, priority, now, bump=True)

    def _add_to_storm(
        self, sit: Situation, rule_id: str, priority: Priority, now: datetime, bump: bool
    ) -> None:
        sit.last = now
        with self.db.session() as s:
            a = s.get(Alert, sit.alert_id)
            if a is None:
                return
            rules = dict((a.data or {}).get("rules", {}))
            rules[rule_id] = rules.get(rule_id, 0) + 1
            a.data = {**(a.data or {}), "rules": rules, "grouped": sum(rules.values())}
            if bump:
                a.occurrences += 1
            if PRIORITIES.index(priority) < PRIORITIES.index(a.priority):
                a.priority = priority
            a.updated_at = now
            msg = alert_dict(a)
        self._publish("update", msg)

    # -- health ------------------------------------------------------------------------------
    def raise_health(
        self, camera_id: str | None, code: str, title: str | Message, priority: Priority = "P2"
    ) -> int:
        """Open (or keep) the health alert for ``code`` on a camera (None: the server); returns its id."""
        now = self.clock()
        key: Key = (camera_id, "health:" + code, None)
        with self._lock:
            sit = self._situations.get(key)
            if sit is not None and sit.ended is None:
                return sit.alert_id
            text = title if isinstance(title, Message) else Message(title)
            alert_id = self._open("health", camera_id, code, priority, None, text, None, now)
            self._situations[key] = Situation(alert_id, priority, 0.0, last=now)
            return alert_id

    def clear_health(self, camera_id: str | None, code: str) -> None:
        """The problem is resolved: the alert ends and is acknowledged by the system if nobody did."""
        now = self.clock()
        with self._lock:
            sit = self._situations.pop((camera_id, "health:" + code, None), None)
            if sit is None:
                return
            with self.db.session() as s:
                a = s.get(Alert, sit.alert_id)
                if a is None:
                    return
                a.ended_at = a.updated_at = now
                if a.acknowledged_at is None:
                    a.acknowledged_at, a.acknowledged_by, a.ack_reason = now, "system", "resolved"
                msg = alert_dict(a)
            self._publish("end", msg)

    def open_health(self) -> set[tuple[str | None, str]]:
        with self._lock:
            return {(k[0], k[1][7:]) for k, s in self._situations.items() if k[1].startswith("health:")}

    # -- time --------------------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        """Line windows and storms that have calmed end; situations past their cooldown are
        forgotten; unacknowledged alerts past their priority's time escalate."""
        with self._lock:
            for (cam_id, rule_id), hits in list(self._line_hits.items()):
                rule = self._line_rule(cam_id, rule_id)
                window = timedelta(minutes=rule.per_minutes if rule else 60.0)
                while hits and hits[0] <= now - window:
                    hits.popleft()
                sit = self._situations.get((cam_id, rule_id, None))
                above = rule is not None and rule.alert_above is not None and len(hits) > rule.alert_above
                if sit is not None and sit.ended is None and not above:
                    sit.ended = now
                    self._write(sit.alert_id, "end", ended_at=now, updated_at=now)
            for key, sit in list(self._situations.items()):
                calm = sit.last is not None and (now - sit.last).total_seconds() >= STORM_WINDOW_S
                if key[1] == "storm" and sit.ended is None and calm:
                    sit.ended = now
                    self._write(sit.alert_id, "end", ended_at=now, updated_at=now)
                if sit.ended is not None and (now - sit.ended).total_seconds() > sit.cooldown_s:
                    del self._situations[key]
            self._escalate(now)

    def _line_rule(self, camera_id: str, rule_id: str) -> LineRule | None:
        cam = self._camera(camera_id)
        rule = next((r for r in cam.rules if r.id == rule_id), None) if cam else None
        return rule if isinstance(rule, LineRule) else None

    def _escalate(self, now: datetime) -> None:
        msgs = []
        with self.db.session() as s:
            for prio, after in self.cfg.alarms.escalate_after_s.items():
                mine = self._mine(escalating=True)
                rows = s.scalars(
                    select(Alert).where(
                        Alert.acknowledged_at.is_(None),
                        Alert.escalated_at.is_(None),
                        Alert.priority == prio,
                        Alert.opened_at <= now - timedelta(seconds=after),
                        mine,
                    )
                )
                for a in rows:
                    a.escalated_at, a.updated_at = now, now
                    a.data = {**(a.data or {}), "priority_before": a.priority}
                    a.priority = _raise(a.priority)
                    a.sound = self.cfg.alarms.sounds.get(a.priority, a.sound)
                    msgs.append(alert_dict(a))
        for m in msgs:
            self._publish("escalate", m)

    # -- database and bus --------------------------------------------------------------------
    def _open(
        self,
        kind: str,
        camera_id: str | None,
        rule_id: str | None,
        priority: Priority,
        sound: str | None,
        title: Message,
        eid: Any,
        now: datetime,
        data: dict[str, Any] | None = None,
    ) -> int:
        eid = eid if isinstance(eid, int) else None
        with self.db.session() as s:
            a = Alert(
                kind=kind,
                camera_id=camera_id,
                rule_id=rule_id,
                priority=priority,
                sound=sound or self.cfg.alarms.sounds.get(priority, "beep"),
                event_id=eid,
                last_event_id=eid,
                occurrences=1,
                opened_at=now,
                updated_at=now,
                data=data or {},
            )
            _set_title(a, title)
            s.add(a)
            s.flush()
            msg = alert_dict(a)
        self._publish("open", msg)
        return int(msg["id"])

    def _write(self, alert_id: int, phase: str | None, bump: bool = False, **values: Any) -> None:
        if values.get("last_event_id", 0) is None:
            values.pop("last_event_id")
        with self.db.session() as s:
            a = s.get(Alert, alert_id)
            if a is None:
                return
            for k, v in values.items():
                if k == "title":
                    _set_title(a, v)
                else:
                    setattr(a, k, v)
            if bump:
                a.occurrences += 1
            msg = alert_dict(a)
        if phase is not None:
            self._publish(phase, msg)

    def _publish(self, phase: str, msg: dict[str, Any]) -> None:
        self.bus.publish(topics.ALERT, {**msg, "phase": phase})


def acknowledge(
    s: Session,
    alert_ids: list[int],
    by: str,
    reason: str,
    cause: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """Acknowledge alerts not yet acknowledged (the first acknowledgement stands); returns those changed."""
    now = now or utcnow()
    rows = list(
        s.scalars(
            select(Alert).where(Alert.id.in_(alert_ids), Alert.acknowledged_at.is_(None)).with_for_update()
        )
    )
    for a in rows:
        a.acknowledged_at, a.acknowledged_by, a.updated_at = now, by, now
        a.ack_reason, a.ack_cause, a.ack_note = reason, cause if reason == "false_alarm" else None, note
    s.flush()
    return rows
