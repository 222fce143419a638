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

from oversight.config.schema import SiteConfig
from oversight.events.bus import EventBus
from oversight.store.db import Database
from oversight.store.models import Event, RecordingGap, Segment

log = logging.getLogger(__name__)


def database_url(cfg: SiteConfig) -> str:
    if cfg.site.database_url:
        return cfg.site.database_url
    return f"sqlite:///{(Path(cfg.site.data_dir) / 'oversight.db').resolve()}"


class Service:
    def __init__(self, cfg: SiteConfig, config_path: Path | None = None):
        from oversight.runtime import Runtime

        self.cfg = cfg
        self.config_path = config_path
        Path(cfg.site.data_dir).mkdir(parents=True, exist_ok=True)
        self.db = Database(database_url(cfg))
        self.db.migrate()
        from oversight.privacy.audit import install_signer
        from oversight.privacy.keys import load_or_create_signing_key

        install_signer(load_or_create_signing_key(cfg.site.data_dir))  # signed audit checkpoints
        self.bus = EventBus()
        self.runtime = Runtime(cfg, self.db, self.bus, analytics_factory="default", privacy_factory="default")
        self.mqtt: Any = None
        self.web_ctx: Any = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None

    def start(self, host: str | None = "127.0.0.1", port: int = 8080) -> None:
        if self.cfg.site.mqtt is not None:
            from oversight.events.mqtt import MqttPublisher

            self.mqtt = MqttPublisher(self.cfg.site.mqtt, self.bus)
            self.mqtt.start()
        self.runtime.start()
        if host is not None:
            self._start_web(host, port)

    def _start_web(self, host: str, port: int) -> None:
        from oversight.web.context import AppContext
        from oversight.web.server import make_server

        self.web_ctx = AppContext(
            cfg=self.cfg, db=self.db, bus=self.bus, runtime=self.runtime, config_path=self.config_path
        )
        self._server = make_server(self.web_ctx, host, port)
        self._server_thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._server_thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
        self.runtime.stop()
        if self.mqtt is not None:
            self.mqtt.stop()

    def close(self) -> None:
        self.db.dispose()

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
        return {
            "cameras": len(statuses),
            "cameras_online": sum(1 for st in statuses if st.get("online")),
            "camera_status": statuses,
            "segments": int(segs),
            "recorded_mb": round(int(seg_bytes) / 1e6, 1),
            "gaps": int(gaps),
            "events": dict(sorted(events.items())),
        }
