"""Publish analytics events to an MQTT broker (Home Assistant, Node-RED, a city's SCADA).

Each bus message on topic ``"event"`` goes out as JSON to ``<topic_prefix>/<camera_id>/events``.
The bus handler only puts the message on a bounded queue, so a camera thread never waits on the
network; a worker thread hands messages to paho (QoS 1, so paho resends after a reconnect). paho's
own network thread (``loop_start``) reconnects by itself with backoff when the broker goes away.
If the broker stays down the queue fills and the oldest messages are dropped (counted in ``dropped``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from oversight.config.schema import MqttConfig
from oversight.events.bus import EventBus, Message

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000


def event_topic(prefix: str, camera_id: str) -> str:
    return f"{prefix.rstrip('/')}/{camera_id}/events"


class MqttPublisher:
    def __init__(self, cfg: MqttConfig, bus: EventBus, client_id: str | None = None):
        self.cfg = cfg
        self.bus = bus
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"oversight-{uuid.uuid4().hex[:8]}"
        )
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.max_queued_messages_set(QUEUE_SIZE)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.connected = threading.Event()
        self.sent = 0  # handed to paho (sent, or held by paho until it reconnects)
        self.dropped = 0
        self._queue: queue.Queue[Message | None] = queue.Queue(QUEUE_SIZE)
        self._unsubscribe: Callable[[], None] | None = None
        self._worker: threading.Thread | None = None

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        if not reason.is_failure:
            self.connected.set()
            log.info("MQTT connected to %s:%s", self.cfg.host, self.cfg.port)
        else:
            log.warning("MQTT connection refused: %s", reason)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected (%s); paho will reconnect", reason)

    def start(self) -> MqttPublisher:
        # connect_async never blocks (DNS and TCP happen on paho's thread) and never raises when the
        # broker is down: the loop keeps retrying.
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=30)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._worker.start()
        self._unsubscribe = self.bus.subscribe("event", self._enqueue)
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

    def _enqueue(self, msg: Message) -> None:
        self._put(msg)

    def _run(self) -> None:
        while True:
            msg = self._queue.get()
            if msg is None:
                return
            camera = str(msg.data.get("camera_id") or "unknown")
            payload = json.dumps(msg.data, default=str)
            info = self.client.publish(event_topic(self.cfg.topic_prefix, camera), payload, qos=1)
            # NO_CONN with QoS 1: paho keeps the message and sends it once it has reconnected.
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self.sent += 1
            else:
                self.dropped += 1
                log.debug("MQTT publish not queued (rc=%s)", info.rc)
