"""What the web app needs from the rest of the system, in one object handed to ``create_app``.

Routes read everything through this context (never module globals) so tests and the bench can
build an app around a fake runtime, and ``oversight serve`` around the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from oversight.config.incidents import IncidentSettings
from oversight.config.schema import RedactionConfig, SiteConfig
from oversight.events.bus import EventBus
from oversight.incidents.service import IncidentService
from oversight.privacy.export_jobs import ExportJobs
from oversight.store.db import Database


class FrameRedactor(Protocol):
    def redact(self, frame_bgr: np.ndarray, tracks: Any = None) -> np.ndarray: ...


RedactorFactory = Callable[[RedactionConfig], FrameRedactor]


@dataclass
class AppContext:
    """Everything the web app reads: config, database, bus and (optionally) the camera runtime.

    ``runtime`` is an ``oversight.runtime.Runtime`` (``.workers[id].latest_frame()``,
    ``.workers[id].status()``, ``.status()``, ``.apply_camera(cam)``) or ``None`` (API-only app).
    ``redactor_factory`` builds the per-camera live/playback redactor; ``None`` picks
    ``oversight.privacy.redaction.Redactor`` when installed and a whole-frame blur otherwise.
    """

    cfg: SiteConfig
    db: Database
    bus: EventBus
    runtime: Any | None = None
    config_path: Path | None = None
    redactor_factory: RedactorFactory | None = None
    cache_dir: Path | None = None  # redacted playback files; default <data_dir>/cache/web
    secure_cookies: bool | None = None  # None: Secure when the request is https
    bootstrap_secret: str | None = None  # one-time first-admin secret, set by ensure_bootstrap
    lock: threading.RLock = field(default_factory=threading.RLock)  # guards cfg edits
    extras: dict[str, Any] = field(default_factory=dict)  # per-app caches (redactors, frames)
    incidents: IncidentService | None = None  # built by oversight.compose; see incident_service()
    exports: ExportJobs | None = None  # built and started by oversight.compose; see export_jobs()

    @property
    def data_dir(self) -> Path:
        return Path(self.cfg.site.data_dir)

    def web_cache_dir(self) -> Path:
        d = self.cache_dir or self.data_dir / "cache" / "web"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def segment_file(self, segment: Any) -> Path | None:
        """The segment as a local file: itself on local disk, a cached download from object
        storage in a cluster (``extras["segment_cache"]``); None when it is gone."""
        cache = self.extras.get("segment_cache")
        try:
            path = cache.local(segment.path) if cache is not None else Path(segment.path)
        except Exception:  # deleted from the bucket by retention, or storage unreachable
            return None
        return path if path.is_file() else None

    def incident_service(self) -> IncidentService:
        """The installation's incident service. An app built without the composition root (tests,
        API-only tools) gets a plain one on first use, with the configured units; its integrations
        and hold sweeper exist only where ``oversight.compose`` built them."""
        if self.incidents is None:
            with self.lock:
                if self.incidents is None:
                    svc = IncidentService(self.cfg, self.bus)
                    with self.db.session() as s:
                        svc.sync_units(s)
                    self.incidents = svc
        svc = self.incidents
        if svc.cfg is not self.cfg:  # the config was edited (cameras added): follow it
            svc.cfg = self.cfg
            svc.settings = self.cfg.incidents or IncidentSettings()
        return svc

    def export_jobs(self) -> ExportJobs:
        """The installation's export job runner. An app built without the composition root (tests)
        gets one started on first use (which also runs again any job a restart interrupted)."""
        if self.exports is None:
            with self.lock:
                if self.exports is None:
                    jobs = ExportJobs(self.db, self.cfg)
                    jobs.start()
                    self.exports = jobs
        self.exports.cfg = self.cfg  # the config was edited (cameras added): follow it
        return self.exports

    def worker(self, camera_id: str) -> Any | None:
        workers = getattr(self.runtime, "workers", None) or {}
        return workers.get(camera_id)
