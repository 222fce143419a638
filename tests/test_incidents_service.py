"""Incident service on the real database (SQLite, or PostgreSQL with OVERSIGHT_TEST_DB=postgres):
lifecycle, bad input, timers, recommendation, travel-time table, evidence holds, alerts, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from incidents_helpers import BASE, site  # noqa: E402
from oversight.config import ConfigError, load_config
from oversight.config.incidents import IncidentSettings
from oversight.events.bus import EventBus
from oversight.incidents.errors import Conflict, InvalidInput, NotFound
from oversight.incidents.models import Assignment, Incident, IncidentEntry, ResponseUnit
from oversight.incidents.service import IncidentService
from oversight.incidents.timers import timers
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import Event, EvidenceHold


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def svc(db: Database, bus: EventBus) -> IncidentService:
    s = IncidentService(site(), bus)
    with db.session() as sess:
        s.sync_units(sess)
    return s


def new_incident(db: Database, svc: IncidentService, **kw: object) -> int:
    args: dict[str, object] = {"type": "intrusion", **BASE, "address": "Town square"}
    args.update(kw)
    with db.session() as s:
        return svc.create(s, "olga", **args).id  # type: ignore[arg-type]


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_full_lifecycle_is_timestamped_and_on_the_timeline(
    db: Database, svc: IncidentService, bus: EventBus
) -> None:
    q, _ = bus.subscribe_queue("")
    iid = new_incident(db, svc, caller_account="two people climbing the fence")
    assert q.get_nowait().data["event"] == "incident.created"
    with db.session() as s:
        svc.dispatch(s, iid, "P-near", "olga", recommended_unit_id="P-near")
        assert q.empty(), "bus messages must wait for the commit"
    msgs = [q.get_nowait() for _ in range(q.qsize())]
    assert {m.topic for m in msgs} == {"incident", "unit"}
    with db.session() as s:
        svc.set_unit_status(s, "P-near", "en_route", "radio")
    with db.session() as s:
        assert svc.get(s, iid).status == "en_route"  # the incident follows its first unit
        svc.set_unit_status(s, "P-near", "on_scene", "radio")
    with db.session() as s:
        svc.advance(s, iid, "cleared", "olga")
    with db.session() as s:
        svc.advance(s, iid, "closed", "sam", disposition="resolved")
    with db.session() as s:
        inc = svc.get(s, iid)
        assert inc.status == "closed" and inc.disposition == "resolved"
        stamps = [
            inc.reported_at,
            inc.dispatched_at,
            inc.en_route_at,
            inc.on_scene_at,
            inc.cleared_at,
            inc.closed_at,
        ]
        assert all(stamps) and stamps == sorted(stamps)  # type: ignore[type-var]
        unit = s.get(ResponseUnit, "P-near")
        assert unit is not None and unit.status == "available" and unit.incident_id is None
        a = s.scalar(select(Assignment).where(Assignment.incident_id == iid))
        assert a is not None and a.released_at is not None and a.on_scene_at is not None
        lines = svc.timeline(s, iid)
        text = " | ".join(e.message for e in lines)
        for needle in (
            "created",
            "new → dispatched",
            "P-near",
            "dispatched → en_route",
            "en_route → on_scene",
            "on_scene → cleared",
            "cleared → closed (resolved)",
        ):
            assert needle in text
        assert {e.actor for e in lines} == {"olga", "radio", "sam"}


def test_skipping_steps_is_rejected_and_changes_nothing(db: Database, svc: IncidentService) -> None:
    iid = new_incident(db, svc)
    before = count(db, IncidentEntry)
    for to in ("on_scene", "en_route", "cleared", "closed"):
        with pytest.raises(InvalidInput, match="next step is 'dispatched'"), db.session() as s:
            svc.advance(s, iid, to, "olga", disposition="resolved")
    with pytest.raises(InvalidInput, match="dispatch a unit"), db.session() as s:
        svc.advance(s, iid, "dispatched", "olga")
    with db.session() as s:
        svc.dispatch(s, iid, "P-near", "olga")
    with pytest.raises(InvalidInput, match="next step is 'en route'"), db.session() as s:
        svc.set_unit_status(s, "P-near", "on_scene", "radio")
    with pytest.raises(InvalidInput, match="not assigned"), db.session() as s:
        svc.set_unit_status(s, "P-far", "en_route", "radio")
    with db.session() as s:
        inc = svc.get(s, iid)
        assert inc.status == "dispatched" and inc.on_scene_at is None and inc.en_route_at is None
        unit = s.get(ResponseUnit, "P-near")
        assert unit is not None and unit.status == "dispatched"
    # only the dispatch added lines: creation(1) + status(1) + dispatch(1)
    assert count(db, IncidentEntry) == before + 2


def test_a_new_incident_may_be_cancelled_but_not_resolved(db: Database, svc: IncidentService) -> None:
    iid = new_incident(db, svc)
    with pytest.raises(InvalidInput, match="next step"), db.session() as s:
        svc.advance(s, iid, "closed", "olga", disposition="resolved")
    with db.session() as s:
        svc.advance(s, iid, "closed", "olga", disposition="false_alarm")
    with db.session() as s:
        assert svc.get(s, iid).status == "closed"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"type": "alien_landing"}, "unknown incident type 'alien_landing'"),
        ({"lat": 48.85, "lon": 2.35}, "off the map"),
        ({"lat": 95.0, "lon": 5.0}, "off the map"),
        ({"lat": None, "lon": None, "x": 1.4, "y": 0.2}, "off the map"),
        ({"lat": 52.0, "lon": None}, "both latitude and longitude"),
        ({"lat": None, "lon": None, "address": ""}, "location is required"),
        ({"priority": "P9"}, "priority must be one of"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    db: Database, svc: IncidentService, bus: EventBus, kw: dict[str, object], message: str
) -> None:
    q, _ = bus.subscribe_queue("")
    with pytest.raises(InvalidInput, match=message):
        new_incident(db, svc, **kw)
    assert count(db, Incident) == 0 and count(db, IncidentEntry) == 0
    assert q.empty()


def test_update_validates_and_records_who_changed_what(db: Database, svc: IncidentService) -> None:
    iid = new_incident(db, svc)
    with pytest.raises(InvalidInput, match="off the map"), db.session() as s:
        svc.update(s, iid, "olga", lat=10.0, lon=10.0)
    with db.session() as s:
        svc.update(s, iid, "sam", priority="P1", description="fence cut")
    with db.session() as s:
        inc = svc.get(s, iid)
        assert inc.priority == "P1" and inc.lat == 52.0
        last = svc.timeline(s, iid)[-1]
        assert last.actor == "sam" and "priority: 'P2' → 'P1'" in last.message


def test_timers_measure_each_step_and_flag_overdue(db: Database, svc: IncidentService) -> None:
    iid = new_incident(db, svc, priority="P1")
    with db.session() as s:
        inc = svc.get(s, iid)
        t0 = utcnow() - timedelta(minutes=10)
        inc.reported_at = t0
        inc.dispatched_at = t0 + timedelta(seconds=50)  # within 64 s
        inc.en_route_at = t0 + timedelta(seconds=150)  # turnout 100 s > 80 s: overdue
        inc.status = "en_route"
    with db.session() as s:
        inc = svc.get(s, iid)
        now = t0 + timedelta(seconds=300)
        by = {t["step"]: t for t in timers(inc, svc.settings, now=now)}
        assert by["dispatch"]["seconds"] == 50 and not by["dispatch"]["overdue"]
        assert by["turnout"]["seconds"] == 100 and by["turnout"]["overdue"]
        assert by["travel"]["running"] and by["travel"]["seconds"] == 150 and not by["travel"]["overdue"]
        assert by["total"]["running"] and by["total"]["seconds"] == 300
        late = {t["step"]: t for t in timers(inc, svc.settings, now=t0 + timedelta(seconds=400))}
        assert late["travel"]["overdue"] and late["total"]["overdue"]  # 250 > 240, 400 > 384
        assert by["total"]["target"] == 384 and by["dispatch"]["target"] == 64
        # the same times under P4 targets are fine
        inc.priority = "P4"
        assert not any(t["overdue"] for t in timers(inc, svc.settings, now=now))


def test_recommends_the_nearest_available_unit_of_a_suitable_type(db: Database, svc: IncidentService) -> None:
    with db.session() as s:
        svc.set_unit_status(s, "P-off", "out_of_service", "sam")  # nearest police, but out of service
    iid = new_incident(db, svc, type="intrusion")  # intrusion -> police
    with db.session() as s:
        rec = svc.recommend(s, iid)
        assert rec["recommended"]["unit"]["id"] == "P-near"  # M-close is nearer but medical
        assert rec["recommended"]["method"] == "distance"
        assert 490 < rec["recommended"]["distance_m"] < 510
        ids = [c["unit"]["id"] for c in rec["candidates"]]
        assert "P-off" not in ids and ids.index("P-near") < ids.index("P-far") < ids.index("M-close")
        svc.dispatch(s, iid, "P-near", "olga")
    with db.session() as s:
        assert svc.recommend(s, iid)["recommended"]["unit"]["id"] == "P-far"
    med = new_incident(db, svc, type="medical")
    with db.session() as s:
        assert svc.recommend(s, med)["recommended"]["unit"]["id"] == "M-close"


def test_travel_time_table_overrides_straight_line(db: Database, bus: EventBus) -> None:
    cfg = site(
        districts=[{"id": "square", "polygon": [[51.99, 4.99], [51.99, 5.01], [52.01, 5.01], [52.01, 4.99]]}],
        travel_times={"north": {"square": 30}},  # P-far (station north, 2.2 km) has a motorway: 30 s
    )
    svc = IncidentService(cfg, bus)
    with db.session() as s:
        svc.sync_units(s)
        svc.set_unit_status(s, "P-off", "out_of_service", "sam")
    iid = new_incident(db, svc, type="intrusion")
    with db.session() as s:
        assert svc.get(s, iid).district == "square"  # found from the polygon
        rec = svc.recommend(s, iid)
        assert rec["recommended"]["unit"]["id"] == "P-far"
        assert rec["recommended"]["method"] == "table" and rec["recommended"]["eta_s"] == 30
        near = next(c for c in rec["candidates"] if c["unit"]["id"] == "P-near")  # 500 m at 40 km/h = 45 s
        assert near["method"] == "distance" and 44 < near["eta_s"] < 46


def test_nearest_cameras(db: Database, svc: IncidentService) -> None:
    iid = new_incident(db, svc)
    with db.session() as s:
        cams = svc.nearest_cameras(svc.get(s, iid))
    assert [c["id"] for c in cams] == ["gate", "south", "north"]  # 'noloc' has no location
    assert 50 < cams[0]["distance_m"] < 60


def _alert(db: Database) -> int:
    with db.session() as s:
        ev = Event(
            camera_id="gate",
            label="person",
            rule_id="fence",
            rule_type="zone",
            track_id=3,
            start=utcnow() - timedelta(seconds=40),
            end=utcnow() - timedelta(seconds=30),
            confidence=0.8,
            snapshot_path="/tmp/snap.jpg",
            data={},
        )
        s.add(ev)
        s.flush()
        return ev.id


def test_incident_from_alert_carries_camera_snapshot_time_and_holds_footage(
    db: Database, svc: IncidentService
) -> None:
    eid = _alert(db)
    with db.session() as s:
        inc, created = svc.create_from_alert(s, eid, "olga")
        iid = inc.id
    assert created
    with db.session() as s:
        inc = svc.get(s, iid)
        ev = s.get(Event, eid)
        assert ev is not None
        assert (inc.type, inc.source, inc.camera_id, inc.snapshot_path) == (
            "intrusion",
            "alert",
            "gate",
            "/tmp/snap.jpg",
        )
        assert (
            inc.reported_at == ev.start
            and (inc.lat, inc.lon) == (52.0005, 5.0)
            and inc.address == "Main gate"
        )
        holds = list(s.scalars(select(EvidenceHold)))
        assert len(holds) == 1 and holds[0].camera_id == "gate" and holds[0].released_at is None
        assert holds[0].start <= ev.start and ev.end is not None and holds[0].end >= ev.end
        assert holds[0].reference == f"incident:{iid}"
        again, created2 = svc.create_from_alert(s, eid, "olga")
        assert not created2 and again.id == iid
    with pytest.raises(NotFound), db.session() as s:
        svc.create_from_alert(s, eid + 999, "olga")


def _close(db: Database, svc: IncidentService, iid: int) -> None:
    with db.session() as s:
        svc.dispatch(s, iid, "P-near", "olga")
    for st in ("en_route", "on_scene"):
        with db.session() as s:
            svc.set_unit_status(s, "P-near", st, "radio")
    with db.session() as s:
        svc.advance(s, iid, "cleared", "olga")
    with db.session() as s:
        svc.advance(s, iid, "closed", "olga", disposition="report_taken")


def test_attached_clip_is_held_while_open_and_released_on_close(db: Database, bus: EventBus) -> None:
    svc = IncidentService(site(evidence={"on_close": "release"}), bus)
    with db.session() as s:
        svc.sync_units(s)
    iid = new_incident(db, svc)
    t = utcnow()
    with pytest.raises(InvalidInput, match="unknown camera"), db.session() as s:
        svc.attach_clip(s, iid, "nope", t - timedelta(minutes=2), t, "olga")
    with pytest.raises(InvalidInput, match="end after"), db.session() as s:
        svc.attach_clip(s, iid, "north", t, t - timedelta(minutes=2), "olga")
    with db.session() as s:
        clip = svc.attach_clip(s, iid, "north", t - timedelta(minutes=2), t, "olga", note="climber")
        hold_id = clip.hold_id
    with db.session() as s:
        hold = s.get(EvidenceHold, hold_id)
        assert hold is not None and hold.released_at is None and hold.camera_id == "north"
    assert count(db, EvidenceHold) == 1
    _close(db, svc, iid)
    with db.session() as s:
        hold = s.get(EvidenceHold, hold_id)
        assert hold is not None and hold.released_at is not None and hold.released_by == "olga"


def test_holds_are_kept_on_close_until_a_supervisor_releases_them_with_a_reason(
    db: Database, svc: IncidentService
) -> None:
    iid = new_incident(db, svc)
    t = utcnow()
    with db.session() as s:
        hold_id = svc.attach_clip(s, iid, "north", t - timedelta(minutes=1), t, "olga").hold_id
    with pytest.raises(Conflict, match="after it closes"), db.session() as s:
        svc.release_holds(s, iid, "sam", "the case was dropped by the prosecutor")
    _close(db, svc, iid)
    with db.session() as s:
        assert svc.release_due_holds(s, now=utcnow() + timedelta(days=3650)) == 0  # no clock releases it
        hold = s.get(EvidenceHold, hold_id)
        assert hold is not None and hold.released_at is None
    with pytest.raises(InvalidInput, match="say why"), db.session() as s:
        svc.release_holds(s, iid, "sam", "done")
    with db.session() as s:
        assert svc.release_holds(s, iid, "sam", "the case was dropped by the prosecutor") == 1
    with db.session() as s:
        hold = s.get(EvidenceHold, hold_id)
        assert hold is not None and hold.released_at is not None and hold.released_by == "sam"
        assert any("dropped by the prosecutor" in e.message for e in svc.timeline(s, iid))
    with pytest.raises(Conflict, match="no evidence holds"), db.session() as s:
        svc.release_holds(s, iid, "sam", "the case was dropped by the prosecutor")


def test_keep_days_policy_keeps_the_hold_after_close(db: Database, bus: EventBus) -> None:
    svc = IncidentService(site(evidence={"on_close": "keep_days", "keep_days": 10}), bus)
    with db.session() as s:
        svc.sync_units(s)
    iid = new_incident(db, svc)
    t = utcnow()
    with db.session() as s:
        hold_id = svc.attach_clip(s, iid, "north", t - timedelta(minutes=1), t, "olga").hold_id
    _close(db, svc, iid)
    with db.session() as s:
        assert svc.release_due_holds(s, now=utcnow() + timedelta(days=9)) == 0
        hold = s.get(EvidenceHold, hold_id)
        assert hold is not None and hold.released_at is None
    with db.session() as s:
        assert svc.release_due_holds(s, now=utcnow() + timedelta(days=11)) == 1
    with db.session() as s:
        hold = s.get(EvidenceHold, hold_id)
        assert hold is not None and hold.released_at is not None


def test_dispatching_a_busy_unit_is_refused_with_a_clear_message(db: Database, svc: IncidentService) -> None:
    a, b = new_incident(db, svc), new_incident(db, svc)
    with db.session() as s:
        svc.dispatch(s, a, "P-near", "olga")
    with (
        pytest.raises(Conflict, match=f"P-near is not available: it is dispatched to incident #{a}"),
        db.session() as s,
    ):
        svc.dispatch(s, b, "P-near", "sam")
    with pytest.raises(NotFound), db.session() as s:
        svc.dispatch(s, b, "nobody", "sam")
    with pytest.raises(NotFound), db.session() as s:
        svc.dispatch(s, 99999, "P-far", "sam")
    with db.session() as s:
        far = s.get(ResponseUnit, "P-far")
        assert far is not None and far.status == "available" and far.incident_id is None
        assert svc.get(s, b).status == "new"


def _race(db: Database, svc: IncidentService, unit: str, incidents: tuple[int, int]) -> dict[int, str]:
    """Two operators press "dispatch" for the same unit at the same moment, each on its own connection."""
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}

    def go(iid: int) -> None:
        barrier.wait()
        try:
            with db.session() as s:
                svc.dispatch(s, iid, unit, f"op{iid}")
            results[iid] = "ok"
        except Conflict as exc:
            results[iid] = exc.message

    threads = [threading.Thread(target=go, args=(i,)) for i in incidents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_operators_dispatching_the_same_unit_at_once_exactly_one_wins(
    db: Database, svc: IncidentService
) -> None:
    for round_ in range(4):
        a, b = new_incident(db, svc), new_incident(db, svc)
        unit = f"R-{round_}"
        with db.session() as s:
            svc.create_unit(s, "sam", id=unit, type="police", lat=52.0, lon=5.0)
        results = _race(db, svc, unit, (a, b))
        oks = [i for i, r in results.items() if r == "ok"]
        assert len(results) == 2 and len(oks) == 1, results
        loser = a if oks[0] == b else b
        assert f"{unit} is not available" in results[loser]
        with db.session() as s:
            u = s.get(ResponseUnit, unit)
            assert u is not None and u.incident_id == oks[0]
            active = s.scalars(
                select(Assignment).where(Assignment.unit_id == unit, Assignment.released_at.is_(None))
            )
            assert [x.incident_id for x in active] == oks
            assert svc.get(s, loser).status == "new"


def test_unit_status_rules(db: Database, svc: IncidentService) -> None:
    with pytest.raises(InvalidInput, match="use dispatch"), db.session() as s:
        svc.set_unit_status(s, "P-far", "dispatched", "sam")
    with pytest.raises(InvalidInput, match="unknown unit status"), db.session() as s:
        svc.set_unit_status(s, "P-far", "lunch", "sam")
    with pytest.raises(InvalidInput, match="off the map"), db.session() as s:
        svc.set_unit_location(s, "P-far", "sam", lat=10.0, lon=10.0)
    iid = new_incident(db, svc)
    with db.session() as s:
        svc.dispatch(s, iid, "P-far", "olga")
    with pytest.raises(InvalidInput, match="release it first"), db.session() as s:
        svc.set_unit_status(s, "P-far", "out_of_service", "sam")
    with db.session() as s:  # recalled before arriving: released, incident keeps its timestamps
        svc.set_unit_status(s, "P-far", "available", "sam")
    with db.session() as s:
        u = s.get(ResponseUnit, "P-far")
        assert u is not None and u.status == "available" and u.incident_id is None
        assert svc.get(s, iid).status == "dispatched"


def test_default_settings_need_no_config() -> None:
    st = IncidentSettings()
    assert {"assault", "medical", "fire", "traffic_collision", "fall", "crowd_surge", "intrusion"} <= {
        t.id for t in st.types
    }
    assert st.target("P1").dispatch == 64 and st.target("P1").travel == 240


def test_second_connection_waits_for_the_first_and_then_gets_a_clear_conflict(
    db: Database, svc: IncidentService
) -> None:
    """Deterministic interleaving: connection A has claimed the unit but not committed; connection B's
    claim blocks on the row (PostgreSQL) or the write lock (SQLite), then sees the unit taken."""
    a, b = new_incident(db, svc), new_incident(db, svc)
    first = db.sessions()
    svc.dispatch(first, a, "P-far", "olga")  # claimed, not committed
    result: dict[str, str] = {}
    started = threading.Event()

    def second() -> None:
        started.set()
        try:
            with db.session() as s:
                svc.dispatch(s, b, "P-far", "sam")
            result["b"] = "ok"
        except Conflict as exc:
            result["b"] = exc.message

    t = threading.Thread(target=second)
    t.start()
    started.wait()
    t.join(0.5)
    assert t.is_alive(), "the second dispatch must wait for the first transaction"
    first.commit()
    first.close()
    t.join(30)
    assert result["b"] == f"unit P-far is not available: it is dispatched to incident #{a}"
    with db.session() as s:
        assert svc.get(s, b).status == "new"
        unit = s.get(ResponseUnit, "P-far")
        assert unit is not None and unit.incident_id == a


def test_incidents_config_errors_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "site.yaml"
    p.write_text(
        "cameras: []\n"
        "incidents:\n"
        "  units:\n"
        "    - {id: A, type: police}\n"
        "    - {id: B, type: tank}\n"
        "  webhooks:\n"
        "    - {url: 'ftp://x'}\n"
        "  colour: red\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    text = "\n".join(str(i) for i in exc.value.issues)
    assert "site.yaml:5:" in text and "incidents.units[1].type" in text
    assert "site.yaml:7:" in text and "http:// or https://" in text
    assert "site.yaml:8: unknown key 'colour'" in text
    p.write_text(
        "cameras: []\nincidents:\n  units:\n    - {id: A, type: police}\n    - {id: A, type: fire}\n"
    )
    with pytest.raises(ConfigError, match="duplicate unit id"):
        load_config(p)


def test_retention_keeps_incident_footage_until_its_holds_are_released(
    db: Database, svc: IncidentService, tmp_path: Path
) -> None:
    """End to end with the recorder's retention job: held footage survives while the incident is open."""
    retention = pytest.importorskip("oversight.recording.retention")
    from oversight.recording.storage import LocalStorage
    from oversight.store.models import Segment

    storage = LocalStorage(tmp_path)
    old = utcnow() - timedelta(days=10)  # past the default 7 retention days
    ids = []
    with db.session() as s:
        for i in range(3):
            start = old + timedelta(seconds=10 * i)
            f = storage.camera_dir("north") / f"seg{i}.mp4"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"\0" * 100)
            seg = Segment(
                camera_id="north", start=start, end=start + timedelta(seconds=10), path=str(f), bytes=100
            )
            s.add(seg)
            s.flush()
            ids.append(seg.id)
    iid = new_incident(db, svc)
    with db.session() as s:  # hold the middle segment's window
        svc.attach_clip(s, iid, "north", old + timedelta(seconds=12), old + timedelta(seconds=18), "olga")
    res = retention.run_retention(db, svc.cfg, utcnow(), storage)
    assert sorted(res.deleted) == [ids[0], ids[2]]
    with db.session() as s:
        assert s.get(Segment, ids[1]) is not None
    _close(db, svc, iid)
    assert retention.run_retention(db, svc.cfg, utcnow(), storage).deleted == []  # kept past closing
    with db.session() as s:
        svc.release_holds(s, iid, "sam", "no charges: the footage is not needed")
    res = retention.run_retention(db, svc.cfg, utcnow(), storage)
    assert res.deleted == [ids[1]]


def test_module_level_create_from_alert_as_the_alerts_page_calls_it(db: Database, bus: EventBus) -> None:
    from oversight.incidents import service as service_module

    eid = _alert(db)
    with db.session() as s:
        ev = s.get(Event, eid)
        assert ev is not None
        inc = service_module.create_from_alert(s, ev, "olga", note="seen climbing", bus=bus, cfg=site())
        iid = inc.id
    with db.session() as s:
        inc2 = s.get(Incident, iid)
        assert inc2 is not None and inc2.event_id == eid and inc2.address == "Main gate"
        assert "seen climbing" in inc2.notes
