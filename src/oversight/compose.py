"""The composition root: the one place that builds an installation's parts and wires them together.

``serve`` and ``demo`` (through ``Service``), a cluster web node and the benchmarks all call
``build`` with different parts, so what exists in one exists in all: the migrated database, the
bus, the audit sealer, the camera runtime, the incident service with its integrations and hold
sweeper, the event MQTT publisher, and the web context. Invariant: no other module constructs
these for a running installation, and ``start``/``stop`` are the only switches of their threads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from oversight.config.schema import SiteConfig, database_url
from oversight.events.bus import EventBus
from oversight.events.mqtt import MqttPublisher
from oversight.incidents.holds import HoldSweeper
from oversight.incidents.integration import Integration
from oversight.incidents.service import IncidentService
from oversight.privacy.audit_trail import Sealer, sealer_for
from oversight.privacy.export_jobs import ExportJobs
from oversight.runtime import Runtime
from oversight.store.db import Database
from oversight.web.context import AppContext
from oversight.web.push import PushNotifier

log = logging.getLogger(__name__)


def open_database(cfg: SiteConfig, url: str | None = None) -> Database:
    """The site's database (``url`` or ``database_url(cfg)``), migrated to the newest schema."""
    Path(cfg.site.data_dir).mkdir(parents=True, exist_ok=True)
    db = Database(url or database_url(cfg))
    db.migrate()
    return db


@dataclass
class Installation:
    """The parts of one installation in this process; ``start``/``stop`` run their threads."""

    cfg: SiteConfig
    db: Database
    bus: EventBus
    incidents: IncidentService
    sealer: Sealer | None = None  # signs the audit digests; one per installation
    runtime: Any = None  # oversight.runtime.Runtime, a cluster view, or None (web only)
    owns_runtime: bool = False  # built here, so started and stopped here (a deployment is not)
    config_path: Path | None = None
    integration: Integration | None = None  # incident webhooks and MQTT
    sweeper: HoldSweeper | None = None
    event_mqtt: MqttPublisher | None = None
    exports: ExportJobs | None = None  # evidence exports in the background
    push: PushNotifier | None = None  # Web Push to phones: P1 alerts, P1 incidents, reveals waiting
    started: bool = False

    def web_context(self, **options: Any) -> AppContext:
        """The web app's view of these parts (options: cache_dir, redactor_factory, ...)."""
        ctx = AppContext(
            cfg=self.cfg,
            db=self.db,
            bus=self.bus,
            runtime=self.runtime,
            config_path=self.config_path,
            incidents=self.incidents,
            exports=self.exports,
            **options,
        )
        if self.push is not None:
            ctx.extras["push_sender"] = self.push.sender
        return ctx

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        if self.sealer is not None:
            self.sealer.start()
        if self.event_mqtt is not None:
            self.event_mqtt.start()
        if self.integration is not None:
            self.integration.start()
        if self.sweeper is not None:
            self.sweeper.start()
        if self.push is not None:
            self.push.start()
        if self.exports is not None:
            self.exports.start()  # runs again the jobs a restart interrupted
        if self.owns_runtime:
            self.runtime.start()

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if self.owns_runtime:
            self.runtime.stop()
        for part in (self.push, self.exports, self.sweeper, self.integration, self.event_mqtt):
            if part is not None:
                part.stop()
        if self.sealer is not None:
            self.sealer.stop()

    def close(self) -> None:
        self.db.dispose()


def build(
    cfg: SiteConfig,
    config_path: Path | None = None,
    *,
    db: Database | None = None,
    db_url: str | None = None,
    bus: EventBus | None = None,
    runtime: Literal["local"] | Any | None = "local",
    runtime_options: dict[str, Any] | None = None,
    integrations: bool = True,
    event_mqtt: bool = True,
    seal: bool = True,
) -> Installation:
    """Build (not start) an installation.

    ``runtime="local"`` runs this site's cameras in this process; a cluster web node passes its view
    of the camera actors, an API-only process ``None``; ``runtime_options`` go to the local
    ``Runtime`` (e.g. ``retention_interval_s``). ``integrations`` adds incident webhooks/MQTT
    and the hold sweeper; ``event_mqtt`` publishes events to ``site.mqtt`` (a cluster's camera hosts
    do that themselves). ``seal`` runs the installation's one audit sealer (signed digests chained to
    genesis) in this process; a cluster's web nodes leave it to the cluster head.
    """
    db = db or open_database(cfg, db_url)
    sealer = sealer_for(db, cfg) if seal else None
    if sealer is not None and sealer.created:
        log.warning(
            "audit genesis created; keep this fingerprint off the server: %s", sealer.genesis.fingerprint
        )
    bus = bus or EventBus()
    owns_runtime = isinstance(runtime, str) and runtime == "local"
    if owns_runtime:
        runtime = Runtime(cfg, db, bus, analytics_factory="default", **(runtime_options or {}))
    incidents = IncidentService(cfg, bus)
    with db.session() as s:
        incidents.sync_units(s)
    parts = Installation(cfg, db, bus, incidents, sealer, runtime, owns_runtime, config_path)
    parts.exports = ExportJobs(db, cfg)
    if integrations:
        parts.integration = Integration(incidents.settings, bus, cfg.site.mqtt)
        parts.sweeper = HoldSweeper(db, incidents)
        parts.push = PushNotifier(db, cfg, bus)  # one per installation, like the incident webhooks
    if event_mqtt and cfg.site.mqtt is not None:
        parts.event_mqtt = MqttPublisher(cfg.site.mqtt, bus)
    return parts
