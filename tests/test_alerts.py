"""Alarm discipline on synthetic tracks: the real rule engine, event recorder and alert manager.

Detections are not alerts; one alert per situation; cooldown; storm control; line thresholds;
escalation; health alerts that close themselves; acknowledgement with reasons and the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from oversight.analytics.event_recorder import EventRecorder
from oversight.analytics.rules import RuleEngine
from oversight.analytics.types import Condition, Track
from oversight.config.schema import SiteConfig
from oversight.events.alerts import AlertManager, acknowledge
from oversight.events.bus import EventBus, Message
from oversight.events.models import Alert
from oversight.store.db import Database
from oversight.store.models import Event

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ZONE = [[100, 100], [300, 100], [300, 300], [100, 300]]


def site(rules: list[dict[str, Any]], **alarms: Any) -> SiteConfig:
    cam = {"purpose": "public safety on the square", "streams": {"record": "/dev/null"}}
    return SiteConfig.model_validate(
        {
            "cameras": [{**cam, "id": "north", "rules": rules}, {**cam, "id": "plain"}],
            "alarms": alarms,
        }
    )


def zone(**kw: Any) -> dict[str, Any]:
    return {"id": "fountain", "type": "zone", "purpose": "people in the fountain", "polygon": ZONE, **kw}


class Camera:
    """One camera's rules + event recorder feeding the alert manager, driven by synthetic tracks."""

    def __init__(
        self, cfg: SiteConfig, cam_id: str, db: Database, bus: EventBus, alerts: AlertManager, tmp: Path
    ):
        cam = cfg.camera(cam_id)
        self.cam = cam
        self.rules = RuleEngine(cam.rules)
        self.events = EventRecorder(cam.id, db, bus, tmp, hold_off_s=1.0, observer=alerts.observe)
        self.frame = np.zeros((360, 640, 3), np.uint8)

    def step(self, tracks: list[Track], ts: datetime) -> None:
        if self.rules.rules:
            conds = self.rules.evaluate(tracks, ts)
        else:
            conds = [Condition(None, "object", t.label, t.track_id, t.confidence, t.box) for t in tracks]
        self.events.step(conds, self.frame, ts)


def person(track: int, x: float, y: float) -> Track:
    return Track(track, "person", (x - 20, y - 80, x + 20, y), 0.9)


@pytest.fixture
def world(db: Database, tmp_path: Path) -> Iterator[Any]:
    bus = EventBus()
    msgs: list[Message] = []
    bus.subscribe("alert", msgs.append)

    def make(rules: list[dict[str, Any]], **alarms: Any) -> tuple[SiteConfig, AlertManager, Camera, Camera]:
        cfg = site(rules, **alarms)
        mgr = AlertManager(cfg, db, bus, clock=lambda: T0)
        return (
            cfg,
            mgr,
            Camera(cfg, "north", db, bus, mgr, tmp_path),
            Camera(cfg, "plain", db, bus, mgr, tmp_path),
        )

    yield make, msgs


def alerts(db: Database) -> list[Alert]:
    with db.session() as s:
        rows = list(s.scalars(select(Alert).order_by(Alert.id)))
        s.expunge_all()
        return rows


def events(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count(Event.id))) or 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_detections_are_not_alerts(world: Any, db: Database) -> None:
    """Events of a rule without ``alert: true`` and of a camera without rules are kept, never alerts."""
    make, msgs = world
    _, _, north, plain = make([zone()])  # alert defaults to false
    for i in range(20):
        north.step([person(1, 200, 200)], at(i * 0.2))
        plain.step([person(2, 200, 200)], at(i * 0.2))
    north.step([], at(10))
    plain.step([], at(10))
    assert events(db) == 2
    assert alerts(db) == [] and msgs == []


