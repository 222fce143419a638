"""Webhooks and MQTT: incident and unit changes leave the building for existing dispatch/paging systems.

Both listen on the bus ("incident", "unit") and never block the publisher: a bus handler only puts
the message on a queue. One background thread delivers webhooks (HTTP POST of JSON, retried with
exponential backoff, each attempt bounded by the hook's timeout); MQTT goes through the project's one
MQTT client, ``events.mqtt_client.QueuedMqttClient`` (bounded queue, QoS 1, reconnects by itself).
Payloads are documented in docs/incidents.md.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from oversight.config.incidents import IncidentSettings, WebhookConfig
from oversight.config.schema import MqttConfig
from oversight.events import topics
from oversight.events.bus import EventBus, Message
from oversight.events.mqtt_client import QueuedMqttClient

log = logging.getLogger(__name__)
SCHEMA = "oversight.incidents/1"
TOPIC_SUFFIX = {topics.INCIDENT: "incidents", topics.UNIT: "units"}
QUEUE_SIZE = 1000


def payload(msg: Message) -> dict[str, Any]:
    """The JSON document sent to webhooks and MQTT for a bus message."""
    return {"schema": SCHEMA, "topic": msg.topic, **msg.data}


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    hook: WebhookConfig = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookSender:
    """Delivers JSON bodies to webhooks on a background thread, retrying failures with backoff."""

    def __init__(self, hooks: list[WebhookConfig], backoff: float = 1.0, max_backoff: float = 60.0):
        self.hooks = hooks
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._q: queue.Queue[_Delivery | None] = queue.Queue()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None:
            self._client = httpx.Client(follow_redirects=False)
            self._thread = threading.Thread(target=self._run, name="incident-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def submit(self, topic: str, doc: dict[str, Any]) -> None:
        body = json.dumps(doc, separators=(",", ":"), default=str).encode()
        for hook in self.hooks:
            if topic in hook.topics:
                self._q.put(_Delivery(time.monotonic(), next(self._seq), hook, body))

    def _post(self, d: _Delivery) -> bool:
        assert self._client is not None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "oversight-incidents",
            "X-Oversight-Attempt": str(d.attempt),
        }
        if d.hook.secret:
            sig = hmac.new(d.hook.secret.encode(), d.body, hashlib.sha256).hexdigest()
            headers["X-Oversight-Signature"] = f"sha256={sig}"
        try:
            r = self._client.post(d.hook.url, content=d.body, headers=headers, timeout=d.hook.timeout)
        except httpx.HTTPError as exc:
            log.warning("webhook %s attempt %d failed: %s", d.hook.url, d.attempt, exc)
            return False
        if 200 <= r.status_code < 300:
            return True
        log.warning("webhook %s attempt %d answered %d", d.hook.url, d.attempt, r.status_code)
        return False

    def _run(self) -> None:
        waiting: list[_Delivery] = []  # retries, ordered by due time
        while True:
            timeout = max(0.0, waiting[0].due - time.monotonic()) if waiting else None
            try:
                item = self._q.get(timeout=timeout)
            except queue.Empty:
                item = heapq.heappop(waiting)
            if item is None:
                return
            if item.due > time.monotonic():
                heapq.heappush(waiting, item)
                continue
            if self._post(item):
                self.delivered += 1
            elif item.attempt < item.hook.max_attempts:
                delay = min(self.max_backoff, self.backoff * 2 ** (item.attempt - 1))
                heapq.heappush(
                    waiting,
                    _Delivery(
                        time.monotonic() + delay, next(self._seq), item.hook, item.body, item.attempt + 1
                    ),
                )
            else:
                self.failed += 1
                log.error("webhook %s gave up after %d attempts", item.hook.url, item.attempt)


class IncidentMqtt(QueuedMqttClient):
    """Incident and unit changes to ``<prefix>/incidents`` and ``<prefix>/units``, through the same
    bounded queue as the event publisher (a dead broker drops the oldest, never grows memory)."""

    name = "incidents-mqtt"

    def __init__(self, cfg: MqttConfig, bus: EventBus):
        super().__init__(
            bus,
            cfg.host,
            cfg.port,
            f"oversight-incidents-{uuid.uuid4().hex[:8]}",
            QUEUE_SIZE,
            username=cfg.username,
            password=cfg.password,
        )
        self.cfg = cfg

    def bus_prefix(self) -> str:
        return ""  # two topics ("incident", "unit"): picked by ``wants``

    def wants(self, msg: Message) -> bool:
        return msg.topic.split(".", 1)[0] in TOPIC_SUFFIX

    def outgoing(self, msg: Message) -> tuple[str, str]:
        suffix = TOPIC_SUFFIX[msg.topic.split(".", 1)[0]]
        body = json.dumps(payload(msg), separators=(",", ":"), default=str)
        return f"{self.cfg.topic_prefix}/{suffix}", body


class Integration:
    """Wires the bus to webhooks and MQTT; ``start()`` once per process, ``stop()`` on shutdown."""

    def __init__(self, settings: IncidentSettings, bus: EventBus, mqtt_cfg: MqttConfig | None = None):
        self.bus = bus
        self.webhooks = WebhookSender(settings.webhooks) if settings.webhooks else None
        self.mqtt = IncidentMqtt(mqtt_cfg, bus) if (mqtt_cfg is not None and settings.mqtt) else None
        self._unsub: list[Callable[[], None]] = []

    def _on(self, msg: Message) -> None:
        if self.webhooks:
            self.webhooks.submit(msg.topic.split(".", 1)[0], payload(msg))

    def start(self) -> Integration:
        if self.webhooks:
            self.webhooks.start()
            self._unsub = [self.bus.subscribe("incident", self._on), self.bus.subscribe("unit", self._on)]
        if self.mqtt:
            self.mqtt.start()  # subscribes itself
        return self

    def stop(self) -> None:
        for u in self._unsub:
            u()
        self._unsub = []
        if self.webhooks:
            self.webhooks.stop()
        if self.mqtt:
            self.mqtt.stop()
