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
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from oversight.events.bus import EventBus, Message

log = logging.getLogger(__name__)

QUEUE_SIZE = 10000
DEFAULT_TOPICS = ("event", "alert", "camera.status", "segment", "incident", "unit", "cluster")


def parse_broker_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker URL must be mqtt://host[:port], got {url!r}")
    return parts.hostname, parts.port or 1883


class BusBridge:
    def __init__(
        self,
        bus: EventBus,
        url: str = "mqtt://127.0.0.1:1883",
        prefix: str = "oversight/bus",
        origin: str | None = None,
        topics: Iterable[str] = DEFAULT_TOPICS,
    ):
        self.bus = bus
        self.host, self.port = parse_broker_url(url)
        self.prefix = prefix.rstrip("/")
        self.origin = origin or uuid.uuid4().hex[:12]
        self.topics = tuple(topics)
        client_id = f"oversight-bridge-{self.origin}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.max_queued_messages_set(QUEUE_SIZE)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.sent = 0
        self.received = 0
        self.dropped = 0
        self._inbound = threading.local()
        self._queue: queue.Queue[Message | None] = queue.Queue(QUEUE_SIZE)
        self._unsubscribe: Callable[[], None] | None = None
        self._worker: threading.Thread | None = None

    def start(self, wait: float | None = None) -> BusBridge:
        """Connect (in the background; paho retries forever) and start forwarding.
        ``wait``: block up to that many seconds for the subscription to be in place."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="bus-bridge", daemon=True)
        self._worker.start()
        self._unsubscribe = self.bus.subscribe("", self._outgoing)
        if wait is not None and not self.connected.wait(wait):
            raise TimeoutError(f"broker {self.host}:{self.port} not reachable within {wait}s")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._worker:
            self._put(None)
            self._worker.join(timeout)
            self._worker = None
        self.client.disconnect()
        self.client.loop_stop()

    def stats(self) -> dict[str, Any]:
        return {"origin": self.origin, "connected": self.connected.is_set(), "sent": self.sent,
                "received": self.received, "dropped": self.dropped}

    # -- broker callbacks (paho's network thread) -------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
                    ) -> None:
        if reason.is_failure:
            log.warning("bus bridge: broker refused the connection: %s", reason)
            return
        client.subscribe(f"{self.prefix}/#", qos=1)
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
                       ) -> None:
        self.connected.clear()
        log.warning("bus bridge: broker disconnected (%s); reconnecting", reason)

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

    def _wanted(self, topic: str) -> bool:
        return any(topic == t or topic.startswith(t + ".") for t in self.topics)

    def _outgoing(self, msg: Message) -> None:
        if getattr(self._inbound, "active", False) or not self._wanted(msg.topic):
            return
        self._put(msg)

    def _put(self, item: Message | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def _run(self) -> None:
        while True:
            msg = self._queue.get()
            if msg is None:
                return
            payload = json.dumps({"o": self.origin, "t": msg.topic, "d": msg.data}, default=str)
            info = self.client.publish(f"{self.prefix}/{msg.topic}", payload, qos=1)
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self.sent += 1
            else:
                self.dropped += 1