def test_one_alert_per_situation_and_cooldown(world: Any, db: Database) -> None:
    make, msgs = world
    _, _, north, _ = make([zone(alert=True, priority="P2", cooldown_s=30)])
    # three people enter the zone one after the other and stay: three events, one alert
    for i in range(30):
        tracks = [person(k, 150 + 40 * k, 200) for k in range(1, 1 + min(3, 1 + i // 5))]
        north.step(tracks, at(i * 0.2))
    north.step([], at(10))  # all leave: the events end, the situation ends
    assert events(db) == 3
    (a,) = alerts(db)
    assert a.kind == "rule" and a.rule_id == "fountain" and a.priority == "P2" and a.occurrences == 3
    assert a.ended_at is not None and a.sound == "alarm"  # P2's default sound
    assert [m.data["phase"] for m in msgs] == ["open", "update", "update", "end"]
    # back within the cooldown (30 s after the end): the same alert, updated
    north.step([person(9, 200, 200)], at(20))
    north.step([], at(25))
    (a,) = alerts(db)
    assert a.occurrences == 4
    # after the cooldown: a new situation, a new alert
    north.step([person(10, 200, 200)], at(90))
    north.step([], at(95))
    assert len(alerts(db)) == 2 and events(db) == 5


def test_dwell_alerts_once_per_track(world: Any, db: Database) -> None:
    make, _ = world
    dwell = {"id": "loiter", "type": "dwell", "purpose": "loitering at the cash machine", "polygon": ZONE}
    _, _, north, _ = make([{**dwell, "seconds": 2, "alert": True}])
    for i in range(40):  # two people, both stay long enough
        north.step([person(1, 150, 200), person(2, 250, 200)], at(i * 0.2))
    north.step([], at(20))
    got = alerts(db)
    assert len(got) == 2 and all(a.occurrences == 1 for a in got)


def test_storm_control_groups_beyond_n_per_minute(world: Any, db: Database) -> None:
    make, msgs = world
    _, mgr, north, _ = make([zone(alert=True, cooldown_s=0)], storm_per_minute=3)
    for k in range(10):  # ten separate short situations within a minute
        north.step([person(k, 200, 200)], at(k * 5))
        north.step([], at(k * 5 + 2))
    got = alerts(db)
    rule_alerts = [a for a in got if a.kind == "rule"]
    (storm,) = [a for a in got if a.kind == "storm"]
    assert len(rule_alerts) == 3
    assert storm.data["grouped"] == 7 and storm.data["rules"] == {"fountain": 7}
    assert "Alert storm on north" in storm.title
    mgr.tick(at(200))  # calm for a minute: the storm ends
    assert alerts(db)[-1].ended_at is not None


def test_counting_line_counts_and_alerts_only_above_threshold(world: Any, db: Database) -> None:
    make, _ = world
    line = {
        "id": "gate",
        "type": "line",
        "purpose": "crowd safety at the gate",
        "line": [[0, 200], [640, 200]],
    }
    _, mgr, north, _ = make([{**line, "alert": True, "alert_above": 3, "per_minutes": 1}])
    t = 0.0
    for k in range(3):  # three crossings: counted, no alert
        north.step([person(k, 100, 150)], at(t))
        north.step([person(k, 100, 250)], at(t + 0.2))
        t += 5
    assert north.rules.counts["gate"]["a_to_b"] + north.rules.counts["gate"]["b_to_a"] == 3
    assert alerts(db) == []
    for k in range(3, 6):  # the 4th, 5th and 6th in the same minute: one alert, updated
        north.step([person(k, 100, 150)], at(t))
        north.step([person(k, 100, 250)], at(t + 0.2))
        t += 5
    (a,) = alerts(db)
    assert a.occurrences == 3 and a.data["crossings"] == 6 and "6 crossings" in a.title
    mgr.tick(at(t + 120))  # the rate fell: the situation ends
    assert alerts(db)[0].ended_at is not None


def test_line_without_threshold_cannot_alert() -> None:
    from oversight.config import ConfigError, parse_config

    text = """\
cameras:
  - id: c
    purpose: crowd safety at the gate
    streams: {record: /dev/null}
    rules:
      - {id: gate, type: line, purpose: count the gate, line: [[0, 1], [9, 1]], alert: true}
"""
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "site.yaml")
    assert "set alert_above" in str(exc.value) and "site.yaml:6:" in str(exc.value)


def test_escalation_after_the_priority_time(world: Any, db: Database) -> None:
    make, msgs = world
    _, mgr, north, _ = make([zone(alert=True, priority="P3")], escalate_after_s={"P3": 60, "P2": 30})
    north.step([person(1, 200, 200)], at(0))
    mgr.tick(at(59))
    assert alerts(db)[0].escalated_at is None
    mgr.tick(at(61))
    a = alerts(db)[0]
    assert a.escalated_at is not None and a.priority == "P2" and a.data["priority_before"] == "P3"
    assert msgs[-1].data["phase"] == "escalate"
    mgr.tick(at(200))  # escalates once only
    assert alerts(db)[0].priority == "P2"
    with db.session() as s:
        acknowledge(s, [a.id], "olga", "real")
    north.step([person(2, 200, 200)], at(300))
    north.step([], at(305))  # no new escalation for acknowledged alerts
    mgr.tick(at(400))
    assert alerts(db)[0].priority == "P2"


def test_health_alert_closes_itself(world: Any, db: Database) -> None:
    make, msgs = world
    _, mgr, _, _ = make([])
    aid = mgr.raise_health("north", "camera_down", "Camera north is not sending video")
    assert mgr.raise_health("north", "camera_down", "again") == aid  # one per problem
    assert mgr.open_health() == {("north", "camera_down")}
    mgr.clear_health("north", "camera_down")
    (a,) = alerts(db)
    assert a.kind == "health" and a.ended_at is not None and a.acknowledged_by == "system"
    assert [m.data["phase"] for m in msgs] == ["open", "end"]


def test_first_acknowledgement_stands(world: Any, db: Database) -> None:
    make, _ = world
    _, mgr, _, _ = make([])
    aid = mgr.raise_health(None, "storage_low", "Storage low")
    with db.session() as s:
        assert [a.id for a in acknowledge(s, [aid], "olga", "false_alarm", "lighting", "glare")] == [aid]
    with db.session() as s:
        assert acknowledge(s, [aid], "sam", "real") == []
    (a,) = alerts(db)
    assert (a.acknowledged_by, a.ack_reason, a.ack_cause, a.ack_note) == (
        "olga",
        "false_alarm",
        "lighting",
        "glare",
    )


def test_a_camera_hosts_manager_escalates_only_its_own_alerts(db: Database) -> None:
    """In a cluster each camera host runs a manager for its camera: no double escalation."""
    cfg = site([])
    one_camera = SiteConfig.model_validate({"cameras": [cfg.camera("north").model_dump()]})
    host = AlertManager(one_camera, db, EventBus(), clock=lambda: T0, server_alerts=False)
    site_mgr = AlertManager(cfg, db, EventBus(), clock=lambda: T0)
    ids = [site_mgr.raise_health(cam, "camera_down", "down", "P3") for cam in ("north", "plain", None)]
    host.tick(at(3600))
    with db.session() as s:
        escalated = {a.id for a in s.scalars(select(Alert).where(Alert.escalated_at.is_not(None)))}
    assert escalated == {ids[0]}
    site_mgr.tick(at(3600))
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Alert.escalated_at.is_not(None))) == 3


