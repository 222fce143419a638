"""Webhooks to a real HTTP server on loopback (with a failure to retry) and MQTT messages at the real
Mosquitto on 127.0.0.1:1883 (skipped when it is not running)."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from oversight.config.schema import MqttConfig, SiteConfig
from oversight.events.bus import EventBus
from oversight.incidents.integration import Integration
from oversight.incidents.service import IncidentService
from oversight.store.db import Database


class Hook:
    """A loopback HTTP server: answers 500 to the first ``fail_first`` requests, then 204."""

    def __init__(self, fail_first: int = 0):
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.fail_first = fail_first
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.fail_first > 0:
                    hook.fail_first -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook(fail_first=1)
    yield h
    h.close()


def cfg_with(hooks: list[dict[str, Any]]) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "incidents": {
                "webhooks": hooks,
                "units": [{"id": "M-1", "type": "medical", "lat": 52.0, "lon": 5.0}],
            }
        }
    )


def test_webhook_gets_documented_json_after_a_retry_without_blocking(db: Database, hook: Hook) -> None:
    bus = EventBus()
    cfg = cfg_with([{"url": hook.url, "secret": "s3cret", "topics": ["incident", "unit"]}])
    assert cfg.incidents is not None
    integ = Integration(cfg.incidents, bus)
    assert integ.webhooks is not None
    integ.webhooks.backoff = 0.05
    integ.start()
    try:
        svc = IncidentService(cfg, bus)
        t0 = time.monotonic()
        with db.session() as s:
            svc.sync_units(s)
            inc = svc.create(
                s,
                "olga",
                type="medical",
                lat=52.001,
                lon=5.0,
                address="Market",
                event_id=77,
                snapshot_path="/srv/oversight/var/snapshots/gate/x.jpg",
            )
            iid = inc.id
        assert time.monotonic() - t0 < 2.0  # the failing hook did not hold up the request
        headers, body = hook.received.get(timeout=10)
        doc = json.loads(body)
        assert doc["schema"] == "oversight.incidents/1" and doc["topic"] == "incident"
        assert doc["event"] == "incident.created" and doc["actor"] == "olga"
        assert doc["incident"]["id"] == iid and doc["incident"]["type"] == "medical"
        assert doc["incident"]["location"]["lat"] == 52.001
        assert "/srv/oversight" not in body.decode()  # no server path leaves through a webhook
        assert doc["incident"]["snapshot_url"] == "/api/events/77/thumbnail.jpg"
        assert headers["x-oversight-attempt"] == "2"  # the first attempt got a 500
        sig = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["x-oversight-signature"] == f"sha256={sig}"
        with db.session() as s:
            svc.dispatch(s, iid, "M-1", "olga")
        docs = [json.loads(hook.received.get(timeout=10)[1]) for _ in range(2)]
        events = {d["event"] for d in docs}
        assert events == {"unit.status", "incident.dispatch"}
        unit_doc = next(d for d in docs if d["topic"] == "unit")
        assert unit_doc["unit"] == {
            **unit_doc["unit"],
            "id": "M-1",
            "status": "dispatched",
            "incident_id": iid,
        }
    finally:
        integ.stop()


def test_webhook_gives_up_after_max_attempts(hook: Hook) -> None:
    hook.fail_first = 100
    cfg = cfg_with([{"url": hook.url, "max_attempts": 3}])
    assert cfg.incidents is not None
    bus = EventBus()
    integ = Integration(cfg.incidents, bus)
    assert integ.webhooks is not None
    integ.webhooks.backoff = 0.01
    integ.start()
    try:
        bus.publish("unit", {"event": "unit.status", "unit": {"id": "x"}})
        deadline = time.monotonic() + 10
        while integ.webhooks.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert integ.webhooks.failed == 1 and hook.fail_first == 97
    finally:
        integ.stop()


def _mqtt_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.mqtt
def test_mqtt_messages_on_incident_and_unit_changes(db: Database) -> None:
    if not _mqtt_up():
        pytest.skip("Mosquitto not reachable at 127.0.0.1:1883")
    import paho.mqtt.client as mqtt

    prefix = f"oversight-test-{uuid.uuid4().hex[:8]}"
    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{prefix}/#", qos=1)
    sub.connect("127.0.0.1", 1883)
    sub.loop_start()
    assert subscribed.wait(10)
    cfg = cfg_with([])
    assert cfg.incidents is not None
    bus = EventBus()
    integ = Integration(cfg.incidents, bus, MqttConfig(topic_prefix=prefix)).start()
    try:
        assert integ.mqtt is not None
        deadline = time.monotonic() + 10
        while not integ.mqtt.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        svc = IncidentService(cfg, bus)
        with db.session() as s:
            svc.sync_units(s)
            iid = svc.create(s, "olga", type="fall", x=0.5, y=0.5, address="Hall").id
        with db.session() as s:
            svc.dispatch(s, iid, "M-1", "olga")
        msgs = [got.get(timeout=10) for _ in range(3)]
        topics = sorted(t for t, _ in msgs)
        assert topics == [f"{prefix}/incidents", f"{prefix}/incidents", f"{prefix}/units"]
        inc_docs = [d for t, d in msgs if t.endswith("/incidents")]
        assert [d["event"] for d in inc_docs] == ["incident.created", "incident.dispatch"]
        assert inc_docs[1]["incident"]["status"] == "dispatched"
        unit_doc = next(d for t, d in msgs if t.endswith("/units"))
        assert unit_doc["unit"]["id"] == "M-1" and unit_doc["unit"]["status"] == "dispatched"
    finally:
        integ.stop()
        sub.loop_stop()
        sub.disconnect()
