"""One camera inside a Ray actor: the same ``CameraWorker`` as the embedded runtime, with its own
database pool (PostgreSQL), its own bus bridged to the broker, and storage shared by all nodes (S3).

Why one actor per camera: Ray places it on a node with capacity, and when that node dies Ray
re-creates it elsewhere (``max_restarts=-1``) by running ``__init__`` again. A re-created actor
records the outage as a ``RecordingGap`` from the end of the camera's last indexed segment (what
was in the dead node's spool is the only footage lost) until it starts reading again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig
from oversight.events.bridge import BusBridge
from oversight.events.bus import EventBus
from oversight.recording.index import open_gap
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import Segment

log = logging.getLogger(__name__)


def make_storage(spec: dict[str, Any]) -> LocalStorage:
    """Storage from a deployment spec: ``{"kind": "local"|"s3", ...StorageSettings fields}``."""
    st = spec.get("storage") or {"kind": "local"}
    data_dir = Path(spec.get("data_dir") or "var")
    if st.get("kind") == "s3":
        from oversight.config.cluster import StorageSettings
        from oversight.recording.s3 import S3Storage

        return S3Storage.from_settings(StorageSettings.model_validate(st), data_dir)
    return LocalStorage(data_dir)


class CameraHost:
    def __init__(self, cam: dict[str, Any], spec: dict[str, Any]):
        import ray

        self.cam = CameraConfig.model_validate(cam)
        ctx = ray.get_runtime_context()
        self.node_id: str = ctx.get_node_id()
        self.restarted = bool(ctx.was_current_actor_reconstructed)
        self.started_at = datetime.now(UTC)
        self.db = Database(spec["db_url"])
        self.bus = EventBus()
        self.bridge: BusBridge | None = None
        if spec.get("broker_url"):
            origin = f"cam-{self.cam.id}-{os.getpid()}"
            prefix = spec.get("broker_prefix", "oversight/bus")
            self.bridge = BusBridge(self.bus, spec["broker_url"], prefix, origin)
            try:
                self.bridge.start(wait=3)
            except TimeoutError:  # keep recording; paho keeps trying and queues meanwhile
                log.warning("camera %s: broker not reachable yet", self.cam.id)
        self.storage = make_storage(spec)
        self._recover()
        if self.restarted:
            self._record_lost_host_gap()
        self.detector = self._remote_detector(spec)
        self.data_dir = Path(spec.get("data_dir") or "var")
        from oversight.config.schema import SiteConfig
        from oversight.events.alerts import AlertManager

        # this camera's alert queue entries (bridged to every web server like its events)
        self.alerts = AlertManager(SiteConfig(cameras=[self.cam]), self.db, self.bus, server_alerts=False)
        self.alerts.start()
        self.worker = CameraWorker(
            self.cam,
            self.db,
            self.bus,
            self.storage,
            self._analytics if self.cam.detect.enabled else None,
            **(spec.get("worker_options") or {}),
        )
        self.worker.start()
        self.bus.publish(
            "cluster.camera",
            {
                "camera_id": self.cam.id,
                "node_id": self.node_id,
                "host": socket.gethostname(),
                "restarted": self.restarted,
                "at": self.started_at.isoformat(),
            },
        )

    # -- startup ---------------------------------------------------------

    def _recover(self) -> None:
        from oversight.recording.s3 import S3Storage, recover_objects

        try:
            if isinstance(self.storage, S3Storage):
                recover_objects(self.db, self.storage, self.cam.id)
        except Exception:
            log.exception("camera %s: storage recovery failed", self.cam.id)

    def _record_lost_host_gap(self) -> None:
        """The previous incarnation died (with its node, or its process crashed): footage since the
        camera's last indexed segment is gone."""
        with self.db.session() as s:
            last = s.scalar(select(func.max(Segment.end)).where(Segment.camera_id == self.cam.id))
        start = last or self.started_at
        reason = f"camera host lost (node or process died); restarted on node {self.node_id[:12]}"
        open_gap(self.db, self.cam.id, start, reason)

    def _remote_detector(self, spec: dict[str, Any]) -> Any:
        names = spec.get("detector_actors") or []
        if not names or self.cam.detect.detector == "none":
            return None
        from oversight.cluster.detector_service import RemoteDetector, pick_replica

        handle = pick_replica(names, spec.get("namespace"), self.node_id, self.cam.id)
        if handle is None:
            log.warning("camera %s: no detector service replica found; detecting locally", self.cam.id)
            return None
        return RemoteDetector(handle, name=f"service:{self.cam.detect.detector}")

    def _analytics(self, cam: CameraConfig) -> Any:
        from oversight.analytics.pipeline import CameraAnalytics

        snapshots = self.data_dir / "snapshots" / cam.id
        snapshots.mkdir(parents=True, exist_ok=True)
        return CameraAnalytics(cam, self.db, self.bus, snapshots, detector=self.detector, alerts=self.alerts)

    # -- remote API ------------------------------------------------------

    def status(self) -> dict[str, Any]:
        st = self.worker.status()
        st.update(
            node_id=self.node_id,
            pid=os.getpid(),
            restarted=self.restarted,
            started_at=self.started_at.isoformat(),
            bridge=self.bridge.stats() if self.bridge is not None else None,
        )
        return st

    def host_health(self) -> dict[str, Any]:
        """This node's own numbers for the head's health check: its clock (compared by the head
        against its own over the round trip), the disk under its data directory, its bus queues."""
        import shutil

        free: int | None = None
        total: int | None = None
        try:
            usage = shutil.disk_usage(self.data_dir if self.data_dir.exists() else Path.cwd())
            free, total = int(usage.free), int(usage.total)
        except OSError:
            pass  # reported as unknown
        return {
            "host": f"{socket.gethostname()}/{self.node_id[:8]}",
            "node_id": self.node_id,
            "time": time.time(),
            "disk_free_bytes": free,
            "disk_total_bytes": total,
            "queues": self.bus.queue_depths(),
        }

    def latest_frame(self) -> tuple[np.ndarray, datetime] | None:
        return self.worker.latest_frame()

    def ping(self) -> str:
        return self.node_id

    def stop(self) -> bool:
        """Close the open segment (uploaded and indexed), end open events, disconnect."""
        self.worker.stop(timeout=10)
        self.alerts.stop()
        analytics = self.worker.analytics
        if analytics is not None and hasattr(analytics, "close"):
            try:
                analytics.close()
            except Exception:
                log.exception("camera %s: closing analytics failed", self.cam.id)
        if self.bridge is not None:
            time.sleep(0.2)  # let the last status/segment messages leave
            self.bridge.stop()
        self.db.dispose()
        return True
