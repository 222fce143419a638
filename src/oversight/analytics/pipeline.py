"""One camera's analytics: motion -> (gated) detection -> tracking -> rules -> events.

Gating: the detector runs on frames with motion. While tracks are alive but nothing moves (a
person standing still, a parked car) the detector runs at most once per ``KEEPALIVE_S`` to
confirm them, and the tracks are carried unchanged in between: without motion nothing in the
picture changed, so the last boxes are still right, and time-based rules (dwell) keep counting.
A quiet camera therefore costs one tiny motion check per frame and no model inference.

Without rules, every confirmed track of a wanted class is an event (rule_type "object"), so
events-only recording still has something to record around. Events are not alerts: ``alerts``
(an ``AlertManager``) sees every event and raises alerts only for rules marked ``alert: true``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oversight.analytics.detectors import Detector, make_detector
from oversight.analytics.event_recorder import EventRecorder
from oversight.analytics.motion import MotionDetector, outside_masks, with_privacy_masks
from oversight.analytics.rules import RuleEngine
from oversight.analytics.tracker import ByteTracker
from oversight.analytics.types import Condition, Detections, Track
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.store.db import Database

log = logging.getLogger(__name__)

KEEPALIVE_S = 1.0
LOW_CONFIDENCE = 0.1  # ByteTrack's second association sees boxes down to this score
LOST_SECONDS = 2.0  # how long a track survives unseen (in detector runs at detect.fps)


class CameraAnalytics:
    """Analytics for one camera, called from its frame thread.

    ``timezone`` is the site time zone (``cfg.site.timezone``) in which rule schedules are read;
    ``detector`` overrides the one named in the config (tests, benchmarks sharing one model).
    ``tracks`` is replaced (never mutated) each detection, so other threads may read it freely.
    """

    def __init__(
        self,
        cam: CameraConfig,
        db: Database,
        bus: EventBus,
        snapshot_dir: Path,
        mqtt: Any = None,
        timezone: str = "UTC",
        detector: Detector | None = None,
        alerts: Any = None,
    ):
        self.cam = cam
        d = cam.detect
        self.motion = MotionDetector(with_privacy_masks(cam), d.width, d.height)
        self._allowed = outside_masks(cam, d.width, d.height)  # privacy masks: analytics look away
        self.detector: Detector = detector or make_detector(
            d, low_confidence=min(LOW_CONFIDENCE, d.min_confidence)
        )
        self.tracker = self._new_tracker()
        self.rules = RuleEngine(cam.rules, timezone)
        observer = alerts.observe if alerts is not None else None
        self.events = EventRecorder(cam.id, db, bus, Path(snapshot_dir), observer=observer)
        self.mqtt = mqtt  # kept for the caller's convenience; MQTT publishing subscribes to the bus
        self.tracks: list[Track] = []
        self.motion_active = False
        self.frames = 0
        self.detections_run = 0
        self._last_detect: datetime | None = None
        self._warned_size = False
        # Set while a PTZ camera looks away from its home preset (``cameras.onvif``): the zones are
        # drawn on the home picture, so analysis pauses; an Event is the only thing shared here.
        self.off_home = threading.Event()
        self._was_off = False
        self.paused_frames = 0

    @property
    def motion_mask(self) -> np.ndarray | None:
        """Where the newest analysed frame moved, over the whole frame (read-only; see ``motion``)."""
        return self.motion.moving

    @property
    def event_active(self) -> bool:
        return self.events.active

    @property
    def line_counts(self) -> dict[str, dict[str, int]]:
        return self.rules.counts

    def _want_detection(self, ts: datetime) -> bool:
        if self.motion_active:
            return True
        if not self.tracker.alive:
            return False
        return self._last_detect is None or (ts - self._last_detect).total_seconds() >= KEEPALIVE_S

    def process(self, frame_bgr: np.ndarray, ts: datetime) -> None:
        """Analyse one frame (already at detect resolution) taken at ``ts`` (UTC-aware)."""
        if ts.tzinfo is None:
            raise ValueError("CameraAnalytics.process needs a timezone-aware timestamp (UTC)")
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError(f"expected a BGR frame (H, W, 3), got shape {frame_bgr.shape}")
        d = self.cam.detect
        if frame_bgr.shape[:2] != (d.height, d.width):
            # Rules and masks are in detect-frame pixels, so a frame of another size is resized
            # rather than analysed with wrong geometry (the caller should already deliver this size).
            if not self._warned_size:
                log.warning(
                    "camera %s: frame %dx%d is not the detect size %dx%d; resizing",
                    self.cam.id,
                    frame_bgr.shape[1],
                    frame_bgr.shape[0],
                    d.width,
                    d.height,
                )
                self._warned_size = True
            frame_bgr = cv2.resize(frame_bgr, (d.width, d.height), interpolation=cv2.INTER_AREA)
        if self._paused():
            return
        self.frames += 1
        self.motion_active = self.motion.update(frame_bgr)
        if self.detector.name != "none" and self._want_detection(ts):
            self.detections_run += 1
            self._last_detect = ts
            self.tracks = self.tracker.update(self.detect(frame_bgr))
        if self.tracks or self.events.open or self.rules.has_state:
            self.events.step(self._conditions(ts), frame_bgr, ts)

    def _paused(self) -> bool:
        """Off home: skip the frame. Back home: start afresh (tracks and motion belong to another picture)."""
        if self.off_home.is_set():
            self._was_off = True
            self.paused_frames += 1
            self.tracks = []
            return True
        if self._was_off:
            self._was_off = False
            d = self.cam.detect
            self.motion = MotionDetector(self.cam.motion, d.width, d.height)
            self.tracker = self._new_tracker()
        return False

    def _new_tracker(self) -> ByteTracker:
        d = self.cam.detect
        return ByteTracker(
            high_threshold=d.min_confidence,
            low_threshold=min(LOW_CONFIDENCE, d.min_confidence),
            max_lost=max(3, round(d.fps * LOST_SECONDS)),
        )

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        """The detector's objects, less those whose box centre lies in a privacy mask."""
        found = self.detector.detect(frame_bgr)
        if self._allowed is None or not len(found):
            return found
        h, w = self._allowed.shape
        cx = np.clip(((found.xyxy[:, 0] + found.xyxy[:, 2]) / 2).astype(int), 0, w - 1)
        cy = np.clip(((found.xyxy[:, 1] + found.xyxy[:, 3]) / 2).astype(int), 0, h - 1)
        keep = self._allowed[cy, cx]
        if keep.all():
            return found
        idx = np.flatnonzero(keep)
        return Detections(found.xyxy[idx], found.confidence[idx], tuple(found.labels[i] for i in idx))

    def _conditions(self, ts: datetime) -> list[Condition]:
        if self.rules.rules:
            return self.rules.evaluate(self.tracks, ts)
        return [Condition(None, "object", t.label, t.track_id, t.confidence, t.box) for t in self.tracks]

    def close(self) -> None:
        """End all open events (camera stop or shutdown), each at the time it was last observed."""
        self.events.close()
