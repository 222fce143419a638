"""Plain data passed between the analytics stages (detector -> tracker -> rules -> events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in detect-frame pixels


@dataclass(frozen=True)
class Detections:
    """One frame's detections as arrays (no per-object Python objects on the hot path)."""

    xyxy: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    labels: tuple[str, ...]  # N class names

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), ())

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Track:
    """A tracked object: a stable ``track_id`` across frames, its class and latest box."""

    track_id: int
    label: str
    box: Box
    confidence: float

    @property
    def anchor(self) -> tuple[float, float]:
        """Bottom-centre of the box: where the object touches the ground, used by every rule."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2.0, y2)


@dataclass
class Condition:
    """A rule's verdict for this frame: "this (rule, track) is in alarm now".

    The event store turns a condition that appears into an event start, one that persists into
    (throttled) updates, and one that disappears for longer than the hold-off into an end.
    ``momentary`` conditions (line crossings) start and end in the same frame.
    """

    rule_id: str | None
    rule_type: str
    label: str
    track_id: int | None
    confidence: float
    box: Box | None = None
    momentary: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str | None, int | None, str]:
        return (self.rule_id, self.track_id, self.label)
