"""The bus's topics are one table (``events/topics.py``), read here from the code that publishes.

Every ``publish`` to the bus in the source names a topic of the table, every subscription prefix
matches one, and the payload an event carries has exactly the keys its TypedDict declares. MQTT
goes through one client class, whose queue stays bounded when the broker is gone.
"""

from __future__ import annotations

import ast
import socket
import time
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oversight.analytics.event_recorder import EventRecorder
from oversight.analytics.types import Condition
from oversight.config.incidents import IncidentSettings
from oversight.config.schema import MqttConfig
from oversight.events import topics
from oversight.events.bus import EventBus, Message
from oversight.events.mqtt_client import QueuedMqttClient
from oversight.incidents.integration import QUEUE_SIZE, Integration

SRC = Path(__file__).resolve().parents[1] / "src" / "oversight"
CONSTANTS = {name: value for name, value in vars(topics).items() if name.isupper() and isinstance(value, str)}


def _topic(node: ast.expr) -> str | None:
    """The topic a call names: a string, or a constant of ``events.topics`` (``topics.EVENT``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "topics":
        return CONSTANTS.get(node.attr, f"topics.{node.attr}?")
    return None


def _on_bus(call: ast.Call) -> bool:
    """``bus.publish``, ``self.bus.publish``, ``ctx.bus.publish`` (not paho's ``client.publish``)."""
    owner = getattr(call.func, "value", None)
    return (isinstance(owner, ast.Name) and owner.id == "bus") or (
        isinstance(owner, ast.Attribute) and owner.attr == "bus"
    )


def bus_calls() -> list[tuple[str, str, str]]:
    """(where, method, topic) for every bus publish/subscribe (and the incident journal's
    ``_publish``) whose topic is written in the call."""
    out = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            method = node.func.attr
            if method == "_publish" and len(node.args) >= 2:
                arg = node.args[1]
            elif method in ("publish", "subscribe", "subscribe_queue", "subscribe_async") and _on_bus(node):
                arg = node.args[0] if node.args else ast.Constant("")
            else:
                continue
            topic = _topic(arg)
            if topic is not None:
                out.append((f"{path.relative_to(SRC)}:{node.lineno}", method, topic))
    return out


def test_every_published_topic_is_in_the_table():
    calls = bus_calls()
    published = [(where, t) for where, m, t in calls if m in ("publish", "_publish")]
    assert len(published) >= 8  # the scan sees the publishers
    unknown = [f"{where} {t!r}" for where, t in published if t not in topics.TOPICS]
    assert not unknown, "topics missing from events/topics.py TOPICS:\n" + "\n".join(unknown)


def test_every_subscription_matches_a_topic():
    subscribed = [(where, t) for where, m, t in bus_calls() if m.startswith("subscribe")]
    assert subscribed
    orphans = [f"{w} {t!r}" for w, t in subscribed if not any(name.startswith(t) for name in topics.TOPICS)]
    assert not orphans, "subscriptions to no topic of the table:\n" + "\n".join(orphans)


def test_an_event_message_carries_the_declared_payload(db, tmp_path):
    bus = EventBus()
    got: list[Message] = []
    bus.subscribe(topics.EVENT, got.append)
    rec = EventRecorder("cam1", db, bus, tmp_path)
    cond = Condition(label="person", rule_id="gate", rule_type="zone", track_id=3, confidence=0.9)
    rec.step([cond], None, datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    assert [m.topic for m in got] == [topics.EVENT]
    assert set(got[0].data) == set(typing.get_type_hints(topics.EventPayload))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_incident_mqtt_is_the_one_bounded_client():
    """With no broker, a burst of incident messages is dropped past the bound, never buffered."""
    bus = EventBus()
    settings = IncidentSettings(mqtt=True)
    integ = Integration(settings, bus, MqttConfig(host="127.0.0.1", port=_closed_port())).start()
    try:
        assert isinstance(integ.mqtt, QueuedMqttClient)
        burst = 3 * QUEUE_SIZE
        for i in range(burst):
            bus.publish(topics.INCIDENT, {"event": "incident.updated", "id": i})
        deadline = time.monotonic() + 10
        while integ.mqtt.sent + integ.mqtt.dropped < burst - QUEUE_SIZE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert integ.mqtt.dropped >= burst - 2 * QUEUE_SIZE  # our queue and paho's each hold one bound
    finally:
        integ.stop()


@pytest.mark.parametrize("name", sorted(topics.TOPICS))
def test_every_topic_has_a_documented_payload(name):
    payload = topics.TOPICS[name]
    assert typing.is_typeddict(payload) and payload.__doc__
    assert typing.get_type_hints(payload)
