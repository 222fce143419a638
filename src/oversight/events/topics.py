"""The bus's topics: one table of every topic name and the payload it carries.

Every flow between stages is a row here. Publishers name topics with these constants, payloads are
the TypedDicts below (JSON-ready: times are ISO-8601 strings), and ``tests/test_bus_topics.py``
reads every ``publish`` call in the source and fails on a topic that is not in ``TOPICS``.
Subscribers pick by prefix ("" for all, "incident" for incident changes), as ``EventBus`` does.
"""

from __future__ import annotations

from typing import Any, TypedDict


class EventPayload(TypedDict):
    """An analytics event's phase (start | update | end), from ``analytics.event_recorder``."""

    id: int
    camera_id: str
    label: str
    rule_id: str | None
    rule_type: str | None
    track_id: int | None
    start: str
    end: str | None
    confidence: float
    phase: str
    snapshot: str | None
    box: list[float] | None
    data: dict[str, Any]


class CameraHealthPayload(TypedDict):
    """The camera watchdog saw a stage (ingest, recording, decode, analytics, privacy, live) stall
    or recover; ``age_s`` is how old its newest output was."""

    camera_id: str
    stage: str
    state: str
    age_s: float


class AlertPayload(TypedDict, total=False):
    """An alert changed (``oversight.events.alerts.alert_dict`` plus ``phase``: open, update, end,
    escalate or ack): what the operators' alert queue and the MQTT alert topic show."""

    phase: str
    id: int
    kind: str
    camera_id: str | None
    rule_id: str | None
    priority: str
    sound: str
    title: str  # English, stable for integrations; the UI shows it translated per reader
    title_msgid: str | None  # the title as msgid + parameters (None on alerts from before 0013)
    title_params: dict[str, Any] | None
    event_id: int | None
    last_event_id: int | None
    occurrences: int
    opened_at: str | None
    updated_at: str | None
    ended_at: str | None
    escalated_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    ack_reason: str | None
    ack_cause: str | None
    ack_note: str | None
    thumbnail: str | None
    data: dict[str, Any]


class AlertAckPayload(TypedDict, total=False):
    """An alert or event was acknowledged (or escalated to an incident): a bare marker for the wall
    and the map, which every role receives."""

    id: int
    alert_id: int
    camera_id: str
    by: str | None
    at: str | None
    note: str | None
    escalated: bool


class CameraStatusPayload(TypedDict, total=False):
    """A camera worker's status (``CameraWorker.status()``); the keys below are always there."""

    id: str
    name: str
    state: str
    online: bool
    error: str | None


class SegmentPayload(TypedDict):
    """A recording segment was closed and indexed."""

    id: int
    camera_id: str
    start: str
    end: str
    path: str
    bytes: int
    has_event: bool


class ConfigCameraPayload(TypedDict):
    """A camera was added, changed or removed in the configuration editor."""

    id: str
    action: str


class IncidentPayload(TypedDict):
    """An incident changed (``event`` is ``incident.<what>``); ``incident`` is its full document."""

    event: str
    id: int
    actor: str
    at: str
    incident: dict[str, Any]


class UnitPayload(TypedDict):
    """A response unit changed (``event`` is ``unit.<what>``); ``unit`` is its full document."""

    event: str
    id: str
    actor: str
    at: str
    unit: dict[str, Any]


class RevealPayload(TypedDict):
    """A reveal request changed (``event`` is ``reveal.<what>``, e.g. ``reveal.requested``): its id,
    cameras and requester, so the supervisors who may decide it are told (``web.push``)."""

    event: str
    id: int
    camera_ids: list[str]
    requested_by: str
    at: str


class ClusterCameraPayload(TypedDict):
    """A camera actor started (or restarted) on a cluster node."""

    camera_id: str
    node_id: str
    host: str
    restarted: bool
    at: str


EVENT = "event"
ALERT = "alert"
ALERT_ACK = "alert.ack"
CAMERA_STATUS = "camera.status"
CAMERA_HEALTH = "camera.health"
SEGMENT = "segment"
CONFIG_CAMERA = "config.camera"
INCIDENT = "incident"
UNIT = "unit"
CLUSTER_CAMERA = "cluster.camera"
REVEAL = "reveal"

TOPICS: dict[str, type] = {
    EVENT: EventPayload,
    ALERT: AlertPayload,
    ALERT_ACK: AlertAckPayload,
    CAMERA_STATUS: CameraStatusPayload,
    CAMERA_HEALTH: CameraHealthPayload,
    SEGMENT: SegmentPayload,
    CONFIG_CAMERA: ConfigCameraPayload,
    INCIDENT: IncidentPayload,
    UNIT: UnitPayload,
    CLUSTER_CAMERA: ClusterCameraPayload,
    REVEAL: RevealPayload,
}
