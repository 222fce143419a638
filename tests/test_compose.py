"""The composition root: what one kind of process has, all have.

A cluster web node signs audit checkpoints like ``serve`` does (it used to write unsigned ones),
and the incident service, its integrations and its hold sweeper live and die with the installation,
not with a router: there is no process-wide default service any more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import oversight.incidents.service as incident_service_module
from oversight.cluster.web import WebNode
from oversight.compose import build, install_audit_signer
from oversight.config.schema import SiteConfig
from oversight.privacy import audit
from oversight.privacy.keys import fingerprint
from oversight.privacy.models import AuditCheckpoint
from oversight.store.db import Database


@pytest.fixture
def no_signer() -> Iterator[None]:
    """Start without a signer (as a fresh process does) and leave none behind for other tests."""
    audit.install_signer(None)
    yield
    audit.install_signer(None)


def _cfg(tmp_path: Path, **sections: Any) -> SiteConfig:
    return SiteConfig.model_validate({"site": {"data_dir": str(tmp_path / "data")}, **sections})


def _look_at_footage(db: Database, times: int) -> None:
    with db.session() as s:
        for i in range(times):
            audit.record(s, "olga", "footage.view", "camera", f"cam{i % 3}", purpose="test")


def test_a_cluster_web_node_signs_audit_checkpoints(db: Database, tmp_path: Path, no_signer: None) -> None:
    node = WebNode(_cfg(tmp_path, cluster={}), db=db)
    key = node.parts.signer
    assert key is not None
    _look_at_footage(db, audit.CHECKPOINT_EVERY)
    with db.session() as s:
        checkpoints = list(s.scalars(select(AuditCheckpoint)))
        result = audit.verify(s, key.verify_key)
    assert [(c.seq, c.key_fingerprint) for c in checkpoints] == [(audit.CHECKPOINT_EVERY, fingerprint(key))]
    assert result.ok and result.checkpoints == 1, result.message
    node.stop()


def test_serve_and_a_cluster_node_get_the_same_parts(db: Database, tmp_path: Path, no_signer: None) -> None:
    """Built by one function: the same kinds of parts, differing only where the caller says so."""
    one = build(_cfg(tmp_path), db=db, runtime=None)
    node = WebNode(_cfg(tmp_path, cluster={}), db=db)
    for parts in (one, node.parts):
        assert parts.signer is not None and parts.integration is not None and parts.sweeper is not None
        assert parts.web_context().incident_service() is parts.incidents
    assert node.parts.event_mqtt is None  # camera hosts publish events in a cluster


def test_the_installation_owns_the_incident_service_and_its_threads(
    db: Database, tmp_path: Path, no_signer: None
) -> None:
    parts = build(_cfg(tmp_path, incidents={"units": [{"id": "P-1", "type": "police"}]}), db=db, runtime=None)
    assert not hasattr(incident_service_module, "_default_service")
    with db.session() as s:
        assert [u.id for u in parts.incidents.units(s)] == ["P-1"]  # configured units synced at build
    parts.start()
    assert parts.sweeper is not None and parts.sweeper._thread is not None
    assert parts.sweeper._thread.is_alive()
    parts.stop()
    assert not parts.sweeper._thread.is_alive()


def test_nodes_starting_together_share_one_installation_key(tmp_path: Path, no_signer: None) -> None:
    """Cluster nodes may share a data directory: the one that loses the race to create the key
    waits for it and signs with the same key, instead of crashing."""
    cfg = _cfg(tmp_path)
    start = threading.Barrier(6)
    keys: list[str] = []
    errors: list[BaseException] = []

    def node() -> None:
        start.wait()
        try:
            keys.append(fingerprint(install_audit_signer(cfg)))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and len(keys) == 6 and len(set(keys)) == 1
