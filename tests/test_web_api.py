"""The web API: accounts and sessions, events, alerts over the WebSocket, configuration, footage."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect
from typer.testing import CliRunner

from oversight.config.loader import load_config
from oversight.privacy.egress import WholeFrameBlur, egress
from oversight.store.models import Event, RecordingGap, Segment, User
from oversight.web.auth import Principal, create_user
from web_support import PASSWORD, add_users, client, login, make_ctx, tokens


@pytest.fixture
def ctx(db, tmp_path):
    c = make_ctx(db, tmp_path)
    yield c
    c.runtime.stop()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


# ---------------------------------------------------------------- accounts


def test_first_admin_only_through_the_one_time_bootstrap(ctx):
    c = client(ctx)
    assert c.get("/api/auth/state").json()["needs_bootstrap"] is True
    secret = ctx.bootstrap_secret
    assert secret
    body = {"secret": "wrong", "username": "chief", "password": PASSWORD}
    assert c.post("/api/auth/bootstrap", json=body).status_code == 403
    r = c.post("/api/auth/bootstrap", json={**body, "secret": secret})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert c.get("/api/auth/me").json()["username"] == "chief"
    again = client(ctx).post("/api/auth/bootstrap", json={**body, "secret": secret, "username": "other"})
    assert again.status_code == 409
    assert c.get("/api/auth/state").json()["needs_bootstrap"] is False
    with ctx.db.session() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
    assert len(hashes) == 1 and hashes[0].startswith("$argon2id$")


def test_session_cookie_flags_and_csrf(ctx):
    add_users(ctx.db, ("admin",))
    c = client(ctx)
    r = c.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    cookies = r.headers.get_list("set-cookie")
    session = next(h for h in cookies if h.startswith("ov_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Secure" not in session
    csrf_cookie = next(h for h in cookies if h.startswith("ov_csrf="))
    assert "HttpOnly" not in csrf_cookie
    new_user = {"username": "aud1", "password": PASSWORD, "role": "auditor"}  # no second person needed
    assert c.post("/api/users", json=new_user).status_code == 403  # no CSRF header
    assert c.post("/api/users", json=new_user, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert c.post("/api/users", json=new_user, headers={"X-CSRF-Token": r.json()["csrf"]}).status_code == 201
    ctx.secure_cookies = True
    r2 = client(ctx).post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert all("Secure" in h for h in r2.headers.get_list("set-cookie"))


def test_login_throttled_after_repeated_failures(ctx):
    add_users(ctx.db, ("operator", "viewer"))
    c = client(ctx)
    for _ in range(5):
        assert c.post("/api/auth/login", json={"username": "operator", "password": "nope"}).status_code == 401
    blocked = c.post("/api/auth/login", json={"username": "operator", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    # another account from the same address is not locked out
    assert c.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200


def test_logout_everywhere_ends_other_sessions(ctx):
    add_users(ctx.db, ("operator",))
    laptop, wall = client(ctx), client(ctx)
    csrf = login(laptop, "operator")
    login(wall, "operator")
    assert wall.get("/api/auth/me").status_code == 200
    assert laptop.post("/api/auth/logout-all", headers=csrf).status_code == 204
    assert wall.get("/api/auth/me").status_code == 401
    assert laptop.get("/api/auth/me").status_code == 401
    fresh = client(ctx)
    login(fresh, "operator")
    assert fresh.get("/api/auth/me").status_code == 200


def test_api_tokens_are_scoped_and_revocable(ctx):
    add_users(ctx.db, ("admin",))
    admin = client(ctx)
    csrf = login(admin, "admin")
    r = admin.post("/api/tokens", json={"name": "vms-bridge", "role": "viewer"}, headers=csrf)
    assert r.status_code == 202  # a token that sees footage waits for a second person
    secret, tid = r.json()["token"], r.json()["id"]
    api = client(ctx)
    assert api.get("/api/cameras", headers=bearer(secret)).status_code == 401
    with ctx.db.session() as s:
        create_user(s, "admin2", PASSWORD, "admin")
    second = client(ctx)
    change = r.json()["pending_change"]["id"]
    assert second.post(f"/api/changes/{change}/approve", headers=login(second, "admin2")).status_code == 200
    assert api.get("/api/cameras", headers=bearer(secret)).status_code == 200
    assert api.get("/api/events", headers=bearer(secret)).status_code == 403  # viewers see no event list
    assert api.post("/api/users", json={}, headers=bearer(secret)).status_code == 403
    assert admin.delete(f"/api/tokens/{tid}", headers=csrf).status_code == 204
    assert api.get("/api/cameras", headers=bearer(secret)).status_code == 401
    with ctx.db.session() as s:
        from oversight.web.models import ApiToken

        assert secret not in {t.token_hash for t in s.scalars(select(ApiToken))}


def test_users_cli_adds_the_first_admin(ctx, db_url):
    from oversight.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app,
        ["users", "add", "root", "--role", "admin", "--password-stdin", "--db", db_url],
        input=PASSWORD + "\n",
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["users", "add", "weak", "--role", "admin", "--password-stdin", "--db", db_url], input="x\n"
    )
    assert r.exit_code == 1 and "at least" in r.output
    r = runner.invoke(app, ["users", "list", "--db", db_url])
    assert "root\tadmin\tactive" in r.output
    c = client(ctx)
    assert c.get("/api/auth/state").json()["needs_bootstrap"] is False
    login(c, "root")


# ---------------------------------------------------------------- events and alerts


def _events(db, n: int, t0: datetime) -> None:
    with db.session() as s:
        for i in range(n):
            s.add(
                Event(
                    camera_id=f"cam{i % 2}",
                    label="person" if i % 3 else "car",
                    rule_id="door" if i % 2 else None,
                    rule_type="zone",
                    start=t0 + timedelta(seconds=i // 2),
                    confidence=0.8,
                    data={"n": i},
                )
            )


def test_event_search_filters_and_keyset_pages(ctx):
    t0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    _events(ctx.db, 120, t0)
    c = client(ctx)
    h = bearer(tokens(ctx.db, ("auditor",))["auditor"])
    seen: list[int] = []
    cursor = None
    while True:
        q = {"limit": 25, **({"cursor": cursor} if cursor else {})}
        page = c.get("/api/events", params=q, headers=h).json()
        seen += [e["id"] for e in page["items"]]
        starts = [e["start"] for e in page["items"]]
        assert starts == sorted(starts, reverse=True)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 120 == len(set(seen))
    cam1 = c.get("/api/events", params={"camera": "cam1", "limit": 500}, headers=h).json()["items"]
    assert len(cam1) == 60 and {e["camera_id"] for e in cam1} == {"cam1"}
    cars = c.get("/api/events", params={"label": "car", "limit": 500}, headers=h).json()["items"]
    assert len(cars) == 40
    window = {
        "start": (t0 + timedelta(seconds=10)).isoformat(),
        "end": (t0 + timedelta(seconds=20)).isoformat(),
    }
    ranged = c.get("/api/events", params={**window, "limit": 500}, headers=h).json()["items"]
    assert len(ranged) == 20
    assert all(window["start"] <= e["start"].replace("Z", "+00:00") < window["end"] for e in ranged)
    assert c.get("/api/events", params={"cursor": "garbage!"}, headers=h).status_code == 422


def test_alert_reaches_websocket_and_is_acknowledged(ctx, tmp_path):
    snap = tmp_path / "snap.jpg"
    cv2.imwrite(str(snap), np.full((180, 320, 3), 200, np.uint8))
    with ctx.db.session() as s:
        e = Event(
            camera_id="cam0",
            label="person",
            rule_id="door",
            rule_type="zone",
            start=datetime.now(UTC),
            confidence=0.9,
            snapshot_path=str(snap),
            data={},
        )
        s.add(e)
        s.flush()
        eid = e.id
    toks = tokens(ctx.db, ("operator", "viewer"))
    c = client(ctx)
    with (
        c.websocket_connect("/api/ws", headers=bearer(toks["operator"])) as op_ws,
        c.websocket_connect("/api/ws", headers=bearer(toks["viewer"])) as viewer_ws,
    ):
        assert op_ws.receive_json()["topic"] == "hello"
        assert viewer_ws.receive_json()["topic"] == "hello"
        ctx.bus.publish(
            "event",
            {
                "id": eid,
                "camera_id": "cam0",
                "label": "person",
                "rule_id": "door",
                "phase": "start",
                "start": datetime.now(UTC),
                "snapshot": str(snap),
            },
        )
        msg = op_ws.receive_json()
        assert msg["topic"] == "event" and msg["data"]["id"] == eid
        assert (
            msg["data"]["thumbnail"] == f"/api/events/{eid}/thumbnail.jpg" and "snapshot" not in msg["data"]
        )
        bare = viewer_ws.receive_json()["data"]
        assert set(bare) == {"id", "camera_id", "phase", "start", "end"}  # viewers get a marker, no details
        assert c.get("/api/cameras", headers=bearer(toks["viewer"])).json()[0]["active_alerts"] == 0
        r = c.post(
            f"/api/events/{eid}/ack",
            json={"note": "checked on camera, false alarm"},
            headers=bearer(toks["operator"]),
        )
        assert r.status_code == 200 and r.json()["acknowledged_by"] == "token:t-operator"
        ack = op_ws.receive_json()
        assert ack["topic"] == "alert.ack" and ack["data"]["id"] == eid
    again = c.post(f"/api/events/{eid}/ack", json={"note": "second"}, headers=bearer(toks["operator"])).json()
    assert again["ack_note"] == "checked on camera, false alarm"
    thumb = c.get(f"/api/events/{eid}/thumbnail.jpg", headers=bearer(toks["operator"]))
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    from oversight.privacy.models import AuditEntry

    with ctx.db.session() as s:
        seen = s.scalars(select(AuditEntry).where(AuditEntry.action == "footage.thumbnail")).all()
    assert seen and all(e.source == "web testclient" for e in seen), "the audit log must say where from"


def test_websocket_refuses_anonymous_and_foreign_origin(ctx):
    tok = tokens(ctx.db, ("operator",))["operator"]
    c = client(ctx)
    with pytest.raises(WebSocketDisconnect) as anon, c.websocket_connect("/api/ws") as ws:
        ws.receive_json()
    assert anon.value.code == 4401
    with (
        pytest.raises(WebSocketDisconnect) as foreign,
        c.websocket_connect("/api/ws", headers={**bearer(tok), "Origin": "http://evil.example"}) as ws,
    ):
        ws.receive_json()
    assert foreign.value.code == 4403


# ---------------------------------------------------------------- pixels


class Paint:
    """A redactor that paints the frame a known colour, to prove every exit uses it."""

    def __init__(self, cfg):
        self.cfg = cfg

    def redact(self, frame, tracks=None):
        out = frame.copy()
        out[:] = (0, 0, 255)
        return out


def test_every_pixel_exit_goes_through_the_redactor(db, tmp_path):
    ctx = make_ctx(db, tmp_path, redactor_factory=Paint)
    try:
        toks = tokens(db, ("viewer", "admin"))
        c = client(ctx)
        for path, who in (
            ("/api/cameras/cam0/snapshot.jpg", "viewer"),
            ("/api/config/cameras/cam0/snapshot.jpg", "admin"),
        ):
            r = c.get(path, headers=bearer(toks[who]))
            assert r.status_code == 200, r.text
            img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
            assert abs(float(img[..., 2].mean()) - 255) < 3 and float(img[..., :2].mean()) < 3
    finally:
        ctx.runtime.stop()


def test_redaction_fails_closed(ctx):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)

    class Broken:
        def redact(self, frame, tracks=None):
            raise RuntimeError("model crashed")

    ctx.redactor_factory = lambda cfg: Broken()
    out, _ = egress(ctx)._pixels("cam0", frame, None, Principal("v", "viewer"))
    assert out is not frame and out.shape == frame.shape
    # detail is gone: the high-frequency noise is smoothed away
    assert (
        np.abs(np.diff(out.astype(int), axis=1)).mean()
        < np.abs(np.diff(frame.astype(int), axis=1)).mean() / 10
    )
    blurred = WholeFrameBlur().redact(frame)
    assert np.abs(np.diff(blurred.astype(int), axis=1)).mean() < 10


def _clip(path: Path, seconds: float = 2.0, fps: int = 10) -> None:
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 320, 180, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.zeros((180, 320, 3), np.uint8)
            cv2.rectangle(img, (i * 10 % 300, 60), (i * 10 % 300 + 20, 120), (255, 255, 255), -1)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def test_recordings_timeline_and_redacted_segment_with_range(ctx, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    paths = []
    with ctx.db.session() as s:
        for i in range(3):
            p = tmp_path / f"seg{i}.mp4"
            _clip(p)
            paths.append(p)
            start = now - timedelta(minutes=10) + timedelta(seconds=2 * i)
            s.add(
                Segment(
                    camera_id="cam0",
                    start=start,
                    end=start + timedelta(seconds=2),
                    path=str(p),
                    bytes=p.stat().st_size,
                    has_event=False,
                )
            )
        s.add(
            RecordingGap(
                camera_id="cam0",
                start=now - timedelta(minutes=5),
                end=now - timedelta(minutes=4),
                reason="camera offline",
            )
        )
        s.add(
            Event(camera_id="cam0", label="person", start=now - timedelta(minutes=9), confidence=0.5, data={})
        )
    tok = tokens(ctx.db, ("operator", "auditor"))
    c = client(ctx)
    rec = c.get("/api/cameras/cam0/recordings", headers=bearer(tok["operator"])).json()
    assert len(rec["spans"]) == 1 and len(rec["segments"]) == 3  # three touching segments make one span
    assert len(rec["gaps"]) == 1 and len(rec["events"]) == 1
    assert (
        c.get("/api/cameras/cam0/recordings", headers=bearer(tok["auditor"])).status_code == 403
    )  # no footage
    seg_url = rec["segments"][0]["url"]
    full = c.get(seg_url, headers=bearer(tok["operator"]))
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    part = c.get(seg_url, headers={**bearer(tok["operator"]), "Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    served = next((tmp_path / "cache" / "cam0").glob("*.mp4"))
    assert served.read_bytes() != paths[0].read_bytes()  # a re-encoded (redacted) copy, never the raw file


# ---------------------------------------------------------------- configuration


def test_camera_config_is_validated_like_check_config_applied_and_saved(ctx):
    tok = tokens(ctx.db, ("admin", "operator"))
    c = client(ctx)
    h = bearer(tok["admin"])
    cam = c.get("/api/config/cameras/cam0", headers=h).json()
    other_worker = ctx.runtime.workers["cam1"]
    outside = {
        **cam,
        "rules": [
            *cam["rules"],
            {"id": "far", "type": "zone", "purpose": "test zone", "polygon": [[0, 0], [900, 0], [900, 900]]},
        ],
    }
    r = c.put("/api/config/cameras/cam0", json=outside, headers=h)
    assert r.status_code == 422
    assert any("outside" in i["message"] and i["path"] == "rules[1].polygon" for i in r.json()["issues"])
    r = c.put("/api/config/cameras/cam0", json={**cam, "colour": "red"}, headers=h)
    assert r.status_code == 422 and r.json()["issues"][0]["message"] == "unknown key 'colour'"
    assert ctx.runtime.applied == []
    zone = {
        "id": "bench",
        "type": "zone",
        "purpose": "seating area",
        "polygon": [[10, 10], [200, 10], [200, 150]],
    }
    r = c.put("/api/config/cameras/cam0", json={**cam, "rules": [*cam["rules"], zone]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["applied"] and r.json()["saved"]
    assert ctx.runtime.applied == ["cam0"] and ctx.runtime.workers["cam1"] is other_worker
    saved = load_config(ctx.config_path)  # the file still passes check-config
    assert [ru.id for ru in saved.camera("cam0").rules] == ["door", "bench"]
    assert [ru.id for ru in ctx.cfg.camera("cam0").rules] == ["door", "bench"]
    assert c.put("/api/config/cameras/cam0", json=cam, headers=bearer(tok["operator"])).status_code == 403


def test_metrics_expose_camera_status(ctx):
    tok = tokens(ctx.db, ("auditor",))["auditor"]
    text = client(ctx).get("/metrics", headers=bearer(tok)).text
    assert re.search(r'oversight_camera_online\{camera="cam0"\} 1\.0', text)
    assert re.search(r'oversight_camera_fps\{camera="cam1"\} 10\.0', text)
    assert "oversight_recording_bytes" in text


def test_server_errors_carry_no_stack_trace(ctx):
    class Exploding:
        def latest_frame(self):
            raise RuntimeError("secret internal detail")

        def status(self):
            return {"online": True}

    ctx.runtime.workers["cam0"] = Exploding()
    tok = tokens(ctx.db, ("viewer",))["viewer"]
    from fastapi.testclient import TestClient

    from oversight.web.app import create_app

    c = TestClient(create_app(ctx), raise_server_exceptions=False)
    r = c.get("/api/cameras/cam0/snapshot.jpg", headers=bearer(tok))
    assert r.status_code == 500
    body = r.json()  # the error body of web/errors.py: no more than the sentence and its msgid
    assert (
        body["detail"] == body["message"] == body["msgid"] == "internal server error" and not body["params"]
    )
    assert set(body) == {"detail", "message", "msgid", "params"}
    assert "Traceback" not in r.text and "secret" not in r.text


def test_live_frames_are_redacted_once_and_shared_by_viewers(db, tmp_path):
    calls = []

    class Counting(Paint):
        def redact(self, frame, tracks=None):
            calls.append(1)
            return super().redact(frame, tracks)

    ctx = make_ctx(db, tmp_path, redactor_factory=Counting)
    ctx.runtime.stop()  # frozen frames: no new frame between the calls
    gate = egress(ctx)
    a = gate.open_live(Principal("a", "viewer"), ["cam0"]).frame("cam0")
    b = gate.open_live(Principal("b", "operator"), ["cam0"]).frame("cam0")
    assert a is b and len(calls) == 1
    ctx.runtime.workers["cam0"].tick()  # a new frame is encoded again
    assert gate.open_live(Principal("a", "viewer"), ["cam0"]).frame("cam0") is not a and len(calls) == 2


def test_live_mjpeg_streams_moving_frames(ctx):
    import httpx

    from oversight.web.server import BackgroundServer

    tok = tokens(ctx.db, ("viewer",))["viewer"]
    with BackgroundServer(ctx) as url, httpx.Client(base_url=url, headers=bearer(tok), timeout=10) as http:
        with http.stream("GET", "/api/cameras/cam0/live.mjpeg?fps=10") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("multipart/x-mixed-replace")
            buf, jpegs = b"", []
            for chunk in r.iter_bytes():
                buf += chunk
                while (start := buf.find(b"\xff\xd8")) >= 0 and (end := buf.find(b"\xff\xd9", start)) >= 0:
                    jpegs.append(buf[start : end + 2])
                    buf = buf[end + 2 :]
                if len(jpegs) >= 3:
                    break
        imgs = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
        assert all(i is not None and i.shape == (180, 320, 3) for i in imgs)
        assert np.abs(imgs[0].astype(int) - imgs[-1].astype(int)).mean() > 0.5  # the picture moves
    # the viewing session is audited: one entry when it opened, one when the client went away
    import time

    from oversight.privacy import audit

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with ctx.db.session() as s:
            acts = [e.action for e in audit.query(s) if e.action.startswith("footage.live.mjpeg")]
        if "footage.live.mjpeg.end" in acts:
            break
        time.sleep(0.1)
    assert acts == ["footage.live.mjpeg", "footage.live.mjpeg.end"], acts


def test_escalate_turns_an_alert_into_an_incident(ctx):
    pytest.importorskip("oversight.incidents.service")
    with ctx.db.session() as s:
        e = Event(
            camera_id="cam0",
            label="person",
            rule_id="door",
            rule_type="zone",
            start=datetime.now(UTC),
            confidence=0.9,
            data={},
        )
        s.add(e)
        s.flush()
        eid = e.id
    tok = tokens(ctx.db, ("operator", "viewer"))
    c = client(ctx)
    assert c.post(f"/api/events/{eid}/escalate", json={}, headers=bearer(tok["viewer"])).status_code == 403
    r = c.post(
        f"/api/events/{eid}/escalate", json={"note": "fight reported"}, headers=bearer(tok["operator"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["incident_id"]
    ev = c.get(f"/api/events/{eid}", headers=bearer(tok["operator"])).json()
    assert ev["acknowledged_by"] == "token:t-operator" and ev["ack_note"].startswith("escalated")


def test_incident_and_unit_pushes_follow_the_api_read_roles(ctx):
    """Whoever may read incidents and units through the API gets them live; viewers do not."""
    toks = tokens(ctx.db, ("admin", "auditor", "viewer"))
    c = client(ctx)
    with (
        c.websocket_connect("/api/ws", headers=bearer(toks["admin"])) as admin_ws,
        c.websocket_connect("/api/ws", headers=bearer(toks["auditor"])) as auditor_ws,
        c.websocket_connect("/api/ws", headers=bearer(toks["viewer"])) as viewer_ws,
    ):
        for ws in (admin_ws, auditor_ws, viewer_ws):
            assert ws.receive_json()["topic"] == "hello"
        ctx.bus.publish("unit", {"id": "M-1", "status": "en_route"})
        ctx.bus.publish("camera.status", {"id": "cam0", "online": True})
        for ws in (admin_ws, auditor_ws):
            assert ws.receive_json()["topic"] == "unit"
        assert viewer_ws.receive_json()["topic"] == "camera.status"  # the unit message was never sent


def test_concurrent_requests_for_one_segment_transcode_it_once(ctx, tmp_path, monkeypatch):
    """Four viewers asking for the same redacted segment at once wait for one transcode, and the
    next one is served from it: playback work is bounded per file, not per request."""
    from concurrent.futures import ThreadPoolExecutor

    from oversight.privacy import egress as egress_module

    now = datetime.now(UTC).replace(microsecond=0)
    p = tmp_path / "seg.mp4"
    _clip(p)
    with ctx.db.session() as s:
        seg = Segment(
            camera_id="cam0", start=now - timedelta(minutes=3), end=now - timedelta(minutes=2),
            path=str(p), bytes=p.stat().st_size, has_event=False,
        )  # fmt: skip
        s.add(seg)
        s.flush()
        seg_id = seg.id
    calls: list[str] = []
    real = egress_module._transcode

    def counting(src, dst, per_frame, crf):  # type: ignore[no-untyped-def]
        calls.append(str(dst))
        return real(src, dst, per_frame, crf)

    monkeypatch.setattr(egress_module, "_transcode", counting)
    tok = tokens(ctx.db, ("operator",))["operator"]
    c = client(ctx)
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(lambda _: c.get(f"/api/segments/{seg_id}/video.mp4", headers=bearer(tok)), range(4))
        )
    assert [r.status_code for r in codes] == [200] * 4
    assert len({r.content for r in codes}) == 1
    assert len(calls) == 1
    assert c.get(f"/api/segments/{seg_id}/video.mp4", headers=bearer(tok)).status_code == 200
    assert len(calls) == 1
