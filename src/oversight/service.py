"""One Oversight installation in one process: database, bus, camera runtime, MQTT and web server.

``oversight serve`` and ``oversight demo`` both run a ``Service``; only where the config comes
from differs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from oversight.compose import build
from oversight.config.schema import SiteConfig
from oversight.events.models import Alert
from oversight.store.instance_lock import DataDirLock
from oversight.store.models import Event, RecordingGap, Segment
from oversight.web.context import AppContext
from oversight.web.server import make_server

log = logging.getLogger(__name__)


class Service:
    """The parts from ``oversight.compose.build`` plus the web server on uvicorn, in a thread.

    Holds the data directory's lock from construction until ``close``: a second ``Service`` on the
    same directory raises ``DataDirInUse`` before it opens the database or recovers anything."""

    def __init__(self, cfg: SiteConfig, config_path: Path | None = None, lock: DataDirLock | None = None):
        self.cfg = cfg
        self.config_path = config_path
        self.lock = (lock or DataDirLock(cfg.site.data_dir)).acquire()
        try:
            self.parts = build(cfg, config_path, runtime_options={"privacy_factory": "default"})
        except BaseException:
            self.lock.release()
            raise
        self.db, self.bus, self.runtime = self.parts.db, self.parts.bus, self.parts.runtime
        self.web_ctx: AppContext | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None

    def start(self, host: str | None = "127.0.0.1", port: int = 8080) -> None:
        self.parts.start()
        if host is not None:
            self._start_web(host, port)

    def _start_web(self, host: str, port: int) -> None:
        self.web_ctx = self.parts.web_context()
        self._server = make_server(self.web_ctx, host, port)
        self._server_thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._server_thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
        self.parts.stop()

    def close(self) -> None:
        self.parts.close()
        self.lock.release()

    def summary(self, statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Cameras online, segments written, events by type: what an operator checks first."""
        statuses = self.runtime.status() if statuses is None else statuses
        with self.db.session() as s:
            segs, seg_bytes = s.execute(
                select(func.count(Segment.id), func.coalesce(func.sum(Segment.bytes), 0))
            ).one()
            gaps = s.scalar(select(func.count(RecordingGap.id))) or 0
            rows = s.execute(
                select(Event.rule_type, Event.label, func.count(Event.id)).group_by(
                    Event.rule_type, Event.label
                )
            )
            events: Counter[str] = Counter()
            for rule_type, label, n in rows:
                events[f"{rule_type or 'object'}:{label}"] += n
            alerts = s.scalar(select(func.count(Alert.id))) or 0
        return {
            "cameras": len(statuses),
            "cameras_online": sum(1 for st in statuses if st.get("online")),
            "camera_status": statuses,
            "segments": int(segs),
            "recorded_mb": round(int(seg_bytes) / 1e6, 1),
            "gaps": int(gaps),
            "events": dict(sorted(events.items())),
            "alerts": int(alerts),  # situations for an operator: only rules marked alert: true
        }
