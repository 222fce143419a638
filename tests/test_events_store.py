"""Event lifecycle (start, throttled updates, end with hold-off, close on shutdown) stored in the
database and published on the bus, and ``search_events`` filters + keyset pagination.
Runs on SQLite and, with OVERSIGHT_TEST_DB=postgres, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from oversight.analytics.event_recorder import EventRecorder
from oversight.analytics.types import Condition
from oversight.events.bus import EventBus, Message
from oversight.events.search import search_events
from oversight.store.db import Database
from oversight.store.models import Event

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def frame() -> np.ndarray:
    img = np.zeros((120, 160, 3), np.uint8)
    img[40:100, 60:80] = 200
    return img


def cond(conf: float, track: int = 7, rule: str = "z1", **kw: object) -> Condition:
    return Condition(rule, "zone", "person", track, conf, (60.0, 40.0, 80.0, 100.0), **kw)  # type: ignore[arg-type]


@pytest.fixture
def bus_log() -> tuple[EventBus, list[Message]]:
    bus = EventBus()
    log: list[Message] = []
    bus.subscribe("event", log.append)
    return bus, log


def test_lifecycle_start_updates_end(
    db: Database, tmp_path: Path, bus_log: tuple[EventBus, list[Message]]
) -> None:
    bus, log = bus_log
    rec = EventRecorder("cam1", db, bus, tmp_path, hold_off_s=2.0, update_interval_s=1.0)
    f = frame()
    # 3 s of a person in the zone at 10 fps with rising confidence
    for i in range(30):
        rec.step([cond(0.5 + i * 0.01)], f, T0 + timedelta(seconds=i / 10))
    assert rec.active
    phases = [m.data["phase"] for m in log]
    assert phases[0] == "start"
    assert 2 <= phases.count("update") <= 3  # throttled to ~1/s, not 29
    # the condition clears: the event stays open during the hold-off, then ends
    rec.step([], f, T0 + timedelta(seconds=4.5))
    assert rec.active
    rec.step([], f, T0 + timedelta(seconds=5.0))
    assert not rec.active
    end = log[-1].data
    assert end["phase"] == "end"
    assert end["end"] == (T0 + timedelta(seconds=2.9)).isoformat()  # when it was last seen
    assert {m.data["id"] for m in log} == {end["id"]}
    with db.session() as s:
        row = s.get(Event, end["id"])
        assert row is not None
        assert (row.camera_id, row.label, row.rule_id, row.rule_type, row.track_id) == (
            "cam1",
            "person",
            "z1",
            "zone",
            7,
        )
        assert row.start == T0
        assert row.end == T0 + timedelta(seconds=2.9)
        assert row.confidence == pytest.approx(0.79, abs=1e-6)
        assert row.snapshot_path and Path(row.snapshot_path).is_file()
        assert Path(row.snapshot_path).is_relative_to(tmp_path)
        snap = cv2.imread(row.snapshot_path)
        assert snap.shape == f.shape  # full frame with the box drawn
        assert snap[40, 70, 2] > 200 and snap[40, 70, 0] < 60  # red box edge at the top of the box


def test_flapping_within_hold_off_is_one_event(
    db: Database, tmp_path: Path, bus_log: tuple[EventBus, list[Message]]
) -> None:
    bus, log = bus_log
    rec = EventRecorder("cam1", db, bus, tmp_path, hold_off_s=2.0)
    for i in range(20):
        present = (i // 3) % 2 == 0  # visible 3 frames, missing 3 frames (0.3 s gaps)
        rec.step([cond(0.8)] if present else [], frame(), T0 + timedelta(seconds=i / 10))
    assert [m.data["phase"] for m in log].count("start") == 1


def test_momentary_and_close_on_shutdown(
    db: Database, tmp_path: Path, bus_log: tuple[EventBus, list[Message]]
) -> None:
    bus, log = bus_log
    rec = EventRecorder("cam2", db, bus, tmp_path)
    line = Condition(
        "l1", "line", "person", 3, 0.9, (1, 1, 5, 9), momentary=True, data={"direction": "a_to_b"}
    )
    rec.step([line, cond(0.6, track=4)], frame(), T0)
    assert [(m.data["rule_id"], m.data["phase"]) for m in log] == [
        ("l1", "start"),
        ("l1", "end"),
        ("z1", "start"),
    ]
    assert rec.active  # the zone event is still open
    rec.close()
    assert not rec.active
    assert log[-1].data["phase"] == "end"
    with db.session() as s:
        rows = s.query(Event).order_by(Event.id).all()
        assert [r.end for r in rows] == [T0, T0]
        assert rows[0].data == {"direction": "a_to_b"}


def _seed(db: Database) -> list[int]:
    rows = []
    for i in range(30):
        rows.append(
            Event(
                camera_id="north" if i % 2 else "south",
                label="car" if i % 3 == 0 else "person",
                rule_id="gate" if i % 5 == 0 else None,
                rule_type="zone",
                start=T0 + timedelta(minutes=i // 2),  # pairs share a start: ties broken by id
                confidence=0.5,
            )
        )
    with db.session() as s:
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def test_search_filters(db: Database) -> None:
    ids = _seed(db)
    with db.session() as s:
        every = search_events(s, limit=1000)
        assert [e.id for e in every] == sorted(ids, key=lambda i: (ids.index(i) // 2, i), reverse=True)
        north = search_events(s, camera_id="north", limit=1000)
        assert len(north) == 15 and {e.camera_id for e in north} == {"north"}
        cars = search_events(s, label="car", limit=1000)
        assert len(cars) == 10 and {e.label for e in cars} == {"car"}
        gate = search_events(s, rule_id="gate", limit=1000)
        assert len(gate) == 6
        window = search_events(s, start=T0 + timedelta(minutes=3), end=T0 + timedelta(minutes=5), limit=1000)
        assert sorted(e.start for e in window) == [T0 + timedelta(minutes=m) for m in (3, 3, 4, 4)]
        both = search_events(s, camera_id="south", label="car", limit=1000)
        assert {(e.camera_id, e.label) for e in both} == {("south", "car")} and len(both) == 5
        assert search_events(s, camera_id="nowhere") == []


def test_search_keyset_pagination_covers_everything_once(db: Database) -> None:
    ids = _seed(db)
    seen: list[int] = []
    with db.session() as s:
        page = search_events(s, limit=7)
        while page:
            seen.extend(e.id for e in page)
            page = search_events(s, limit=7, before_id=page[-1].id)
        assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
        starts = [s_.start for s_ in search_events(s, limit=1000)]
        assert starts == sorted(starts, reverse=True)
        with pytest.raises(ValueError):
            search_events(s, before_id=10**9)


def test_search_uses_indexes_on_sqlite(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("query plan check is SQLite-specific")
    from sqlalchemy import text

    with db.engine.connect() as c:
        plan = " ".join(
            str(r[-1])
            for r in c.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT * FROM events WHERE camera_id='a' AND start <= '2026-01-01' "
                    "AND (start < '2026-01-01' OR id < 5) ORDER BY start DESC, id DESC LIMIT 100"
                )
            )
        )
    assert "ix_events_camera_start" in plan
    assert "TEMP B-TREE" not in plan  # no sort of the whole match set


def test_database_failure_at_end_keeps_the_event_open_for_retry(
    db: Database, tmp_path: Path, bus_log: tuple[EventBus, list[Message]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bus, log = bus_log
    rec = EventRecorder("cam3", db, bus, tmp_path, hold_off_s=1.0)
    rec.step([cond(0.7)], frame(), T0)
    real_end = EventRecorder._end

    def broken(self: EventRecorder, e: object, end: datetime) -> None:
        raise RuntimeError("database is down")

    monkeypatch.setattr(EventRecorder, "_end", broken)
    with pytest.raises(RuntimeError):
        rec.step([], frame(), T0 + timedelta(seconds=5))
    assert rec.active  # nothing lost
    monkeypatch.setattr(EventRecorder, "_end", real_end)
    rec.step([], frame(), T0 + timedelta(seconds=6))
    assert not rec.active
    with db.session() as s:
        assert [r.end for r in s.query(Event).all()] == [T0]
