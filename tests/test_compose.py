"""The composition root: what one kind of process has, all have.

A cluster web node's audit entries are sealed in signed digests like ``serve``'s (they used to be
left unsigned), and the incident service, its integrations and its hold sweeper live and die with
the installation, not with a router: there is no process-wide default service any more.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import oversight.incidents.service as incident_service_module
from oversight.cluster.web import WebNode
from oversight.compose import build
from oversight.config.schema import SiteConfig
from oversight.privacy import audit, audit_trail
from oversight.privacy.keys import fingerprint, load_or_create_signing_key
from oversight.privacy.models import AuditEntry
from oversight.store.db import Database


def _cfg(tmp_path: Path, **sections: Any) -> SiteConfig:
    return SiteConfig.model_validate({"site": {"data_dir": str(tmp_path / "data")}, **sections})


def _look_at_footage(db: Database, times: int) -> None:
    with db.session() as s:
        for i in range(times):
            audit.record(s, "olga", "footage.view", "camera", f"cam{i % 3}", purpose="test")


def test_a_cluster_web_node_entries_are_covered_by_signed_digests(db: Database, tmp_path: Path) -> None:
    """Entries a web node writes are sealed by the installation's one sealer (the cluster head's),
    so ``verify_trail`` accepts them and a digest names their last sequence number."""
    cfg = _cfg(tmp_path, cluster={})
    node = WebNode(cfg, db=db)
    assert node.parts.sealer is None  # one sealer per installation: not every web node
    head = build(cfg, db=db, runtime=None, integrations=False)
    assert head.sealer is not None
    head.start()
    _look_at_footage(db, 5)
    head.sealer.seal("tick")
    with db.session() as s:
        last = s.scalar(select(func.max(AuditEntry.seq)))
        result = audit_trail.verify_trail(s, cfg.site.data_dir, head.sealer.every_s)
        newest = audit_trail.latest_digest(s, cfg.site.data_dir)
    assert result.ok, result.message
    assert newest is not None and newest["seq"] >= last
    head.stop()
    node.stop()


def test_serve_and_a_cluster_node_get_the_same_parts(db: Database, tmp_path: Path) -> None:
    """Built by one function: the same kinds of parts, differing only where the caller says so."""
    one = build(_cfg(tmp_path), db=db, runtime=None)
    node = WebNode(_cfg(tmp_path, cluster={}), db=db)
    assert one.sealer is not None
    for parts in (one, node.parts):
        assert parts.integration is not None and parts.sweeper is not None
        assert parts.web_context().incident_service() is parts.incidents
    assert node.parts.event_mqtt is None  # camera hosts publish events in a cluster


def test_the_installation_owns_the_incident_service_and_its_threads(db: Database, tmp_path: Path) -> None:
    parts = build(_cfg(tmp_path, incidents={"units": [{"id": "P-1", "type": "police"}]}), db=db, runtime=None)
    assert not hasattr(incident_service_module, "_default_service")
    with db.session() as s:
        assert [u.id for u in parts.incidents.units(s)] == ["P-1"]  # configured units synced at build
    parts.start()
    assert parts.sweeper is not None and parts.sweeper._thread is not None
    assert parts.sweeper._thread.is_alive()
    parts.stop()
    assert not parts.sweeper._thread.is_alive()


def test_nodes_starting_together_share_one_installation_key(tmp_path: Path) -> None:
    """Cluster nodes may share a data directory: the one that loses the race to create the key
    waits for it and signs with the same key, instead of crashing."""
    cfg = _cfg(tmp_path)
    start = threading.Barrier(6)
    keys: list[str] = []
    errors: list[BaseException] = []

    def node() -> None:
        start.wait()
        try:
            keys.append(fingerprint(load_or_create_signing_key(cfg.site.data_dir)))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and len(keys) == 6 and len(set(keys)) == 1
