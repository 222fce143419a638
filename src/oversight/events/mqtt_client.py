"""A paho client fed from the bus through a bounded queue: the shared part of the MQTT
integration (``MqttPublisher``) and the cross-node bus bridge (``BusBridge``).

The bus handler only enqueues, so a camera thread never waits on the network; a worker thread
hands messages to paho (QoS 1, so paho resends after a reconnect); paho's own network thread
reconnects with backoff. When the broker stays down the queue fills and the oldest messages are
dropped and counted in ``dropped``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from oversight.events.bus import EventBus, Message

log = logging.getLogger(__name__)


class QueuedMqttClient:
    name = "mqtt"

    def __init__(
        self,
        bus: EventBus,
        host: str,
        port: int,
        client_id: str,
        queue_size: int,
        max_reconnect_delay: int = 30,
        username: str | None = None,
        password: str | None = None,
    ):
        self.bus = bus
        self.host, self.port = host, port
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=max_reconnect_delay)
        self.client.max_queued_messages_set(queue_size)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.connected = threading.Event()
        self.sent = 0  # handed to paho (sent, or held by paho until it reconnects)
        self.dropped = 0
        self._queue: queue.Queue[Message | None] = queue.Queue(queue_size)
        self._unsubscribe: Callable[[], None] | None = None
        self._worker: threading.Thread | None = None

    # -- what subclasses decide ------------------------------------------

    def bus_prefix(self) -> str:
        """Which bus topics to take."""
        raise NotImplementedError

    def wants(self, msg: Message) -> bool:
        return True

    def outgoing(self, msg: Message) -> tuple[str, str]:
        """(MQTT topic, JSON payload) for a bus message."""
        raise NotImplementedError

    def connected_hook(self, client: mqtt.Client) -> None:
        """Called on every (re)connect, e.g. to subscribe."""

    # -- lifecycle ---------------------------------------------------------

    def start(self, wait: float | None = None) -> QueuedMqttClient:
        """Connect in the background (never blocks, never raises while the broker is down: paho
        keeps retrying) and start forwarding. ``wait``: block up to that long for the connection."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._run, name=f"{self.name}-worker", daemon=True)
        self._worker.start()
        unsubscribe = self.bus.subscribe(self.bus_prefix(), self._enqueue)
        unwatch = self.bus.watch_queue(
            self.name, self._queue.qsize, self._queue.maxsize, lambda: self.dropped
        )

        def both() -> None:
            unsubscribe()
            unwatch()

        self._unsubscribe = both
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

    # -- paho callbacks (paho's network thread) ----------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        if reason.is_failure:
            log.warning(
                "%s: broker %s:%s refused the connection: %s", self.name, self.host, self.port, reason
            )
            return
        self.connected_hook(client)
        self.connected.set()
        log.info("%s: connected to %s:%s", self.name, self.host, self.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        self.connected.clear()
        log.warning("%s: disconnected (%s); paho will reconnect", self.name, reason)

    # -- bus -> queue -> broker ----------------------------------------------

    def _enqueue(self, msg: Message) -> None:
        if self.wants(msg):
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
            topic, payload = self.outgoing(msg)
            info = self.client.publish(topic, payload, qos=1)
            # NO_CONN with QoS 1: paho keeps the message and sends it once it has reconnected.
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self.sent += 1
            else:
                self.dropped += 1
                log.debug("%s: publish not queued (rc=%s)", self.name, info.rc)
