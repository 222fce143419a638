"""The running site: one CameraWorker per enabled camera, startup recovery, and periodic retention.

``apply_camera`` swaps a single camera's worker so a config change on one camera never interrupts
recording on the others.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from oversight.cameras.frames import AnalyticsFactory
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig, SiteConfig
from oversight.events.alerts import AlertManager
from oversight.events.bus import EventBus
from oversight.health import HealthMonitor
from oversight.privacy import audit
from oversight.privacy.copies import sweep_copies
from oversight.recording.index import recover
from oversight.recording.retention import (
    SPACE_CHECK_S,
    OnDelete,
    RetentionResult,
    enforce_space,
    run_retention,
)
from oversight.recording.storage import LocalStorage
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import Segment

log = logging.getLogger(__name__)
COPIES_CHECK_S = 60.0


def audit_deletion(session: Session, segment: Segment, reason: str) -> None:
    """Default retention hook: an audit entry through ``oversight.privacy.audit``."""
    audit.record(
        session,
        "system:retention",
        "segment.delete",
        "segment",
        str(segment.id),
        purpose=f"retention: {reason}",
        source="retention",
        detail={
            "camera_id": segment.camera_id,
            "start": segment.start.isoformat(),
            "end": segment.end.isoformat(),
            "bytes": segment.bytes,
            "reason": reason,
        },
    )


class Runtime:
    def __init__(
        self,
        cfg: SiteConfig,
        db: Database,
        bus: EventBus,
        analytics_factory: AnalyticsFactory | Literal["default"] | None = None,
        *,
        storage: LocalStorage | None = None,
        retention_interval_s: float = 3600.0,
        on_delete: OnDelete | None = audit_deletion,
        worker_options: dict[str, Any] | None = None,
    ):
        self.cfg = cfg
        self.db = db
        self.bus = bus
        self.storage = storage or LocalStorage(cfg.site.data_dir)
        self.analytics_factory: AnalyticsFactory | None = (
            self.default_analytics_factory if analytics_factory == "default" else analytics_factory
        )
        self.retention_interval_s = retention_interval_s
        self.on_delete = on_delete
        self.worker_options = worker_options or {}  # backoff/timeouts, e.g. for tests
        self.workers: dict[str, CameraWorker] = {}
        self.alerts = AlertManager(cfg, db, bus)  # events of alerting rules -> the alert queue
        self.health = HealthMonitor(cfg, db, self.status, self.alerts)  # problems -> health alerts
        self.last_retention: RetentionResult | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._retention_thread: threading.Thread | None = None
        self.started = False

    def default_analytics_factory(self, cam: CameraConfig) -> Any:
        """``CameraAnalytics``, imported on first use: a runtime that only records never loads it."""
        from oversight.analytics.pipeline import CameraAnalytics

        snapshots = Path(self.cfg.site.data_dir).expanduser() / "snapshots"
        snapshots.mkdir(parents=True, exist_ok=True)
        return CameraAnalytics(
            cam, self.db, self.bus, snapshots, timezone=self.cfg.site.timezone, alerts=self.alerts
        )

    def start(self) -> None:
        with self._lock:
            if self.started:
                return
            self.started = True
            self._stop.clear()
            self.alerts.start()
            self.health.start()
            recover(self.db, self.storage)
            for cam in self.cfg.cameras:
                self._start_worker(cam)
            if self.retention_interval_s > 0:
                self._retention_thread = threading.Thread(
                    target=self._retention_loop, name="retention", daemon=True
                )
                self._retention_thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            workers = list(self.workers.values())
            self.workers.clear()
            self.started = False
        threads = [threading.Thread(target=w.stop) for w in workers]  # stop cameras in parallel
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self._retention_thread is not None:
            self._retention_thread.join(10)
            self._retention_thread = None
        self.health.stop()
        self.alerts.stop()

    def apply_camera(self, cam: CameraConfig) -> CameraWorker | None:
        """Add or replace one camera (and its entry in ``cfg``) without touching the others."""
        with self._lock:
            self.cfg.cameras = [c for c in self.cfg.cameras if c.id != cam.id] + [cam]
            old = self.workers.pop(cam.id, None)
        if old is not None:
            old.stop()
        with self._lock:
            return self._start_worker(cam) if self.started else None

    def remove_camera(self, camera_id: str) -> None:
        with self._lock:
            self.cfg.cameras = [c for c in self.cfg.cameras if c.id != camera_id]
            old = self.workers.pop(camera_id, None)
        if old is not None:
            old.stop()

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            workers = list(self.workers.values())
        return [w.status() for w in workers]

    def metrics(self) -> dict[str, dict[str, float]]:
        """Extra Prometheus gauges (read by /metrics): the latest health check."""
        return self.health.metrics()

    def run_retention(self) -> RetentionResult:
        now = utcnow()
        res = run_retention(self.db, self.cfg, now, self.storage, self.on_delete)
        self.last_retention = res
        if res.deleted or res.errors:
            log.info("retention: %s", res.as_dict())
        res.errors.extend(self.sweep_copies())
        return res

    def sweep_copies(self) -> list[str]:
        """Snapshots, caches, exports and reports have their own rules (``oversight.privacy.copies``);
        run every ``COPIES_CHECK_S`` so expired reveal copies and an overfull cache go within a minute."""
        copies = sweep_copies(self.db, self.cfg, utcnow())
        if copies.deleted or copies.errors:
            log.info("copy retention: %s", copies.as_dict())
        return copies.errors

    def _start_worker(self, cam: CameraConfig) -> CameraWorker:
        worker = CameraWorker(
            cam, self.db, self.bus, self.storage, self.analytics_factory, **self.worker_options
        )
        self.workers[cam.id] = worker
        worker.start()
        return worker

    def enforce_space(self) -> RetentionResult:
        res = enforce_space(self.db, self.cfg, self.storage, self.on_delete)
        if res.deleted or res.errors:
            log.warning("storage: %s", res.as_dict())
        return res

    def _retention_loop(self) -> None:
        """Full retention every ``retention_interval_s``; the storage cap and free disk in between."""
        next_full = next_copies = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_full:
                    next_full = time.monotonic() + self.retention_interval_s
                    next_copies = time.monotonic() + COPIES_CHECK_S
                    self.run_retention()
                elif time.monotonic() >= next_copies:
                    next_copies = time.monotonic() + COPIES_CHECK_S
                    self.sweep_copies()
                self.enforce_space()
            except Exception:
                log.exception("retention run failed")
            if self._stop.wait(min(SPACE_CHECK_S, self.retention_interval_s)):
                return
