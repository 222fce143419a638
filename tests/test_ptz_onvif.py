"""PTZ over ONVIF against a real device implementation on loopback (the ipycam virtual camera):
moves, presets and home change the position the device reports, every command is audited, only
the roles of ``ptz.control`` steer, analytics pause off the home preset, WS-Discovery finds the
device and its device information reaches the camera security check."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from onvif_device import VirtualCamera, discovery_responder, virtual_onvif_camera
from oversight.analytics.pipeline import CameraAnalytics
from oversight.cameras.onvif import PtzCamera, discover
from oversight.config.loader import load_config
from oversight.config.schema import CameraConfig
from oversight.events.bus import EventBus
from oversight.privacy.camera_audit import audit_camera
from oversight.privacy.models import AuditEntry
from web_support import add_users, client, login, make_ctx


@pytest.fixture
def device(tmp_path: Path, monkeypatch: Any) -> Any:
    work = tmp_path / "device"
    work.mkdir()
    with virtual_onvif_camera(work, monkeypatch) as cam:
        yield cam


def _ptz_site(db: Any, tmp: Path, device: VirtualCamera, home: str | None = None) -> Any:
    ctx = make_ctx(db, tmp, cameras=1, runtime=False)
    data = yaml.safe_load(ctx.config_path.read_text())
    data["cameras"][0]["onvif"] = device.url
    data["cameras"][0]["ptz"] = {"home_preset": home} if home else {}
    ctx.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    ctx.cfg = load_config(ctx.config_path)
    return ctx


def _audited(db: Any, prefix: str) -> list[AuditEntry]:
    with db.session() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action.like(prefix + "%")).order_by(AuditEntry.seq)
        )
        return list(rows)


def _until(cond: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "the device did not get there"
        time.sleep(0.02)


def test_an_operator_steers_and_every_command_is_audited(
    db: Any, tmp_path: Path, device: VirtualCamera
) -> None:
    ctx = _ptz_site(db, tmp_path, device)
    add_users(db, ("operator", "viewer", "admin"))
    with client(ctx) as c:
        h = login(c, "operator")
        assert device.position() == (0.0, 0.0, 0.0)
        r = c.post("/api/ptz/cam0/move", json={"pan": 0.6, "tilt": 0.3, "zoom": 0.0}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["at_home"] is False
        _until(lambda: device.position()[0] > 0.05)
        assert c.post("/api/ptz/cam0/stop", headers=h).status_code == 200
        door = device.position()
        saved = c.post("/api/ptz/cam0/presets", json={"name": "door"}, headers=h).json()["result"]
        state = c.get("/api/ptz/cam0", headers=h).json()
        assert {"token": saved, "name": "door"} in state["presets"]
        assert state["position"] is not None and abs(state["position"]["pan"] - door[0]) < 0.01
        assert c.post("/api/ptz/cam0/home", headers=h).json()["at_home"] is True
        assert device.position() == (0.0, 0.0, 0.0)
        assert c.post(f"/api/ptz/cam0/presets/{saved}/goto", headers=h).status_code == 200
        assert device.position() == door  # the preset moved the device back where it was saved
        # who may steer: the permission table, not this route
        hv = login(c, "viewer")
        assert c.post("/api/ptz/cam0/home", headers=hv).status_code == 403
    actions = [(a.action, a.actor) for a in _audited(db, "ptz.")]
    assert actions == [
        ("ptz.move", "operator"),
        ("ptz.stop", "operator"),
        ("ptz.preset.save", "operator"),
        ("ptz.home", "operator"),
        ("ptz.preset.goto", "operator"),
    ]
    goto = _audited(db, "ptz.preset.goto")[0]
    assert goto.object_id == "cam0" and saved in str(goto.detail)


def test_a_camera_without_ptz_is_refused_clearly(db: Any, tmp_path: Path) -> None:
    ctx = make_ctx(db, tmp_path, cameras=1, runtime=False)
    add_users(db, ("operator",))
    with client(ctx) as c:
        h = login(c, "operator")
        r = c.post("/api/ptz/cam0/move", json={"pan": 0.5}, headers=h)
        assert r.status_code == 409 and "not a PTZ camera" in r.json()["detail"]
        assert c.post("/api/ptz/cam0/move", json={"pan": 5}, headers=h).status_code == 422


def test_analytics_pause_off_home_and_resume_at_home(db: Any, tmp_path: Path, device: VirtualCamera) -> None:
    cam = CameraConfig.model_validate(
        {
            "id": "p",
            "purpose": "square safety",
            "streams": {"record": "x.mp4"},
            "onvif": device.url,
            "ptz": {},
            "detect": {"detector": "none", "width": 64, "height": 64},
        }
    )
    analytics = CameraAnalytics(cam, db, EventBus(), tmp_path / "snaps")
    frame = np.zeros((64, 64, 3), np.uint8)

    async def steer() -> list[int]:
        ptz = await PtzCamera.connect("p", device.url)
        seen = []
        try:
            for step in (ptz.move(0.5, 0, 0), ptz.stop(), ptz.home()):
                await step
                # what the web layer does after each command (routes.ptz._sync_analytics)
                (analytics.off_home.clear if ptz.at_home else analytics.off_home.set)()
                before = analytics.frames
                analytics.process(frame, datetime.now(UTC))
                seen.append(analytics.frames - before)
        finally:
            await ptz.close()
        return seen

    assert asyncio.run(steer()) == [0, 0, 1]  # moving and stopped elsewhere: paused; home: analysed
    assert analytics.paused_frames == 2


def test_discovery_finds_the_device_and_its_information_feeds_the_security_check(
    device: VirtualCamera,
) -> None:
    with discovery_responder(device):
        found = discover(2.0, "127.0.0.1")  # a directed probe: loopback carries no multicast
    assert [d.address for d in found] == [device.url]
    assert "dn:NetworkVideoTransmitter" in found[0].types
    cam = CameraConfig.model_validate(
        {"id": "p", "purpose": "square safety", "streams": {"record": "rtsps://cam/s"}, "onvif": device.url}
    )
    result = audit_camera(cam, use_onvif=True)
    assert result.info_source == "onvif"
    assert (result.manufacturer, result.model) == ("PythonCam", "VirtualCam-1")


def test_check_config_wants_an_onvif_address_for_ptz() -> None:
    from oversight.config.loader import camera_issues

    cam = CameraConfig.model_validate(
        {"id": "p", "purpose": "square safety", "streams": {"record": "x.mp4"}, "ptz": {}}
    )
    assert camera_issues(cam) == [(("ptz",), "a PTZ camera needs its ONVIF address in 'onvif'")]
