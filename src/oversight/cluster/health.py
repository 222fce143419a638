"""The cluster head's health check: the one process of a deployment that raises server health
alerts, for itself (disk, database, clock against ``alarms.time_reference``, its queues) and for
the camera hosts' reports (their clocks against the head's, their disks, their queues), besides the
cameras' own health problems.

Why the head: camera hosts come and go with their actors and each sees one camera; the head sees
every camera's status and every node, and there is one of it. Its alert manager is
``health_only``: it restores health situations after a restart and escalates only alerts of no
camera (server and host problems); the cameras' alerts escalate in their hosts' managers, as
before, so nothing escalates twice. Alerts go to the broker
through a bus bridge, so every web server's clients see them.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from oversight.config.schema import SiteConfig
from oversight.events.alerts import AlertManager
from oversight.events.bridge import BusBridge
from oversight.events.bus import EventBus
from oversight.health import HealthMonitor
from oversight.store.db import Database

log = logging.getLogger(__name__)


class ClusterHealth:
    def __init__(self, deployment: Any, db: Database, bus: EventBus | None = None, interval_s: float = 10.0):
        cfg: SiteConfig = deployment.cfg
        self.bus = bus or EventBus()
        self.bridge: BusBridge | None = None
        if bus is None and cfg.cluster is not None and cfg.cluster.broker_url:
            self.bridge = BusBridge(
                self.bus, cfg.cluster.broker_url, cfg.cluster.broker_prefix, f"cluster-head-{os.getpid()}"
            )
        self.alerts = AlertManager(cfg, db, self.bus, health_only=True)
        self.monitor = HealthMonitor(
            cfg,
            db,
            deployment.status,
            self.alerts,
            interval_s=interval_s,
            queues=self.bus.queue_depths,
            hosts=deployment.host_reports,
        )
        deployment.health = self.monitor  # /api/health and /metrics of the head's web server read it

    def start(self) -> None:
        if self.bridge is not None:
            try:
                self.bridge.start(wait=5)
            except TimeoutError:  # paho keeps trying; alerts queue meanwhile
                log.warning("cluster health: broker not reachable yet")
        self.alerts.start()
        self.monitor.start()

    def stop(self) -> None:
        self.monitor.stop()
        self.alerts.stop()
        if self.bridge is not None:
            self.bridge.stop()
