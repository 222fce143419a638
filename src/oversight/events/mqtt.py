"""Publish analytics events to an MQTT broker (Home Assistant, Node-RED, a city's SCADA).

Each bus message on topic ``"event"`` goes out as JSON to ``<topic_prefix>/<camera_id>/events``, and
each alert change (topic ``"alert"``: rule, storm and health alerts, phase open|update|end|escalate|ack)
to ``<topic_prefix>/<camera_id or "server">/alerts``, through the non-blocking queue of
``QueuedMqttClient``. No server path leaves: the snapshot file becomes ``snapshot_url``, the API
route that serves it redacted to whoever may see it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from oversight.config.schema import MqttConfig
from oversight.events.bus import EventBus, Message
from oversight.events.mqtt_client import QueuedMqttClient

QUEUE_SIZE = 1000


def event_topic(prefix: str, camera_id: str) -> str:
    return f"{prefix.rstrip('/')}/{camera_id}/events"


def public_event(data: dict[str, Any]) -> dict[str, Any]:
    """The event as integrations see it: the snapshot as an API URL, never a file path."""
    if "snapshot" not in data and "snapshot_path" not in data:
        return data
    out = {k: v for k, v in data.items() if k not in ("snapshot", "snapshot_path")}
    has_snapshot = bool(data.get("snapshot") or data.get("snapshot_path"))
    out["snapshot_url"] = (
        f"/api/events/{data['id']}/thumbnail.jpg" if has_snapshot and data.get("id") is not None else None
    )
    return out


def alert_topic(prefix: str, camera_id: str | None) -> str:
    return f"{prefix.rstrip('/')}/{camera_id or 'server'}/alerts"


class MqttPublisher(QueuedMqttClient):
    name = "mqtt-publisher"

    def __init__(self, cfg: MqttConfig, bus: EventBus, client_id: str | None = None):
        super().__init__(
            bus,
            cfg.host,
            cfg.port,
            client_id or f"oversight-{uuid.uuid4().hex[:8]}",
            QUEUE_SIZE,
            username=cfg.username,
            password=cfg.password,
        )
        self.cfg = cfg

    def bus_prefix(self) -> str:
        return ""

    def wants(self, msg: Message) -> bool:
        return msg.topic in ("event", "alert")

    def outgoing(self, msg: Message) -> tuple[str, str]:
        payload = json.dumps(public_event(msg.data), default=str)
        if msg.topic == "alert":
            return alert_topic(self.cfg.topic_prefix, msg.data.get("camera_id")), payload
        camera = str(msg.data.get("camera_id") or "unknown")
        return event_topic(self.cfg.topic_prefix, camera), payload
