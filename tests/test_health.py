"""Health: numbers per camera and server, problems become health alerts that close themselves.

Checks with controlled statuses and clock; a real RTSP camera that stops and comes back; the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oversight import health
from oversight.cameras.fallbacks import HAAR_NOTE, HOG_NOTE, model_status
from oversight.config.models import DISABLE_ENV
from oversight.config.schema import SiteConfig
from oversight.events.alerts import AlertManager
from oversight.events.bus import EventBus
from oversight.events.models import Alert
from oversight.health import HealthMonitor, plain_error
from oversight.store.db import Database
from oversight.store.models import Segment

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def site(tmp: Path, **site_kw: Any) -> SiteConfig:
    cam = {"purpose": "public safety on the square", "streams": {"record": "/dev/null"}}
    return SiteConfig.model_validate(
        {
            "site": {"data_dir": str(tmp), **site_kw},
            "cameras": [
                {**cam, "id": "north", "detect": {"fps": 5}, "record": {"segment_seconds": 10}},
                {**cam, "id": "off", "enabled": False},
            ],
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def status(
    online: bool, frame_age: float, clock: Clock, segment_age: float | None = 5, frames: int | None = None
) -> dict:
    """A camera worker's status; by default analysing at the configured 5 fps."""
    if frames is None:
        frames = int((clock.now - T0).total_seconds() * 5)
    return {
        "id": "north",
        "state": "online" if online else "offline",
        "online": online,
        "last_frame_at": (clock.now - timedelta(seconds=frame_age)).isoformat(),
        "recording": online,
        "last_segment_at": None
        if segment_age is None
        else (clock.now - timedelta(seconds=segment_age)).isoformat(),
        "frames_analyzed": frames,
        "reconnects": 2,
        "codec": "h264",
        "error": None if online else "cannot open rtsp://10.0.0.9/stream: Connection refused",
    }


def monitor(db: Database, tmp: Path, statuses: Callable[[], list[dict]], clock: Clock, **site_kw: Any):
    cfg = site(tmp, **site_kw)
    alerts = AlertManager(cfg, db, EventBus(), clock=clock)
    return HealthMonitor(cfg, db, statuses, alerts, clock=clock), alerts


def health_alerts(db: Database) -> list[Alert]:
    with db.session() as s:
        rows = list(s.scalars(select(Alert).where(Alert.kind == "health").order_by(Alert.id)))
        s.expunge_all()
        return rows


