"""Alerts raised the way the system raises them, for the tests that read their titles in Spanish."""

from __future__ import annotations

from oversight.config.schema import SiteConfig
from oversight.events.alerts import AlertManager
from oversight.events.bus import EventBus
from oversight.health import PROBLEMS
from oversight.i18n import Message
from oversight.store.base import utcnow
from oversight.store.db import Database


def rule_alerts(db: Database, bus: EventBus, cam_id: str, name: str) -> SiteConfig:
    """Raise a rule alert (a person in a zone, through ``AlertManager.observe``) and a health alert
    on camera ``cam_id``; returns the configuration that raised them."""
    zone = {"id": "fuente", "type": "zone", "purpose": "personas en la fuente", "alert": True}
    zone["polygon"] = [[100, 100], [300, 100], [300, 300], [100, 300]]
    cam = {"id": cam_id, "name": name, "purpose": "seguridad", "streams": {"record": "/dev/null"}}
    cfg = SiteConfig.model_validate({"cameras": [{**cam, "rules": [zone]}]})
    alerts = AlertManager(cfg, db, bus)
    start = utcnow().isoformat()
    alerts.observe(
        {
            "camera_id": cam_id,
            "rule_id": "fuente",
            "phase": "start",
            "id": None,
            "label": "person",
            "start": start,
        }
    )
    alerts.raise_health(cam_id, "camera_down", Message(PROBLEMS["camera_down"][1], {"name": name}), "P2")
    return cfg
