"""Carry bus messages between processes and nodes through an MQTT broker, so every web server
sees every alert whichever node's camera raised it.

Why MQTT (Mosquitto, EMQX, VerneMQ...) rather than PostgreSQL LISTEN/NOTIFY or NATS: paho-mqtt
is already a core dependency (the MQTT integration), one broker fans a message out to any number
of subscribers, QoS 1 survives a broker blip, and it keeps the database, the one shared part of
the system that can least afford extra load, out of the real-time path (NOTIFY payloads are also
capped at 8000 bytes and every listener holds a database connection).

Each bridge publishes the local bus messages it did not receive from the broker to
``<prefix>/<topic>`` as ``{"o": origin, "t": topic, "d": data}`` and republishes on its local bus
every message from other origins. A thread-local flag marks inbound delivery, so a message never
bounces back out. Like ``MqttPublisher``, the bus handler only enqueues (bounded; the oldest is
dropped and counted when the broker is unreachable for long), so a camera thread never waits.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from oversight.events.bus import EventBus, Message
from oversight.events.mqtt import public_event
from oversight.events.mqtt_client import QueuedMqttClient

log = logging.getLogger(__name__)

QUEUE_SIZE = 10000
DEFAULT_TOPICS = ("event", "alert", "camera.status", "segment", "incident", "unit", "cluster")


def parse_broker_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker URL must be mqtt://host[:port], got {url!r}")
    return parts.hostname, parts.port or 1883


class BusBridge(QueuedMqttClient):
    name = "bus-bridge"

    def __init__(
        self,
        bus: EventBus,
        url: str = "mqtt://127.0.0.1:1883",
        prefix: str = "oversight/bus",
        origin: str | None = None,
        topics: Iterable[str] = DEFAULT_TOPICS,
    ):
        host, port = parse_broker_url(url)
        self.origin = origin or uuid.uuid4().hex[:12]
        super().__init__(
            bus, host, port, f"oversight-bridge-{self.origin}", QUEUE_SIZE, max_reconnect_delay=10
        )
        self.prefix = prefix.rstrip("/")
        self.topics = tuple(topics)
        self.client.on_message = self._on_message
        self.received = 0
        self._inbound = threading.local()

    def stats(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "connected": self.connected.is_set(),
            "sent": self.sent,
            "received": self.received,
            "dropped": self.dropped,
        }

    # -- broker -> local bus (paho's network thread) ------------------------

    def connected_hook(self, client: mqtt.Client) -> None:
        client.subscribe(f"{self.prefix}/#", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            env = json.loads(msg.payload)
            origin, topic, data = env["o"], env["t"], env["d"]
        except (ValueError, KeyError, TypeError):
            log.warning("bus bridge: ignoring a malformed message on %s", msg.topic)
            return
        if origin == self.origin or not isinstance(data, dict):
            return
        self.received += 1
        self._inbound.active = True
        try:
            self.bus.publish(str(topic), data)
        finally:
            self._inbound.active = False

    # -- local bus -> broker -----------------------------------------------

    def bus_prefix(self) -> str:
        return ""

    def wants(self, msg: Message) -> bool:
        if getattr(self._inbound, "active", False):  # came from the broker: never bounce it back
            return False
        return any(msg.topic == t or msg.topic.startswith(t + ".") for t in self.topics)

    def outgoing(self, msg: Message) -> tuple[str, str]:
        data = public_event(msg.data) if msg.topic == "event" else msg.data  # no server paths on a broker
        payload = json.dumps({"o": self.origin, "t": msg.topic, "d": data}, default=str)
        return f"{self.prefix}/{msg.topic}", payload