def test_camera_down_is_raised_after_two_checks_and_closes_itself(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    current = {"st": status(False, 60, clock)}
    mon, _ = monitor(db, tmp_path, lambda: [current["st"]], clock)
    mon.started = clock.now
    clock.now += timedelta(seconds=10)
    mon.check()  # within the grace period after start: nothing
    assert health_alerts(db) == []
    clock.now += timedelta(seconds=30)
    h = mon.check()  # first sighting: reported, not yet alerted
    north = h["cameras"][0]
    assert north["problems"] == ["camera_down"] and health_alerts(db) == []
    assert north["last_error"].startswith("The camera refused the connection")
    assert h["cameras"][1]["problems"] == []  # a disabled camera is never "down"
    clock.now += timedelta(seconds=10)
    mon.check()
    (a,) = health_alerts(db)
    assert (a.camera_id, a.rule_id, a.priority) == ("north", "camera_down", "P2")
    assert a.title == "Camera north is not sending video" and a.ended_at is None
    clock.now += timedelta(seconds=10)
    mon.check()  # still down: the same alert
    assert len(health_alerts(db)) == 1
    current["st"] = status(True, 0.1, clock)
    clock.now += timedelta(seconds=10)
    h = mon.check()
    assert h["cameras"][0]["problems"] == []
    (a,) = health_alerts(db)
    assert a.ended_at is not None and a.acknowledged_by == "system" and a.ack_reason == "resolved"


def test_models_column_shows_the_cameras_models_and_fallbacks(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DISABLE_ENV, "1")  # as if oversight-models were not installed
    clock = Clock()
    cam = site(tmp_path).cameras[0]
    mon, _ = monitor(db, tmp_path, lambda: [{**status(True, 0.2, clock), **model_status(cam)}], clock)
    north = mon.check()["cameras"][0]
    assert (north["detector"], north["detector_source"]) == ("hog", "builtin")
    assert (north["face_detector"], north["face_model_source"]) == ("haar", "builtin")
    assert north["degraded"] == [HOG_NOTE, HAAR_NOTE]


def test_not_recording_and_analysis_stalled(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    frames = {"n": 0}
    mon, _ = monitor(
        db, tmp_path, lambda: [status(True, 0.2, clock, segment_age=None, frames=frames["n"])], clock
    )
    mon.started = T0 - timedelta(minutes=5)
    for _ in range(3):
        clock.now += timedelta(seconds=10)
        frames["n"] += 2  # 0.2 fps against 5 configured
        h = mon.check()
    north = h["cameras"][0]
    assert set(north["problems"]) == {"not_recording", "analysis_stalled"}
    assert north["analytics_fps"] == 0.2 and north["analytics_fps_configured"] == 5
    assert {a.rule_id for a in health_alerts(db)} == {"not_recording", "analysis_stalled"}


def test_storage_low_from_the_current_bitrate(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    clock.now = datetime.now(UTC)
    mon, _ = monitor(db, tmp_path, lambda: [status(True, 0.1, clock)], clock, storage_cap_gb=1.0)  # 1 GB left
    mon.started = clock.now - timedelta(minutes=5)
    with db.session() as s:  # 2 GB recorded in the last hour: 48 GB a day
        for i in range(4):
            end = clock.now - timedelta(minutes=10 * i)
            s.add(Segment(camera_id="north", start=end - timedelta(minutes=10), end=end, path=f"/x/{i}.mp4",
                          bytes=500_000_000, has_event=False))  # fmt: skip
    mon.check()
    h = mon.check()
    srv = h["server"]
    assert srv["bytes_per_day"] == 48_000_000_000 and srv["days_left"] == pytest.approx(1 / 48, abs=0.05)
    assert srv["problems"] == ["storage_low"] and srv["db_bytes"] and srv["disk_free_bytes"] > 0
    (a,) = health_alerts(db)
    assert a.camera_id is None and a.rule_id == "storage_low"
    assert mon.metrics()["health_problem"] == {"server:storage_low": 1.0}
    # ... and Prometheus sees it through the runtime's metrics hook
    from web_support import client, make_ctx, tokens

    (tmp_path / "web").mkdir()
    ctx = make_ctx(db, tmp_path / "web")
    try:
        ctx.runtime.metrics = mon.metrics  # what Runtime.metrics returns
        text = (
            client(ctx)
            .get("/metrics", headers={"Authorization": f"Bearer {tokens(db, ('admin',))['admin']}"})
            .text
        )
    finally:
        ctx.runtime.stop()
    assert 'oversight_health_problem{key="server:storage_low"} 1.0' in text
    assert 'oversight_server_health{key="days_left"}' in text


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("cannot open rtsp://x: Connection refused", "refused the connection"),
        ("read timed out after 5 s", "did not answer in time"),
        ("HTTP error 401 Unauthorized", "user name or password"),
        (None, None),
    ],
)
def test_errors_in_plain_words(raw: str | None, words: str | None) -> None:
    got = plain_error(raw)
    assert (got is None) if words is None else (words in (got or ""))


def test_health_api(db: Database, tmp_path: Path) -> None:
    from web_support import client, make_ctx, tokens

    ctx = make_ctx(db, tmp_path)
    try:
        c = client(ctx)
        r = c.get("/api/health", headers={"Authorization": f"Bearer {tokens(db, ('viewer',))['viewer']}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [cam["id"] for cam in body["cameras"]] == ["cam0", "cam1"]
        assert {"disk_free_bytes", "days_left", "db_bytes"} <= set(body["server"])
        assert c.get("/api/health").status_code == 401
    finally:
        ctx.runtime.stop()


@pytest.mark.rtsp
def test_health_alert_for_an_rtsp_camera_that_stops_and_comes_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oversight.runtime import Runtime
    from rtsp import running_server

    monkeypatch.setattr(health, "GRACE_S", 5.0)
    monkeypatch.setattr(health, "FRAME_STALE_S", 3.0)
    gen = running_server()
    server = next(gen)
    cfg = SiteConfig.model_validate(
        {
            "site": {"data_dir": str(tmp_path)},
            "cameras": [
                {
                    "id": "cam1",
                    "purpose": "rtsp health test",
                    "streams": {"record": server.url},
                    "record": {"segment_seconds": 1},
                    "detect": {"enabled": False},
                }
            ],
        }
    )
    fast = dict(backoff_initial=0.2, backoff_max=1.0, open_timeout=5.0, read_timeout=3.0)
    rt = Runtime(cfg, db, EventBus(), None, retention_interval_s=0, worker_options=fast)
    rt.health.interval_s = 0.5
    rt.start()

    def wait(cond: Callable[[], bool], what: str, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {rt.health.latest}")

    try:
        wait(
            lambda: bool(rt.health.latest and rt.health.latest["cameras"][0]["segment_age_s"] is not None),
            "recording",
        )
        assert health_alerts(db) == []
        cam = rt.health.latest["cameras"][0]  # type: ignore[index]
        assert cam["codec"] == "h264" and cam["online"]
        server.stop()
        wait(
            lambda: any(a.rule_id == "camera_down" and a.ended_at is None for a in health_alerts(db)), "alert"
        )
        server.start()
        wait(lambda: all(a.ended_at is not None for a in health_alerts(db)), "the alert to close itself")
        down = [a for a in health_alerts(db) if a.rule_id == "camera_down"]
        assert len(down) == 1 and down[0].acknowledged_by == "system"
        assert rt.metrics()["camera_frame_age_seconds"]["cam1"] < 3
    finally:
        rt.stop()
        server.stop()


def test_transcoding_cost_is_shown(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    cpu = {"s": 0.0}

    def statuses() -> list[dict]:
        return [
            {**status(True, 0.1, clock), "codec": "mjpeg", "transcoding": True, "transcode_cpu_s": cpu["s"]}
        ]

    mon, _ = monitor(db, tmp_path, statuses, clock)
    mon.check()
    clock.now += timedelta(seconds=10)
    cpu["s"] += 3.0
    north = mon.check()["cameras"][0]
    assert (north["codec"], north["transcoding"], north["transcode_load"]) == ("mjpeg", True, 0.3)


def _run_twice(mon: HealthMonitor, clock: Clock) -> dict[str, Any]:
    """Two checks ten seconds apart: a problem alerts when it is found twice in a row."""
    mon.check()
    clock.now += timedelta(seconds=10)
    return mon.check()


def test_camera_clock_skew_and_decode_drops_alert_and_clear(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    cam = {"skew": 5.0, "drops": 0}

    def statuses() -> list[dict]:
        st = {**status(True, 0.1, clock), "clock_skew_s": cam["skew"], "packets_dropped_decode": cam["drops"]}
        cam["drops"] += 50  # 50 packets dropped in every 10 s: 300 a minute
        return [st]

    mon, _ = monitor(db, tmp_path, statuses, clock)
    mon.started = T0 - timedelta(minutes=5)
    mon.check()  # a rate needs a previous check
    clock.now += timedelta(seconds=10)
    north = _run_twice(mon, clock)["cameras"][0]
    assert set(north["problems"]) == {"clock_skew", "decode_dropping"}
    assert north["decode_drops_per_min"] == 300.0
    titles = {a.rule_id: a.title for a in health_alerts(db)}
    assert titles["clock_skew"] == "The clock of camera north is 5.0 s off the server's"
    assert "300.0 packets a minute" in titles["decode_dropping"]
    assert mon.metrics()["camera_clock_skew_seconds"] == {"north": 5.0}
    cam["skew"], cam["drops"] = 0.2, -(10**9)  # back in step; the worker restarted (counters reset)
    clock.now += timedelta(seconds=10)
    assert mon.check()["cameras"][0]["problems"] == []
    assert all(a.ended_at is not None and a.acknowledged_by == "system" for a in health_alerts(db))


def test_a_queue_that_fills_up_alerts_and_clears(db: Database, tmp_path: Path) -> None:
    """A real bus queue nobody drains: its depth is on the health page and in /metrics, and an
    alert opens above ``alarms.queue_fill_max`` and closes once the consumer catches up."""
    clock = Clock()
    cfg = site(tmp_path)
    bus = EventBus()
    q, unsubscribe = bus.subscribe_queue("event", maxsize=10)
    mon = HealthMonitor(cfg, db, lambda: [status(True, 0.1, clock)], AlertManager(cfg, db, bus, clock=clock),
                        clock=clock, queues=bus.queue_depths)  # fmt: skip
    mon.started = T0 - timedelta(minutes=5)
    for i in range(12):  # two more than fit: dropped and counted
        bus.publish("event", {"id": i})
    srv = _run_twice(mon, clock)["server"]
    assert srv["queues"]["bus:event"] == {"queues": 1, "depth": 10, "capacity": 10, "dropped": 2}
    assert srv["problems"] == ["queue_backlog"]
    (a,) = [a for a in health_alerts(db) if a.rule_id == "queue_backlog"]
    assert a.title == "Queue bus:event is 100% full: a consumer is falling behind" and a.camera_id is None
    assert mon.metrics()["queue_depth"] == {"bus:event": 10.0}
    while not q.empty():
        q.get_nowait()
    clock.now += timedelta(seconds=10)
    assert mon.check()["server"]["problems"] == []
    assert [x.ended_at is not None for x in health_alerts(db)] == [True]
    unsubscribe()
    assert "bus:event" not in bus.queue_depths()


class NtpServer:
    """A real SNTP server on loopback UDP whose clock is ``offset_s`` ahead of ours."""

    def __init__(self) -> None:
        import socket
        import threading

        self.offset_s = 0.0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import ntplib

        while True:
            try:
                data, peer = self.sock.recvfrom(256)
            except OSError:
                return
            req = ntplib.NTPPacket()
            req.from_data(data)
            now = ntplib.system_to_ntp_time(time.time() + self.offset_s)
            reply = ntplib.NTPPacket(version=3, mode=4, tx_timestamp=now)
            reply.stratum, reply.orig_timestamp, reply.recv_timestamp = 2, req.tx_timestamp, now
            try:
                self.sock.sendto(reply.to_data(), peer)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def test_server_clock_against_an_ntp_reference(db: Database, tmp_path: Path) -> None:
    ntp = NtpServer()
    try:
        clock = Clock()
        mon, _ = monitor(db, tmp_path, lambda: [status(True, 0.1, clock)], clock)
        mon.cfg.alarms.time_reference = f"127.0.0.1:{ntp.port}"
        mon = HealthMonitor(mon.cfg, db, mon.status, mon.alerts, clock=clock)
        mon.started = T0 - timedelta(minutes=5)
        assert mon.time_reference is not None
        mon.time_reference.every_s = 0  # ask on every check
        ntp.offset_s = 7.5  # the reference is 7.5 s ahead: our clock is 7.5 s behind
        srv = _run_twice(mon, clock)["server"]
        assert srv["clock_offset_s"] == pytest.approx(-7.5, abs=0.2) and srv["problems"] == ["server_clock"]
        (a,) = health_alerts(db)
        assert a.title.startswith("The server's clock is -7.") and f"127.0.0.1:{ntp.port}" in a.title
        ntp.offset_s = 0.0
        clock.now += timedelta(seconds=10)
        srv = mon.check()["server"]
        assert abs(srv["clock_offset_s"]) < 0.2 and srv["problems"] == []
        assert health_alerts(db)[0].ended_at is not None
    finally:
        ntp.close()
    clock.now += timedelta(seconds=10)
    srv = mon.check()["server"]  # the reference is gone: said plainly, no crash, no false alarm
    assert srv["clock_offset_s"] is None and "did not answer" in srv["time_error"]


def test_live_encode_per_camera_on_the_health_api(db: Database, tmp_path: Path) -> None:
    """A real live H.264 encode through the gate: the health API shows it running with its
    viewer, frames a second and CPU; a camera nobody watches has none; it goes when the viewer does."""
    import asyncio

    from oversight.privacy.egress import egress
    from web_support import client, make_ctx, tokens

    ctx = make_ctx(db, tmp_path)
    loop = asyncio.new_event_loop()
    try:
        c = client(ctx)
        auth = {"Authorization": f"Bearer {tokens(db, ('viewer',))['viewer']}"}
        gate = egress(ctx)
        who = type("P", (), {"username": "olga", "role": "operator", "via": "session", "ip": None})()
        session = gate.open_live(who, ["cam0"])
        sub = session.h264("cam0", loop)
        deadline = time.monotonic() + 20
        while (not sub.ready() or sub.feed.frames < 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        first = {cam["id"]: cam for cam in c.get("/api/health", headers=auth).json()["cameras"]}
        assert first["cam0"]["live_encode"]["viewers"] == 1 and first["cam0"]["live_encode"]["encodes"] == 1
        assert first["cam1"]["live_encode"] is None
        time.sleep(1.0)
        live = {cam["id"]: cam for cam in c.get("/api/health", headers=auth).json()["cameras"]}["cam0"][
            "live_encode"
        ]
        assert live["fps"] > 0 and live["cpu_cores"] > 0 and live["stalled"] is False
        sub.close()  # what the socket does when the viewer leaves
        session.close()
        deadline = time.monotonic() + 20  # the feed ends a few seconds after its last viewer
        while sub.feed.alive and time.monotonic() < deadline:
            time.sleep(0.1)
        gone = {cam["id"]: cam for cam in c.get("/api/health", headers=auth).json()["cameras"]}
        assert gone["cam0"]["live_encode"] is None
    finally:
        loop.close()
        ctx.runtime.stop()


def test_a_cluster_heads_check_alerts_on_its_camera_hosts_reports(db: Database, tmp_path: Path) -> None:
    """Host reports as ``ClusterDeployment.host_reports`` gives them: a host whose clock is off the
    head's, whose disk is nearly full or whose queue is full gets its own alert, which closes when
    the host is fine again; the head's manager escalates only these, never a camera's alert."""
    clock = Clock()
    good = {
        "host": "node-a/1234abcd",
        "clock_offset_s": 0.01,
        "rtt_s": 0.004,
        "disk_free_bytes": 50e9,
        "queues": {},
    }
    bad = {**good, "host": "node-b/5678ef01", "clock_offset_s": 4.2, "disk_free_bytes": 0.2e9,
           "queues": {"bus-bridge": {"queues": 1, "depth": 100, "capacity": 100, "dropped": 7}}}  # fmt: skip
    reports = [good, bad]
    cfg = site(tmp_path)
    alerts = AlertManager(cfg, db, EventBus(), clock=clock, health_only=True)
    mon = HealthMonitor(
        cfg, db, lambda: [status(True, 0.1, clock)], alerts, clock=clock, hosts=lambda: reports
    )
    mon.started = T0 - timedelta(minutes=5)
    h = _run_twice(mon, clock)
    assert [x["problems"] for x in h["hosts"]] == [[], ["host_clock", "host_disk", "host_queue"]]
    titles = {a.rule_id: a.title for a in health_alerts(db)}
    assert titles == {
        "host_clock@node-b/5678ef01": "The clock of camera host node-b/5678ef01 is 4.2 s off the "
        "cluster head's",
        "host_disk@node-b/5678ef01": "Camera host node-b/5678ef01 has 0.2 GB of disk left",
        "host_queue@node-b/5678ef01": "Queue bus-bridge on camera host node-b/5678ef01 is 100% full",
    }
    assert all(a.camera_id is None for a in health_alerts(db))
    assert mon.metrics()["host_clock_offset_seconds"] == {"node-a/1234abcd": 0.01, "node-b/5678ef01": 4.2}
    cam_alert = alerts.raise_health("north", "camera_down", "Camera north is not sending video")
    alerts.tick(T0 + timedelta(hours=2))  # escalation: the head's own (no camera) only
    escalated = {a.rule_id for a in health_alerts(db) if a.escalated_at is not None}
    assert escalated == set(titles) and cam_alert not in {a.id for a in health_alerts(db) if a.escalated_at}
    reports[1] = {**good, "host": "node-b/5678ef01"}
    clock.now += timedelta(seconds=10)
    mon.check()
    assert all(a.ended_at is not None for a in health_alerts(db))  # north is fine too: its alert went
