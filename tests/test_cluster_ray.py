"""The scale-out deployment for real, on this machine: a local Ray cluster (head + 2 worker nodes),
PostgreSQL, an S3 server (moto) on loopback, Mosquitto, and cameras from the real RTSP server.

* two stateless web server processes, bridged through the broker: an alert raised by a camera
  running on a worker node reaches WebSocket clients of both;
* a worker node is killed: its camera comes back on the other node within seconds, segments
  continue in S3, the outage is a closed RecordingGap, and nothing already written is lost.

Kept small for a 2-core machine: two cameras, 1 s segments, one camera with detection at 2 fps.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from cluster_helpers import free_port, moto_s3, need_mqtt, postgres_database
from conftest import asset
from oversight.config.schema import SiteConfig
from oversight.store.db import Database
from oversight.store.models import RecordingGap, Segment
from rtsp import CLIP, RtspServer, rtsp_unavailable

pytestmark = [pytest.mark.cluster, pytest.mark.rtsp, pytest.mark.postgres, pytest.mark.mqtt]
ray = pytest.importorskip("ray")
pytest.importorskip("boto3")

MB = 1024 * 1024
FAST_HEALTH = {  # notice a dead node in ~2-3 s instead of the default ~30 s
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 4,
}


def wait_until(cond: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str]]:
    need_mqtt()
    with moto_s3() as s3, postgres_database() as pg:
        yield s3, pg


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    reason = rtsp_unavailable()
    if reason:
        pytest.skip(reason)
    asset("video/one-by-one-person-detection.mp4")
    server = RtspServer(str(CLIP)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[Any, list[Any]]]:
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "object_store_memory": 80 * MB,
            "_system_config": FAST_HEALTH,
        },
    )
    workers = [
        cluster.add_node(num_cpus=0, resources={"oversight_worker": 2}, object_store_memory=80 * MB)
        for _ in range(2)
    ]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, namespace="oversight", log_to_driver=False)
    yield cluster, workers
    ray.shutdown()
    cluster.shutdown()


def site(tmp: Path, pg: str, s3: str, rtsp_url: str, ray_address: str) -> SiteConfig:
    zone = [[0, 0], [640, 0], [640, 360], [0, 360]]
    return SiteConfig.model_validate(
        {
            "site": {"data_dir": str(tmp / "var"), "database_url": pg},
            "cluster": {
                "ray_address": ray_address,
                "broker_url": "mqtt://127.0.0.1:1883",
                "broker_prefix": f"oversight-test-{os.getpid()}/bus",
                "storage": {"kind": "s3", "endpoint_url": s3, "bucket": "city-footage"},
                "camera_cpus": 0,
                "detector": {"num_cpus": 0.5, "max_batch": 4, "max_wait_ms": 5},
            },
            "cameras": [
                {
                    "id": "cam-a",
                    "purpose": "cluster failover test",
                    "streams": {"record": rtsp_url},
                    "record": {"segment_seconds": 1},
                    "detect": {"enabled": False},
                },
                {
                    "id": "cam-b",
                    "purpose": "cluster alert test",
                    "streams": {"record": rtsp_url},
                    "record": {"segment_seconds": 1},
                    "detect": {
                        "detector": "onnx",
                        "model_path": str(asset("models/yolox_nano_416x416.onnx")),
                        "fps": 2,
                        "classes": ["person"],
                    },
                    "rules": [
                        {"id": "room", "type": "zone", "purpose": "anyone in the room", "polygon": zone}
                    ],
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    services: tuple[str, str],
    rtsp: RtspServer,
    ray_cluster: tuple[Any, list[Any]],
) -> Iterator[tuple[Any, SiteConfig, Path]]:
    from oversight.cluster.deploy import ClusterDeployment

    s3, pg = services
    tmp = tmp_path_factory.mktemp("cluster")
    cfg = site(tmp, pg, s3, rtsp.url, ray_cluster[0].address)
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True)))
    dep = ClusterDeployment(cfg, pg, worker_options={"backoff_initial": 0.5, "backoff_max": 2.0})
    dep.start(supervise_every_s=2.0)
    yield dep, cfg, path
    dep.stop()


def segment_rows(db: Database, camera_id: str | None = None) -> list[Segment]:
    with db.session() as s:
        q = select(Segment).order_by(Segment.start)
        if camera_id:
            q = q.where(Segment.camera_id == camera_id)
        return list(s.scalars(q))


def start_web(path: Path, port: int) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("oversight")
    cmd = [str(exe), "cluster", "web", "--config", str(path), "--port", str(port), "--no-ray"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "READY" not in line:
        proc.kill()
        raise AssertionError(f"web server did not start: {line}{proc.stdout.read()[-2000:]}")
    return proc


def test_alert_reaches_websocket_clients_of_two_web_servers(deployment: tuple[Any, SiteConfig, Path]):
    from websockets.sync.client import connect

    from oversight.web.auth import create_api_token

    dep, cfg, path = deployment
    db = Database(dep.db_url)
    with db.session() as s:
        _, secret = create_api_token(s, "cluster-test", "operator", "test")
    ports = [free_port(), free_port()]
    procs = [start_web(path, p) for p in ports]
    try:
        stack = contextlib.ExitStack()
        clients = [
            stack.enter_context(
                connect(
                    f"ws://127.0.0.1:{p}/api/ws",
                    open_timeout=20,
                    additional_headers={"Authorization": f"Bearer {secret}"},
                )
            )
            for p in ports
        ]
        seen: list[dict[str, dict]] = [{}, {}]  # per server: event id -> data (phase start)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (set(seen[0]) & set(seen[1])):
            for i, ws in enumerate(clients):
                try:
                    raw = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                msg = json.loads(raw)
                if msg["topic"] == "event" and msg["data"].get("phase") == "start":
                    seen[i][msg["data"]["id"]] = msg["data"]
        both = set(seen[0]) & set(seen[1])
        assert both, f"no alert reached both servers: {seen}"
        ev = seen[0][min(both)]
        assert ev["camera_id"] == "cam-b" and ev["rule_id"] == "room" and ev["label"] == "person"
        assert seen[1][min(both)]["camera_id"] == "cam-b"
        stack.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        db.dispose()
    # the camera ran on a worker node (not the head), and detection went through the shared service
    st = {s["id"]: s for s in dep.status()}
    assert st["cam-b"]["online"] and st["cam-b"]["frames_analyzed"] > 0
    stats = dep.detector_stats()
    assert sum(v.get("frames", 0) for v in stats.values()) > 0
    # the live view reads frames from the actor, as the web app does through ``runtime.workers``
    live = dep.workers["cam-b"].latest_frame()
    assert live is not None and live[0].shape == (360, 640, 3)
    assert abs((datetime.now(UTC) - live[1]).total_seconds()) < 10


def test_the_head_raises_host_health_alerts_from_its_camera_hosts(deployment: tuple[Any, SiteConfig, Path]):
    """Each node running cameras reports its clock (against the head's, over the round trip),
    disk and queues; the head's check turns a host problem into a server health alert of no camera,
    and closes it when the host is fine again. (The disk threshold is raised above any real disk.)"""
    from oversight.cluster.health import ClusterHealth
    from oversight.events.models import Alert

    dep, cfg, _ = deployment
    wait_until(lambda: len(dep.host_reports()) == len(set(dep.placement.values())), 60, "a report per node")
    reports = dep.host_reports()
    for rep in reports:
        assert abs(rep["clock_offset_s"]) < 1.0 + rep["rtt_s"] and rep["disk_free_bytes"] > 0
        assert rep["node_id"] in dep.placement.values() and isinstance(rep["queues"], dict)
    db = Database(dep.db_url)
    health = ClusterHealth(dep, db, interval_s=3600)  # checked by hand below
    before = cfg.alarms.host_disk_min_free_gb
    try:
        health.monitor.started -= timedelta(minutes=5)  # past the start-up grace
        cfg.alarms.host_disk_min_free_gb = 1e9  # every disk is "nearly full"
        health.monitor.check()
        latest = health.monitor.check()
        assert {h["host"] for h in latest["hosts"]} == {r["host"] for r in reports}
        with db.session() as s:
            rows = list(
                s.scalars(select(Alert).where(Alert.rule_id.like("host_disk@%"), Alert.ended_at.is_(None)))
            )
        assert len(rows) == len(reports) and all(a.camera_id is None and a.kind == "health" for a in rows)
        cfg.alarms.host_disk_min_free_gb = before
        health.monitor.check()
        with db.session() as s:
            still = s.scalars(
                select(Alert).where(Alert.rule_id.like("host_disk@%"), Alert.ended_at.is_(None))
            ).all()
        assert still == []
    finally:
        cfg.alarms.host_disk_min_free_gb = before
        dep.health = None
        db.dispose()


def test_cluster_command_places_reports_and_stops_cleanly(
    deployment: tuple[Any, SiteConfig, Path], tmp_path: Path, rtsp: RtspServer
):
    """``oversight cluster`` as an operator runs it: places a camera, ``cluster status`` shows where,
    and SIGINT closes and indexes the open segment before the process exits."""
    import signal

    _, cfg, _ = deployment
    own = cfg.model_copy(deep=True)
    own.cameras = [cfg.cameras[0].model_copy(update={"id": "cam-c"})]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(own.model_dump(mode="json", exclude_none=True)))
    exe = str(Path(sys.executable).with_name("oversight"))
    proc = subprocess.Popen(
        [exe, "cluster", "--config", str(path), "--no-web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    db = Database(own.site.database_url or "")
    try:
        assert proc.stdout is not None
        placement = json.loads(proc.stdout.readline())
        assert list(placement["placement"]) == ["cam-c"] and placement["unplaced"] == []
        wait_until(lambda: len(segment_rows(db, "cam-c")) >= 2, 60, "cam-c segments")
        out = subprocess.run(
            [exe, "cluster", "status", "--config", str(path)], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr[-2000:]
        st = json.loads(out.stdout)
        assert [s["id"] for s in st] == ["cam-c"] and st[0]["online"]
        assert st[0]["node_id"] == placement["placement"]["cam-c"]
        before = len(segment_rows(db, "cam-c"))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        rows = segment_rows(db, "cam-c")
        assert len(rows) > before  # the open segment was closed, uploaded and indexed on the way out
        with db.session() as s:
            gap = s.scalars(select(RecordingGap).where(RecordingGap.camera_id == "cam-c")).one()
        assert gap.reason == "recorder stopped" and gap.end is None and gap.start >= rows[-1].start
    finally:
        if proc.poll() is None:
            proc.kill()
        db.dispose()


def test_worker_node_loss_moves_cameras_and_loses_nothing_written(
    deployment: tuple[Any, SiteConfig, Path], ray_cluster: tuple[Any, list[Any]]
):
    dep, cfg, _ = deployment
    cluster, workers = ray_cluster
    db = Database(dep.db_url)
    try:
        wait_until(lambda: all(len(segment_rows(db, c)) >= 3 for c in ("cam-a", "cam-b")), 90, "segments")
        nodes = {cid: ray.get(a.ping.remote(), timeout=30) for cid, a in dep.actors.items()}
        worker_ids = {w.node_id: w for w in workers}
        assert set(nodes.values()) <= set(worker_ids), "cameras only run on nodes offering camera slots"
        assert nodes["cam-a"] != nodes["cam-b"], "two cameras on two empty nodes are spread"
        victim = worker_ids[nodes["cam-a"]]
        before = [(r.id, r.path, r.bytes, r.camera_id) for r in segment_rows(db)]
        last_end_a = max(r.end for r in segment_rows(db, "cam-a"))

        killed_at = datetime.now(UTC)
        t0 = time.monotonic()
        cluster.remove_node(victim, allow_graceful=False)

        def back() -> dict | None:
            st = next((s for s in dep.status() if s["id"] == "cam-a"), None)
            if st and st.get("node_id") not in (None, nodes["cam-a"]) and st.get("online"):
                return st
            return None

        st = wait_until(back, 60, "cam-a restarted on another node")
        recovered_s = time.monotonic() - t0
        assert st["node_id"] == nodes["cam-b"] and st["restarted"] is True
        new_seg = wait_until(
            lambda: [r for r in segment_rows(db, "cam-a") if r.start > killed_at],
            30,
            "a new cam-a segment after the restart",
        )[0]
        print(
            f"\ncam-a back online {recovered_s:.1f}s after its node was killed; "
            f"first new segment {(new_seg.start - killed_at).total_seconds():.1f}s after the kill"
        )
        assert new_seg.path.startswith("s3://city-footage/recordings/cam-a/")

        # nothing already written is lost: every row is still there and its object complete
        from oversight.recording.s3 import S3Storage

        storage = S3Storage.from_settings(cfg.cluster.storage, cfg.site.data_dir)  # type: ignore[union-attr]
        now_rows = {r.id: r for r in segment_rows(db)}
        for seg_id, p, nbytes, _ in before:
            assert seg_id in now_rows and now_rows[seg_id].path == p
            assert storage._object_size(p.split("/", 3)[3]) == nbytes
        # the outage is recorded: from the end of the last indexed segment until the restart, closed
        with db.session() as s:
            gaps = list(s.scalars(select(RecordingGap).where(RecordingGap.camera_id == "cam-a")))
        lost = [g for g in gaps if g.reason.startswith("camera host lost")]
        assert len(lost) == 1, [(g.start, g.end, g.reason) for g in gaps]
        gap = lost[0]
        assert gap.start == last_end_a or (gap.start >= last_end_a and gap.start <= killed_at)
        assert gap.end is not None and killed_at <= gap.end <= new_seg.start
        # the other camera never noticed
        assert next(s for s in dep.status() if s["id"] == "cam-b")["restarted"] is False
        with db.session() as s:
            assert not list(
                s.scalars(
                    select(RecordingGap).where(
                        RecordingGap.camera_id == "cam-b", RecordingGap.start > killed_at
                    )
                )
            )
        wait_until(lambda: any(r.start > killed_at for r in segment_rows(db, "cam-b")), 20, "cam-b segments")
    finally:
        db.dispose()


def test_deployment_retention_deletes_due_objects_and_keeps_held_footage(
    deployment: tuple[Any, SiteConfig, Path],
):
    """Retention over S3, run by the deployment owner: due footage goes, held footage stays."""
    from datetime import timedelta

    from oversight.recording.s3 import S3Storage
    from oversight.store.models import EvidenceHold

    dep, cfg, _ = deployment
    db = Database(dep.db_url)
    try:
        now = datetime.now(UTC)
        rows = {c: segment_rows(db, c) for c in ("cam-a", "cam-b")}
        assert rows["cam-a"] and rows["cam-b"]
        with db.session() as s:
            s.add(
                EvidenceHold(
                    camera_id="cam-b",
                    start=now - timedelta(days=1),
                    end=now + timedelta(days=40),
                    reason="incident 42",
                    created_by="test",
                )
            )
        # everything recorded so far is past 7 days, and past 30 for footage around events (cam-b)
        res = dep.retention_pass(now + timedelta(days=31))
        assert res.errors == []
        storage = S3Storage.from_settings(cfg.cluster.storage, cfg.site.data_dir)  # type: ignore[union-attr]
        left = {r.id for r in segment_rows(db)}
        for r in rows["cam-a"]:
            assert r.id not in left and not storage.exists(r.path)
        for r in rows["cam-b"]:
            assert r.id in left and storage.exists(r.path)
        assert res.held >= len(rows["cam-b"])
    finally:
        db.dispose()
