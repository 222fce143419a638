"""The cluster's parts one by one: camera placement, the broker bridge between two buses, the
batched detector service, the config section, and the embedded default staying free of Ray."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from pydantic import ValidationError

from cluster_helpers import need_mqtt
from conftest import asset
from oversight.cluster.placement import assign_cameras
from oversight.config.schema import SiteConfig
from oversight.events.bridge import BusBridge, parse_broker_url
from oversight.events.bus import EventBus, Message

pytestmark = pytest.mark.cluster


# -- placement -------------------------------------------------------------


def test_placement_balances_keeps_running_cameras_and_reports_overflow():
    cams = [f"c{i}" for i in range(7)]
    plan, unplaced = assign_cameras(cams, {"n1": 3, "n2": 3}, {})
    assert unplaced == ["c6"]
    assert sorted(plan) == cams[:6]
    assert sorted(plan.values()).count("n1") == 3 and sorted(plan.values()).count("n2") == 3
    # n1 dies: its cameras move to the survivor only as far as it has room; n2's cameras stay put
    on_n2 = {c for c, n in plan.items() if n == "n2"}
    plan2, unplaced2 = assign_cameras(cams, {"n2": 5, "n3": 2}, plan)
    assert all(plan2[c] == "n2" for c in on_n2)
    assert len(unplaced2) == 0 and sorted(plan2.values()).count("n3") == 2
    assert assign_cameras(cams, {"n2": 5, "n3": 2}, plan) == (plan2, unplaced2)  # deterministic


# -- bridge ------------------------------------------------------------------


def _collect(bus: EventBus, prefix: str = "") -> list[Message]:
    got: list[Message] = []
    bus.subscribe(prefix, got.append)
    return got


@pytest.mark.mqtt
def test_bridge_carries_messages_between_buses_once_and_never_echoes():
    need_mqtt()
    prefix = f"oversight-test-{time.time_ns()}/bus"
    a_bus, b_bus = EventBus(), EventBus()
    a, b = BusBridge(a_bus, prefix=prefix).start(wait=10), BusBridge(b_bus, prefix=prefix).start(wait=10)
    try:
        a_seen, b_seen = _collect(a_bus), _collect(b_bus)
        time.sleep(0.3)  # subscriptions acknowledged
        a_bus.publish("event", {"id": 7, "camera_id": "cam1", "phase": "start"})
        a_bus.publish("camera.status", {"id": "cam1", "online": True})
        a_bus.publish("private.thing", {"x": 1})  # not a forwarded topic
        b_bus.publish("incident", {"id": 3})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (len(b_seen) < 3 or len(a_seen) < 4):
            time.sleep(0.05)
        time.sleep(0.5)  # anything that would echo back has had time to
        got_b = {m.topic: m.data for m in b_seen}
        assert len(b_seen) == 3 and sorted(got_b) == ["camera.status", "event", "incident"]
        assert got_b["event"] == {"id": 7, "camera_id": "cam1", "phase": "start"}
        assert got_b["camera.status"] == {"id": "cam1", "online": True}
        assert sorted(m.topic for m in a_seen) == ["camera.status", "event", "incident", "private.thing"]
        assert a.sent == 2 and b.received == 2 and a.received == 1 and b.sent == 1
        a_bus.publish("event", {"id": 8, "camera_id": "cam1", "snapshot": "/srv/var/snapshots/cam1/x.jpg"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(b_seen) < 4:
            time.sleep(0.05)
        url = "/api/events/8/thumbnail.jpg"  # the API route, never the server's file path
        assert b_seen[-1].data == {"id": 8, "camera_id": "cam1", "snapshot_url": url}
    finally:
        a.stop()
        b.stop()


def test_bridge_url_is_checked():
    assert parse_broker_url("mqtt://10.0.0.5:1884") == ("10.0.0.5", 1884)
    assert parse_broker_url("mqtt://broker") == ("broker", 1883)
    with pytest.raises(ValueError):
        parse_broker_url("nats://broker:4222")


# -- batched detector service --------------------------------------------------


class SlowCountingDetector:
    """A stand-in whose per-call cost is fixed: what batching amortises (a GPU kernel launch)."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.inference_cpu_s = 0.0
        self.lock = threading.Lock()

    def detect(self, frame: np.ndarray):
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: list[np.ndarray]):
        from oversight.analytics.types import Detections

        with self.lock:
            self.calls += 1
        time.sleep(0.02)
        return [
            Detections(
                np.asarray([[0, 0, float(f[0, 0, 0]), 1]], np.float32),
                np.asarray([0.9], np.float32),
                ("person",),
            )
            for f in frames
        ]


