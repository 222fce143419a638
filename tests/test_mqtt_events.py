"""Events reach the real Mosquitto broker at 127.0.0.1:1883 as JSON on <prefix>/<camera>/events,
and a dead broker never blocks the publisher. Skips cleanly when the broker is not reachable."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from oversight.analytics.event_recorder import EventRecorder
from oversight.analytics.types import Condition
from oversight.config.schema import MqttConfig
from oversight.events.bus import EventBus
from oversight.events.mqtt import MqttPublisher, event_topic
from oversight.store.db import Database

pytestmark = pytest.mark.mqtt
HOST, PORT = "127.0.0.1", 1883


def broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def subscriber() -> Any:
    if not broker_up():
        pytest.skip("no MQTT broker at 127.0.0.1:1883")
    prefix = f"oversight-test-{uuid.uuid4().hex[:10]}"
    got: list[tuple[str, dict[str, Any]]] = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    client.on_subscribe = lambda *a: ready.set()
    client.connect(HOST, PORT)
    client.subscribe(f"{prefix}/#", qos=1)
    client.loop_start()
    assert ready.wait(5)
    yield prefix, got
    client.disconnect()
    client.loop_stop()


def wait_for(cond: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_event_lifecycle_arrives_at_broker(subscriber: Any, db: Database, tmp_path: Path) -> None:
    prefix, got = subscriber
    bus = EventBus()
    pub = MqttPublisher(MqttConfig(host=HOST, port=PORT, topic_prefix=prefix), bus).start()
    try:
        assert pub.connected.wait(5)
        rec = EventRecorder("gate-cam", db, bus, tmp_path)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        frame = np.zeros((90, 160, 3), np.uint8)
        c = Condition("gate", "zone", "person", 5, 0.8, (10, 10, 30, 60))
        rec.step([c], frame, t0)
        rec.close()
        assert wait_for(lambda: len(got) >= 2)
    finally:
        pub.stop()
    topics = {t for t, _ in got}
    assert topics == {event_topic(prefix, "gate-cam")} == {f"{prefix}/gate-cam/events"}
    phases = [p["phase"] for _, p in got]
    assert phases == ["start", "end"]
    start = got[0][1]
    assert (start["camera_id"], start["rule_id"], start["label"], start["track_id"]) == (
        "gate-cam",
        "gate",
        "person",
        5,
    )
    assert start["start"] == t0.isoformat() and got[1][1]["end"] == t0.isoformat()
    assert got[0][1]["id"] == got[1][1]["id"]
    for _, doc in got:  # the snapshot as an API route; the server's folders never leave it
        assert str(tmp_path) not in json.dumps(doc) and "snapshot" not in doc
    assert got[1][1]["snapshot_url"] == f"/api/events/{start['id']}/thumbnail.jpg"


def test_payload_names_the_snapshot_by_url_not_path(db: Database, tmp_path: Path) -> None:
    bus = EventBus()
    seen: list[Any] = []
    bus.subscribe("event", seen.append)
    rec = EventRecorder("gate-cam", db, bus, tmp_path / "snapshots")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    frame = np.full((90, 160, 3), 128, np.uint8)
    rec.step([Condition("gate", "zone", "person", 5, 0.8, (10, 10, 30, 60))], frame, t0)
    rec.close()
    assert any(str(tmp_path) in str(m.data.get("snapshot")) for m in seen)  # inside: a file path
    pub = MqttPublisher(MqttConfig(topic_prefix="p"), bus)
    for m in seen:
        topic, body = pub.outgoing(m)
        assert topic == "p/gate-cam/events" and str(tmp_path) not in body
    last = json.loads(pub.outgoing(seen[-1])[1])
    assert last["snapshot_url"] == f"/api/events/{last['id']}/thumbnail.jpg"


def test_dead_broker_never_blocks_the_camera_thread() -> None:
    # a port nobody listens on: paho keeps retrying in the background
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    bus = EventBus()
    pub = MqttPublisher(MqttConfig(host=HOST, port=dead_port, topic_prefix="x"), bus).start()
    try:

        def camera_thread() -> None:
            for i in range(3000):
                bus.publish("event", {"id": i, "camera_id": "c", "phase": "start"})

        th = threading.Thread(target=camera_thread)
        th.start()
        th.join(30)  # a blocking publish would hang here; a queue put takes microseconds
        assert not th.is_alive()
        assert not pub.connected.is_set()
        assert wait_for(lambda: pub.dropped > 0)  # bounded: the oldest give way
    finally:
        pub.stop()


def test_health_alert_opens_and_closes_on_the_broker(subscriber: Any, db: Database) -> None:
    from oversight.config.schema import SiteConfig
    from oversight.events.alerts import AlertManager
    from oversight.events.mqtt import alert_topic

    prefix, got = subscriber
    bus = EventBus()
    pub = MqttPublisher(MqttConfig(host=HOST, port=PORT, topic_prefix=prefix), bus).start()
    try:
        assert pub.connected.wait(5)
        alerts = AlertManager(SiteConfig(), db, bus)
        alerts.raise_health(None, "storage_low", "Storage low: 1.5 days of footage left")
        alerts.clear_health(None, "storage_low")
        assert wait_for(lambda: len(got) >= 2)
    finally:
        pub.stop()
    assert {t for t, _ in got} == {alert_topic(prefix, None)} == {f"{prefix}/server/alerts"}
    assert [(p["phase"], p["kind"], p["rule_id"]) for _, p in got] == [
        ("open", "health", "storage_low"),
        ("end", "health", "storage_low"),
    ]
    assert got[1][1]["acknowledged_by"] == "system"