def _restart_site(db_url: str, tmp_path: Path) -> SiteConfig:
    cam = {"purpose": "public safety on the square", "streams": {"record": "/dev/null"}, "enabled": False}
    rules = [zone(alert=True, cooldown_s=0), {**zone(id="bench", alert=True), "type": "dwell", "seconds": 2}]
    return SiteConfig.model_validate(
        {
            "site": {"data_dir": str(tmp_path / "data"), "database_url": db_url},
            "cameras": [{**cam, "id": "north", "rules": rules}],
            "alarms": {"storm_per_minute": 3},
        }
    )


def _start_msg(rule: str, eid: int, when: datetime, track: int | None = None) -> dict[str, Any]:
    return {"camera_id": "north", "rule_id": rule, "phase": "start", "id": eid, "track_id": track,
            "label": "person", "start": when.isoformat()}  # fmt: skip


def test_a_restarted_service_updates_the_alerts_it_had_open(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    """Stop the whole service and start a new one on the same data: the same situations (a zone
    still occupied, a dwell on the same track, a camera still down) update the alerts the first
    process opened; storm control remembers the alerts of the last minute."""
    from oversight.service import Service

    cfg = _restart_site(db_url, tmp_path)
    first = Service(cfg)
    first.start(host=None)
    mgr = first.runtime.alerts
    now = datetime.now(UTC)
    mgr.observe(_start_msg("fountain", 1, now))
    mgr.observe(_start_msg("bench", 2, now, track=7))
    down = mgr.raise_health("north", "camera_down", "Camera north is not sending video")
    first.stop()
    first.close()
    before = {(a.rule_id, a.id) for a in alerts(db)}
    assert len(before) == 3

    second = Service(_restart_site(db_url, tmp_path))  # a new process: nothing shared in memory
    second.start(host=None)
    try:
        mgr = second.runtime.alerts
        later = datetime.now(UTC)
        mgr.observe(_start_msg("fountain", 3, later))  # cooldown 0, but within the restart grace
        mgr.observe(_start_msg("bench", 4, later, track=7))  # the same dwelling track
        mgr.observe(_start_msg("bench", 5, later, track=8))  # another track: a new situation
        assert mgr.raise_health("north", "camera_down", "again") == down
        assert mgr.open_health() == {("north", "camera_down")}
        got = {a.id: a for a in alerts(db)}
        assert {(a.rule_id, a.id) for a in got.values()} - before == {("bench", max(got))}
        by_rule = {(a.rule_id, (a.data or {}).get("track")): a for a in got.values()}
        assert by_rule[("fountain", None)].occurrences == 2 and by_rule[("fountain", None)].ended_at is None
        assert by_rule[("bench", 7)].occurrences == 2
        # storm control counted the two alerts the first process opened this minute: one more is
        # allowed (the one above), the next new situation folds into a storm
        mgr.observe(_start_msg("bench", 6, later, track=9))
        assert [a.kind for a in alerts(db)].count("storm") == 1
        mgr.clear_health("north", "camera_down")
        assert {a.id: a for a in alerts(db)}[down].acknowledged_by == "system"
    finally:
        second.stop()
        second.close()