def test_detector_service_batches_concurrent_requests_and_routes_results():
    from oversight.cluster.detector_service import BatchedDetector

    det = SlowCountingDetector()
    svc = BatchedDetector({"detector": "none"}, max_batch=8, max_wait_ms=20, detector=det)
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(32)]

    async def go():
        return await asyncio.gather(*(svc.detect(f) for f in frames))

    results = asyncio.run(go())
    assert [int(r[0][0, 2]) for r in results] == list(range(32))  # each caller gets its own frame's boxes
    assert det.calls == svc.batches and svc.frames == 32
    assert svc.batches <= 8 and svc.stats()["mean_batch"] >= 4  # 32 concurrent frames -> batches of up to 8


def test_detector_service_matches_the_local_detector_on_real_frames():
    """Through the service (batch of several frames, one at a time inside) the boxes are the model's own."""
    import av

    from oversight.analytics.detectors.onnx import OnnxDetector
    from oversight.cluster.detector_service import BatchedDetector

    model = str(asset("models/yolox_nano_416x416.onnx"))
    clip = asset("video/one-by-one-person-detection.mp4")
    frames = []
    with av.open(str(clip)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 40 == 0:
                frames.append(f.to_ndarray(format="bgr24"))
            if len(frames) == 6:
                break
    local = OnnxDetector(model, classes=["person"], min_confidence=0.3)
    detect = {"detector": "onnx", "model_path": model, "classes": ["person"], "min_confidence": 0.3}
    svc = BatchedDetector(detect, max_batch=6, max_wait_ms=50)

    async def go():
        return await asyncio.gather(*(svc.detect(f) for f in frames))

    remote = asyncio.run(go())
    found = 0
    for f, (xyxy, conf, labels) in zip(frames, remote, strict=True):
        ref = local.detect(f)
        np.testing.assert_allclose(xyxy, ref.xyxy, atol=1e-3)
        np.testing.assert_allclose(conf, ref.confidence, atol=1e-5)
        assert labels == ref.labels
        found += len(labels)
    assert found >= 2  # the clip shows people: the comparison is not between empty results
    assert svc.batches < len(frames)


class BatchSession:
    """The real fixed-batch session behind an input with a free batch dimension, the way a
    dynamic-batch export looks to the service; counts model calls."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0
        self.rows: list[int] = []

    def get_inputs(self):
        real = self.inner.get_inputs()[0]

        class Input:
            name = real.name
            shape = ["N", *real.shape[1:]]

        return [Input()]

    def run(self, outputs, feeds):
        ((name, batch),) = feeds.items()
        self.calls += 1
        self.rows.append(len(batch))
        rows = [self.inner.run(outputs, {name: batch[i : i + 1]})[0] for i in range(len(batch))]
        return [np.concatenate(rows)]


def test_detector_service_runs_one_model_call_per_batch_when_the_model_takes_batches():
    import av

    from oversight.analytics.detectors.onnx import OnnxDetector
    from oversight.cluster.detector_service import BatchedDetector

    model = str(asset("models/yolox_nano_416x416.onnx"))
    frames = []
    with av.open(str(asset("video/one-by-one-person-detection.mp4"))) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 40 == 0:
                frames.append(f.to_ndarray(format="bgr24"))
            if len(frames) == 8:
                break
    local = OnnxDetector(model, classes=["person"], min_confidence=0.3)
    batched = OnnxDetector(model, classes=["person"], min_confidence=0.3)
    session = batched.session = BatchSession(batched.session)
    svc = BatchedDetector({}, max_batch=8, max_wait_ms=200, detector=batched)

    async def go():
        return await asyncio.gather(*(svc.detect(f) for f in frames))

    results = asyncio.run(go())
    assert session.calls == svc.batches < len(frames) and max(session.rows) > 1
    found = 0
    for f, (xyxy, conf, labels) in zip(frames, results, strict=True):
        ref = local.detect(f)
        np.testing.assert_allclose(xyxy, ref.xyxy, atol=1e-3)
        np.testing.assert_allclose(conf, ref.confidence, atol=1e-5)
        assert labels == ref.labels
        found += len(labels)
    assert found >= 2


# -- config and the embedded default --------------------------------------------


def test_cluster_section_is_optional_and_checked():
    assert SiteConfig.model_validate({}).cluster is None
    cfg = SiteConfig.model_validate(
        {"cluster": {"storage": {"kind": "s3", "bucket": "b", "endpoint_url": "http://m:9000"}}}
    )
    assert cfg.cluster is not None and cfg.cluster.storage.bucket == "b"
    with pytest.raises(ValidationError, match="bucket"):
        SiteConfig.model_validate({"cluster": {"storage": {"kind": "s3"}}})
    with pytest.raises(ValidationError, match="broker_url"):
        SiteConfig.model_validate({"cluster": {"broker_url": "amqp://x"}})
    with pytest.raises(ValidationError):
        SiteConfig.model_validate({"cluster": {"storage": {"kind": "s3", "bucket": "b", "secret_key": "x"}}})


def test_embedded_default_never_imports_ray_boto3_or_psycopg():
    code = (
        "import sys; import oversight.cli, oversight.service, oversight.runtime, oversight.config.schema;"
        "from oversight.config import load_config;"
        "heavy = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'ray', 'boto3', 'botocore', 'psycopg', 'moto'});"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


# -- bench scale building blocks ------------------------------------------------


def test_bench_counts_the_shared_load_one_camera_puts_on_database_and_broker(tmp_path):
    from oversight.bench.scale import run_camera

    clip = asset("video/car-detection.mp4")  # 30 s, keyframes every 4.8 s
    r = run_camera(clip, tmp_path, None, "bench")
    assert 29 <= r["video_s"] <= 31
    assert r["segments"] >= 2 and r["by_topic"]["segment"] == r["segments"]
    # every segment is at least one INSERT; the counter sees real statements, not a constant
    assert r["sql_statements"] >= r["segments"]
    assert r["bus_forwarded"] == sum(r["by_topic"].values())
    assert 140 <= r["frames_analyzed"] <= 160  # detect.fps 5 over 30 s


@pytest.mark.mqtt
def test_bench_broker_floor_is_a_real_round_trip():
    need_mqtt()
    from oversight.bench.scale import broker_rate

    rate = broker_rate(messages=300, window=50)
    assert rate is not None and rate > 10


@pytest.mark.mqtt
def test_site_mqtt_publishes_each_cluster_event_once():
    """An event raised on a camera node reaches the city's MQTT topic once, via the owner's publisher."""
    import json

    import paho.mqtt.client as mqtt

    from oversight.cluster.site_mqtt import start_site_mqtt
    from oversight.config.schema import SiteConfig

    need_mqtt()
    stamp = time.time_ns()
    cfg = SiteConfig.model_validate(
        {
            "site": {"mqtt": {"host": "127.0.0.1", "port": 1883, "topic_prefix": f"city-{stamp}"}},
            "cluster": {"broker_prefix": f"oversight-test-{stamp}/bus"},
        }
    )
    got: list[dict] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: got.append({"topic": m.topic, **json.loads(m.payload)})
    sub.connect("127.0.0.1", 1883)
    sub.subscribe(f"city-{stamp}/#", qos=1)
    sub.loop_start()
    node_bus = EventBus()
    node = BusBridge(node_bus, prefix=f"oversight-test-{stamp}/bus").start(wait=10)
    stop = start_site_mqtt(cfg, wait=10)
    assert stop is not None
    try:
        time.sleep(0.3)
        node_bus.publish("event", {"id": 9, "camera_id": "gate", "phase": "start"})
        node_bus.publish("camera.status", {"id": "gate", "online": True})  # not an event: not published
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not got:
            time.sleep(0.05)
        time.sleep(0.5)
        assert got == [{"topic": f"city-{stamp}/gate/events", "id": 9, "camera_id": "gate", "phase": "start"}]
    finally:
        stop()
        node.stop()
        sub.loop_stop()
        sub.disconnect()
