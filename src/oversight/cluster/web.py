"""A stateless web server of a deployment: any number run at once behind a load balancer.

It holds no state of its own: users, sessions, events and segments are in PostgreSQL, footage
is in S3, and its bus is bridged to the broker so alerts raised on any node reach its WebSocket
clients. Camera status and live frames come from the camera actors when it can reach Ray.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from oversight.cluster.deploy import NAMESPACE, ActorWorker
from oversight.compose import build
from oversight.config.schema import SiteConfig
from oversight.events.bridge import BusBridge
from oversight.events.bus import EventBus
from oversight.store.db import Database

log = logging.getLogger(__name__)


class ClusterView:
    """The ``runtime`` of a web server that does not own the deployment: camera actors by name."""

    def __init__(self, cfg: SiteConfig, namespace: str = NAMESPACE):
        self.cfg = cfg
        self.namespace = namespace

    @property
    def workers(self) -> dict[str, ActorWorker]:
        import ray

        out: dict[str, ActorWorker] = {}
        for cam in self.cfg.cameras:
            try:
                handle = ray.get_actor(f"oversight-cam-{cam.id}", namespace=self.namespace)
            except ValueError:
                continue
            out[cam.id] = ActorWorker(cam.id, handle)
        return out

    def status(self) -> list[dict[str, Any]]:
        return [w.status() for w in self.workers.values()]


def cluster_database_url(cfg: SiteConfig) -> str:
    url = cfg.site.database_url
    if not url or not url.startswith("postgresql"):
        raise ValueError("a cluster needs site.database_url: postgresql://... (shared by all nodes)")
    return url


class WebNode:
    """The parts from ``oversight.compose.build`` (a cluster view as runtime, the shared database,
    a bus bridged to the broker) plus the web app on uvicorn, in a thread."""

    def __init__(
        self,
        cfg: SiteConfig,
        config_path: Path | None = None,
        runtime: Any = None,
        db: Database | None = None,
        bus: EventBus | None = None,
    ):
        assert cfg.cluster is not None
        self.cfg = cfg
        self.config_path = config_path
        self.parts = build(
            cfg,
            config_path,
            db=db,
            db_url=None if db is not None else cluster_database_url(cfg),
            bus=bus,
            runtime=runtime,
            event_mqtt=False,  # the camera hosts publish events to the site broker themselves
            seal=False,  # one sealer per installation: the cluster head signs every node's entries
        )
        self.db, self.bus, self.runtime = self.parts.db, self.parts.bus, runtime
        self.bridge = BusBridge(self.bus, cfg.cluster.broker_url, cfg.cluster.broker_prefix)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, host: str, port: int) -> None:
        import uvicorn

        from oversight.web.app import create_app

        self.bridge.start(wait=10)
        self.parts.start()
        ctx = self.parts.web_context()
        assert self.cfg.cluster is not None
        if self.cfg.cluster.storage.kind == "s3":  # for routes that read segment files (see docs/cluster.md)
            from oversight.recording.s3 import S3Storage, SegmentCache

            storage = S3Storage.from_settings(self.cfg.cluster.storage, self.cfg.site.data_dir)
            ctx.extras["segment_cache"] = SegmentCache(storage, ctx.web_cache_dir() / "segments")
        app = create_app(ctx)
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.parts.stop()
        self.bridge.stop()
