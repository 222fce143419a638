"""The running site: one CameraWorker per enabled camera, startup recovery, periodic retention,
and a watchdog that never lets a stalled camera stage go unnoticed.

``apply_camera`` swaps a single camera's worker so a config change on one camera never interrupts
recording on the others. The watchdog checks every camera's stages (ingest, recording, decode,
analytics, live) every ``watchdog_interval_s``: a stage stuck on one piece of work for
``stall_s`` is restarted (decode/analytics/live: the camera's decode side; ingest/recording: the
whole worker), its outage is stored as a ``StageOutage`` row until it advances again, and
``camera.health`` messages ("stalled", "recovered") go out on the bus.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from oversight.cameras.frames import AnalyticsFactory
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig, SiteConfig
from oversight.events import topics
from oversight.events.alerts import AlertManager
from oversight.events.bus import EventBus
from oversight.health import HealthMonitor
from oversight.privacy import audit
from oversight.privacy.copies import sweep_copies
from oversight.privacy.sar import SarReminders
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
from oversight.store.health import StageOutage
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
        watchdog_interval_s: float = 2.0,
        stall_s: float = 20.0,
        privacy_factory: Any = None,
    ):
        self.cfg = cfg
        self.db = db
        self.bus = bus
        self.storage = storage or LocalStorage(cfg.site.data_dir)
        self.analytics_factory: AnalyticsFactory | None = (
            self.default_analytics_factory if analytics_factory == "default" else analytics_factory
        )
        # the privacy stage writing each camera's privacy track; "default": faces found at ingest
        self.privacy_factory = (
            self.default_privacy_factory if privacy_factory == "default" else privacy_factory
        )
        self.retention_interval_s = retention_interval_s
        self.on_delete = on_delete
        self.worker_options = worker_options or {}  # backoff/timeouts, e.g. for tests
        self.workers: dict[str, CameraWorker] = {}
        self.alerts = AlertManager(cfg, db, bus)  # events of alerting rules -> the alert queue
        # problems -> health alerts
        self.health = HealthMonitor(cfg, db, self.status, self.alerts, queues=bus.queue_depths)
        self.sar_reminders: SarReminders | None = None  # subject access deadlines -> alerts
        self.last_retention: RetentionResult | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._retention_thread: threading.Thread | None = None
        self.watchdog_interval_s = watchdog_interval_s
        self.stall_s = stall_s  # above the read timeout, so a slow network is not a stall
        self._watchdog_thread: threading.Thread | None = None
        self._outages: dict[tuple[str, str], int] = {}  # (camera, stage) -> open StageOutage id
        self.started = False

    def default_analytics_factory(self, cam: CameraConfig) -> Any:
        """``CameraAnalytics``, imported on first use: a runtime that only records never loads it."""
        from oversight.analytics.pipeline import CameraAnalytics

        snapshots = Path(self.cfg.site.data_dir).expanduser() / "snapshots"
        snapshots.mkdir(parents=True, exist_ok=True)
        return CameraAnalytics(
            cam, self.db, self.bus, snapshots, timezone=self.cfg.site.timezone, alerts=self.alerts
        )

    def default_privacy_factory(self, cam: CameraConfig, analytics: Any) -> Any:
        """Face regions once per sampled frame, sharing the analytics' tracked persons."""
        return privacy_stage(cam, analytics, Path(self.cfg.site.data_dir).expanduser() / "privacy")

    def start(self) -> None:
        with self._lock:
            if self.started:
                return
            self.started = True
            self._stop.clear()
            self.alerts.start()
            self.health.start()
            self.sar_reminders = SarReminders(self.db, self.alerts)
            self.sar_reminders.start()
            recover(self.db, self.storage)
            for cam in self.cfg.cameras:
                self._start_worker(cam)
            if self.retention_interval_s > 0:
                self._retention_thread = threading.Thread(
                    target=self._retention_loop, name="retention", daemon=True
                )
                self._retention_thread.start()
            if self.watchdog_interval_s > 0:
                self._watchdog_thread = threading.Thread(
                    target=self._watchdog_loop, name="watchdog", daemon=True
                )
                self._watchdog_thread.start()

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
        if self.sar_reminders is not None:
            self.sar_reminders.stop()
        self.alerts.stop()
        if self._watchdog_thread is not None:
            self._watchdog_thread.join(10)
            self._watchdog_thread = None

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
        try:
            self._prune_privacy_tracks()
        except Exception:
            log.exception("privacy track pruning failed")
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

    def _prune_privacy_tracks(self) -> None:
        """Privacy-track hours older than a camera's oldest remaining segment go with the footage
        (a held segment keeps its hours: they are not older than it)."""
        from sqlalchemy import func, select

        from oversight.privacy.track import prune

        root = Path(self.cfg.site.data_dir).expanduser() / "privacy"
        if not root.is_dir():
            return
        with self.db.session() as s:
            oldest = dict(
                s.execute(
                    select(Segment.camera_id, func.min(Segment.start)).group_by(Segment.camera_id)
                ).all()
            )
        for cam_dir in root.iterdir():
            first = oldest.get(cam_dir.name)
            if first is not None:
                prune(root, cam_dir.name, first.timestamp())

    def _start_worker(self, cam: CameraConfig) -> CameraWorker:
        worker = CameraWorker(
            cam,
            self.db,
            self.bus,
            self.storage,
            self.analytics_factory,
            privacy_factory=self.privacy_factory,
            **self.worker_options,
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

    # -- watchdog --------------------------------------------------------

    def check_stages(self) -> None:
        """One watchdog pass: restart stalled stages, record and announce outages and recoveries."""
        now = time.monotonic()
        with self._lock:
            workers = list(self.workers.items())
        for cam_id, worker in workers:
            stalled = worker.stalled(self.stall_s, now)
            ages = worker.stage_ages(now)
            for stage, late in stalled.items():
                if (cam_id, stage) not in self._outages:
                    self._outages[(cam_id, stage)] = self._open_outage(cam_id, stage, late)
                    self._health(cam_id, stage, "stalled", late)
                worker.restarts[stage] = worker.restarts.get(stage, 0) + 1
                log.warning("camera %s: %s stalled for %.1fs; restarting it", cam_id, stage, late)
                if stage in ("ingest", "recording"):
                    self._restart_worker(cam_id, worker)
                    break  # the new worker starts clean
                worker.restart_sampler()
            for (cid, stage), outage_id in list(self._outages.items()):
                age = ages.get(stage)
                if cid == cam_id and stage not in stalled and age is not None and age < self.stall_s:
                    self._close_outage(outage_id)
                    del self._outages[(cid, stage)]
                    self._health(cam_id, stage, "recovered", age)

    def _restart_worker(self, cam_id: str, old: CameraWorker) -> None:
        with self._lock:
            if self.workers.get(cam_id) is not old or not self.started:
                return
            new = self._start_worker(old.cam)
            new.restarts = dict(old.restarts)
        # the old threads may be stuck: stop them in the background, never wait on them here
        threading.Thread(target=old.stop, args=(1.0,), name=f"stop-{cam_id}", daemon=True).start()

    def _open_outage(self, cam_id: str, stage: str, late: float) -> int:
        start = datetime.now(UTC) - timedelta(seconds=late)
        reason = f"{stage} stalled: restarted"
        with self.db.session() as s:
            row = StageOutage(camera_id=cam_id, stage=stage, start=start, reason=reason)
            s.add(row)
            s.flush()
            return row.id

    def _close_outage(self, outage_id: int) -> None:
        with self.db.session() as s:
            row = s.get(StageOutage, outage_id)
            if row is not None:
                row.end = max(datetime.now(UTC), row.start)

    def _health(self, cam_id: str, stage: str, state: str, age: float) -> None:
        msg = {"camera_id": cam_id, "stage": stage, "state": state, "age_s": round(age, 3)}
        self.bus.publish(topics.CAMERA_HEALTH, msg)

    def _watchdog_loop(self) -> None:
        while not self._stop.wait(self.watchdog_interval_s):
            try:
                self.check_stages()
            except Exception:
                log.exception("watchdog pass failed")


def privacy_stage(cam: CameraConfig, analytics: Any, root: Path) -> Any:
    """The camera's ``FaceTrackStage`` fed by its analytics' tracks (serve and the benches build it
    here, so a bench measures what serve runs)."""
    from oversight.privacy.track import FaceTrackStage

    size = (cam.detect.width, cam.detect.height)

    def tracks() -> tuple[Any, tuple[int, int]]:
        return getattr(analytics, "tracks", None), size

    def quiet() -> bool:
        return not getattr(analytics, "motion_active", True) and not getattr(analytics, "tracks", None)

    def moving() -> Any:
        return getattr(analytics, "motion_mask", None)

    if analytics is None:
        return FaceTrackStage.for_camera(cam, root)
    return FaceTrackStage.for_camera(cam, root, tracks, quiet, moving)
