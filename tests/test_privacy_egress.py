"""The egress gate is the one place pixels leave the server: read from the code, not from a URL list.

The routes are enumerated from the app itself (any WebSocket that sends bytes, any HTTP route that
declares or builds image/video/multipart/zip content or a file/stream response); each must call
the gate. The source tree is scanned for redaction and encoding calls outside the gate.
"""

from __future__ import annotations

import ast
import inspect
import math
import struct
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oversight.web.app import create_app, iter_routes
from web_support import make_ctx, tokens


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


SRC = Path(__file__).resolve().parents[1] / "src" / "oversight"

# Routes that send files or images that are not camera pixels, with the reason.
NOT_CAMERA_PIXELS = {
    "/": "the web app's HTML",
    "/favicon.ico": "the app icon",
    "/api/site/plan": "the site plan drawing an admin configured",
    "/api/reports/{kind}": "privacy/transparency reports: text and charts of counts",
    "/api/incidents/reports/chart.svg": "a chart of incident counts",
    "/public/{file}": "the public portal's fixed CSS, script and icon (its crawl test checks the rest)",
    "/sw.js": "the service worker's script",
    "/icons/icon-192.png": "the app icon, drawn from constants (web/install.py)",
    "/icons/icon-512.png": "the app icon, drawn from constants (web/install.py)",
    "/icons/maskable-512.png": "the app icon, drawn from constants (web/install.py)",
}
MEDIA_TYPES = ("image/", "video/", "multipart/", "application/zip")
RESPONSES = {"FileResponse", "StreamingResponse"}

# Calls that redact, encode or fetch raw frames; only the gate (and the modules that define them,
# and the benchmarks that measure them without serving anything) may make them.
PRIMITIVES = {
    "imencode": {"web/install.py"},  # the app's icons, drawn from constants: no camera pixel
    "redact": {"privacy/redaction.py"},
    "Redactor": {"privacy/redaction.py", "privacy/track.py"},  # track: the ingest region finder
    "apply_regions": {"privacy/redaction.py"},
    "frames_from": {"recording/playback.py"},
    "_transcode": set(),
    "Fmp4Encoder": {"privacy/live_feed.py"},  # the gate's live feeds
}
RAW_FRAMES_OUTSIDE = ("web/",)  # where ``latest_frame`` must never be called


def _calls(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            out.append(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    return out


def _builds_media(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name in RESPONSES:
            return True
        for kw in node.keywords:
            value = kw.value.value if isinstance(kw.value, ast.Constant) else None
            if kw.arg == "media_type" and str(value).startswith(MEDIA_TYPES):
                return True
    return False


def _media_routes(app: Any) -> dict[str, ast.AST]:
    """Path -> endpoint AST for every route that can send pixels, found from the routes themselves."""
    from fastapi.routing import APIRoute, APIWebSocketRoute

    found: dict[str, ast.AST] = {}
    for path, route in iter_routes(app):
        endpoint = getattr(route, "endpoint", None)
        if endpoint is None:
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
        if isinstance(route, APIWebSocketRoute):
            # called there, or handed to the helpers that send for it (the wall's camera tasks)
            sends_bytes = any(isinstance(n, ast.Attribute) and n.attr == "send_bytes" for n in ast.walk(tree))
            if sends_bytes:
                found[path] = tree
        elif isinstance(route, APIRoute):
            declared = [c for v in (route.responses or {}).values() for c in (v.get("content") or {})]
            if any(c.startswith(MEDIA_TYPES) for c in declared) or _builds_media(tree):
                found[path] = tree
    return found


@pytest.fixture
def app(db, tmp_path):  # type: ignore[no-untyped-def]
    ctx = make_ctx(db, tmp_path, runtime=False)
    return create_app(ctx)


def test_every_media_route_calls_the_gate(app) -> None:  # type: ignore[no-untyped-def]
    media = _media_routes(app)
    # the enumeration must see the exits we know of, or it is not reading the app
    known = (
        "/api/live.ws",
        "/api/live.h264.ws",
        "/api/live.wall.h264.ws",
        "/api/cameras/{camera_id}/snapshot.jpg",
        "/api/segments/{segment_id}/video.mp4",
    )
    for path in known:
        assert path in media, sorted(media)
    stale = set(NOT_CAMERA_PIXELS) - set(media)
    assert not stale, f"exemptions for routes that no longer send media: {stale}"
    bypass = [p for p, tree in media.items() if p not in NOT_CAMERA_PIXELS and "egress" not in _calls(tree)]
    assert not bypass, f"routes sending pixels without the egress gate: {bypass}"
    # and the converse: a route that calls the gate declares or builds media (nothing hidden in JSON)
    from fastapi.routing import APIRoute

    for path, route in iter_routes(app):
        endpoint = getattr(route, "endpoint", None)
        if isinstance(route, APIRoute) and endpoint is not None:
            tree = ast.parse(textwrap.dedent(inspect.getsource(endpoint)))
            if "egress" in _calls(tree):
                assert path in media, f"{path} calls the gate but does not declare its media type"


def test_nothing_outside_the_gate_redacts_encodes_or_reads_raw_frames() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "privacy/egress.py" or rel.startswith("bench/"):
            continue
        calls = _calls(ast.parse(path.read_text()))
        for name, allowed in PRIMITIVES.items():
            if name in calls and rel not in allowed:
                offenders.append(f"{rel}: {name}()")
        if rel.startswith(RAW_FRAMES_OUTSIDE) and "latest_frame" in calls:
            offenders.append(f"{rel}: latest_frame()")
    assert not offenders, offenders


def test_the_gate_audits_inside_every_method_that_hands_out_pixels() -> None:
    """Each public method of the gate that returns pixels writes the audit entry itself."""
    from oversight.privacy import egress

    tree = ast.parse(inspect.getsource(egress))
    audited = {"_audit", "record", "open_live", "LiveSession"}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Egress"):
        for fn in cls.body:
            # card: a message, no camera pixels; close: ends the live encodes at shutdown
            if (
                isinstance(fn, ast.FunctionDef)
                and not fn.name.startswith("_")
                and fn.name not in ("card", "close")
            ):
                calls = set(_calls(fn))
                assert calls & audited, f"Egress.{fn.name} hands out pixels without an audit entry"


def _wall_frames(ws: Any, n: int) -> list[tuple[str, float, int, bytes]]:
    out = []
    while len(out) < n:
        data = ws.receive_bytes()
        k = data[0]
        cid = data[1 : 1 + k].decode()
        ts, state = struct.unpack(">dB", data[1 + k : 10 + k])
        out.append((cid, ts, state, data[10 + k :]))
    return out


def test_watching_the_wall_is_one_audited_session(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from oversight.privacy import audit

    ctx = make_ctx(db, tmp_path)
    try:
        tok = tokens(db, ("operator",))["operator"]
        c = TestClient(create_app(ctx))
        t0 = datetime.now(UTC)
        url = "/api/live.ws?ids=cam0,cam1&purpose=shift%20patrol"
        with c.websocket_connect(url, headers=bearer(tok)) as ws:
            got = _wall_frames(ws, 4)
        assert {g[0] for g in got} == {"cam0", "cam1"}
        for _cid, ts, state, jpeg in got:
            assert state == 0 and jpeg[:2] == b"\xff\xd8"
            assert abs(ts - t0.timestamp()) < 60 and not math.isnan(ts)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while True:  # the end entry is written when the server notices the disconnect
            with db.session() as s:
                entries = [e for e in audit.query(s) if e.action.startswith("footage.live.wall")]
            if len(entries) >= 2 or datetime.now(UTC) > deadline:
                break
            time.sleep(0.05)
        opened, closed = sorted(entries, key=lambda e: e.seq)
        assert opened.action == "footage.live.wall" and closed.action == "footage.live.wall.end"
        assert opened.detail["cameras"] == ["cam0", "cam1"] and opened.purpose == "shift patrol"
        assert closed.detail["start"] == opened.detail["start"]
        assert closed.detail["end"] >= closed.detail["start"]
        assert closed.detail["frames"] >= 4 and closed.actor == opened.actor
        with db.session() as s:
            assert audit.verify(s).ok
    finally:
        ctx.runtime.stop()


def test_a_stalled_camera_says_so_instead_of_showing_its_last_frame(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    ctx = make_ctx(db, tmp_path)
    ctx.runtime.stop()
    worker = ctx.runtime.workers["cam0"]
    frame, _ = worker.latest_frame()
    worker._frame = (frame, datetime.now(UTC) - timedelta(minutes=5))  # nothing new for 5 minutes
    try:
        tok = tokens(db, ("operator",))["operator"]
        c = TestClient(create_app(ctx))
        with c.websocket_connect("/api/live.ws?ids=cam0", headers=bearer(tok)) as ws:
            ((_cid, ts, state, jpeg),) = _wall_frames(ws, 1)
        assert state == 1 and ts < datetime.now(UTC).timestamp() - 200
        r = c.get("/api/cameras/cam0/snapshot.jpg", headers=bearer(tok))
        assert r.status_code == 503 and "stalled" in r.text
    finally:
        ctx.runtime.stop()


def test_live_h264_is_one_shared_encode_that_decodes(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import json

    import av
    from fastapi.testclient import TestClient

    from oversight.privacy import audit
    from oversight.privacy.egress import egress

    ctx = make_ctx(db, tmp_path)
    try:
        toks = tokens(db, ("operator", "viewer"))
        c = TestClient(create_app(ctx))
        got: list[bytes] = []
        with (
            c.websocket_connect("/api/live.h264.ws?camera=cam0", headers=bearer(toks["operator"])) as a,
            c.websocket_connect("/api/live.h264.ws?camera=cam0", headers=bearer(toks["viewer"])) as b,
        ):
            for ws in (a, b):
                head = json.loads(ws.receive_text())
                assert head["type"] == "init" and head["codec"].startswith("avc1.")
            init = a.receive_bytes()
            assert init[4:8] == b"ftyp"
            got.append(init)
            while len(got) < 12:
                msg = a.receive()
                if msg.get("bytes"):
                    got.append(msg["bytes"])
            assert b.receive_bytes()[4:8] == b"ftyp"
            assert len(egress(ctx)._feeds) == 1  # both viewers share one encode
        with av.open(io.BytesIO(b"".join(got)), format="mp4") as cont:
            frames = [f.to_ndarray(format="bgr24") for f in cont.decode(video=0)]
        assert len(frames) >= 8 and frames[0].shape == (180, 320, 3)
        assert any(abs(f.astype(int) - frames[0].astype(int)).mean() > 0.5 for f in frames[1:])  # it moves
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.session() as s:
                ends = [e for e in audit.query(s) if e.action == "footage.live.h264.end"]
            if len(ends) == 2:
                break
            time.sleep(0.1)
        assert len(ends) == 2
    finally:
        ctx.runtime.stop()


def test_a_stuck_live_encode_is_replaced_and_its_viewers_reconnect(db, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import threading

    from oversight.privacy import egress as eg
    from oversight.privacy import fmp4
    from oversight.privacy.live_feed import H264Feed

    release = threading.Event()
    real, real_init = fmp4.Fmp4Encoder.encode, fmp4.Fmp4Encoder.__init__
    made: list[Any] = []  # encoders of this test (feeds of earlier tests may still be winding down)

    def init(self: Any, *a: Any) -> None:
        real_init(self, *a)
        made.append(self)

    def encode(self: Any, img: Any, t: float) -> Any:
        if made and made[0] is self:
            release.wait(30)  # the first encoder of this test hangs
        return real(self, img, t)

    monkeypatch.setattr(fmp4.Fmp4Encoder, "__init__", init)
    monkeypatch.setattr(fmp4.Fmp4Encoder, "encode", encode)
    monkeypatch.setattr(H264Feed, "STALL_S", 0.5)
    ctx = make_ctx(db, tmp_path)
    loop = asyncio.new_event_loop()
    try:
        gate = eg.egress(ctx)
        who = type("P", (), {"username": "olga", "role": "operator", "via": "session", "ip": None})()
        session = gate.open_live(who, ["cam0"])
        first = session.h264("cam0", loop)
        assert first.init == b""  # never got going
        time.sleep(0.6)
        second = session.h264("cam0", loop)
        assert second.feed is not first.feed and gate.feed_restarts == 1
        deadline = time.monotonic() + 15
        while not second.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.init[4:8] == b"ftyp" and second.codec.startswith("avc1.")
        loop.run_until_complete(asyncio.sleep(0.05))  # deliver what the feeds queued
        items = []
        while not first.queue.empty():
            items.append(first.queue.get_nowait())
        assert None in items  # the old feed's viewers were told to reconnect
        session.close()
    finally:
        release.set()
        loop.close()
        ctx.runtime.stop()


def _wall_h264(ws: Any, want: Any, limit: int = 400) -> dict[str, dict[str, Any]]:
    """Read the H.264 wall socket until ``want(per_camera)`` holds: per camera, its inits
    (stream, codec), states and the bytes of its newest stream (init segment + fragments)."""
    import json

    cams: dict[str, dict[str, Any]] = {}
    for _ in range(limit):
        msg = ws.receive()
        if msg.get("text"):
            m = json.loads(msg["text"])
            cam = cams.setdefault(m["camera"], {"inits": [], "states": [], "data": []})
            if m["type"] == "init":
                cam["inits"].append((m["stream"], m["codec"]))
                cam["data"] = []
            else:
                cam["states"].append(m["state"])
        elif msg.get("bytes"):
            data = msg["bytes"]
            cid = data[1 : 1 + data[0]].decode()
            cams.setdefault(cid, {"inits": [], "states": [], "data": []})["data"].append(data[1 + data[0] :])
        if want(cams):
            return cams
    raise AssertionError(f"the wall socket did not deliver: { ({k: v['inits'] for k, v in cams.items()}) }")


def _decoded(parts: list[bytes]) -> list[Any]:
    import io

    import av

    with av.open(io.BytesIO(b"".join(parts)), format="mp4") as cont:
        return [f.to_ndarray(format="bgr24") for f in cont.decode(video=0)]


def test_the_wall_in_h264_is_one_session_with_sub_and_main_streams(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from fastapi.testclient import TestClient

    from oversight.privacy import audit
    from oversight.privacy.egress import egress

    ctx = make_ctx(db, tmp_path, cameras=3)
    ctx.runtime.remove_camera("cam2")  # configured, but no picture: the tile must say offline
    try:
        tok = tokens(db, ("viewer",))["viewer"]
        c = TestClient(create_app(ctx))
        url = "/api/live.wall.h264.ws?ids=cam0,cam1,cam2&purpose=shift%20patrol"
        with c.websocket_connect(url, headers=bearer(tok)) as ws:
            cams = _wall_h264(
                ws,
                lambda m: (
                    all(len(m.get(i, {}).get("data", [])) >= 6 for i in ("cam0", "cam1"))
                    and bool(m.get("cam2", {}).get("states"))
                ),
            )
            assert cams["cam2"]["states"][-1] == "offline" and not cams["cam2"]["data"]
            for cid in ("cam0", "cam1"):
                assert cams[cid]["inits"][0][0] == "sub" and cams[cid]["inits"][0][1].startswith("avc1.")
                frames = _decoded(cams[cid]["data"])
                assert len(frames) >= 4 and frames[0].shape == (180, 320, 3)
                assert any(abs(f.astype(int) - frames[0].astype(int)).mean() > 0.5 for f in frames[1:])
            ws.send_text(json.dumps({"camera": "cam0", "stream": "main"}))  # the tile went fullscreen
            cams = _wall_h264(ws, lambda m: m.get("cam0", {}).get("inits") and len(m["cam0"]["data"]) >= 4)
            assert cams["cam0"]["inits"][-1][0] == "main"
            assert _decoded(cams["cam0"]["data"])[0].shape == (360, 640, 3)  # the main stream's size
            assert {k[2] for k in egress(ctx)._feeds} >= {"main", "sub"}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the end entry is written when the server notices
            with db.session() as s:
                entries = [e for e in audit.query(s) if e.action.startswith("footage.live.wall")]
            if len(entries) >= 2:
                break
            time.sleep(0.05)
        opened, closed = sorted(entries, key=lambda e: e.seq)
        assert (opened.action, closed.action) == ("footage.live.wall", "footage.live.wall.end")
        assert opened.detail["cameras"] == ["cam0", "cam1", "cam2"] and opened.purpose == "shift patrol"
        assert closed.detail["frames"] >= 16 and closed.detail["end"] >= closed.detail["start"]
    finally:
        ctx.runtime.stop()


def test_a_viewer_too_far_behind_is_made_to_rejoin_instead_of_piling_up(db, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import threading
    from types import SimpleNamespace

    from oversight.privacy import live_feed
    from oversight.privacy.egress import egress

    monkeypatch.setattr(live_feed, "MAX_BACKLOG", 5)
    ctx = make_ctx(db, tmp_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        who = SimpleNamespace(username="slow", role="viewer", ip=None)
        with egress(ctx).open_live(who, ["cam0"], "live.h264", None) as session:
            sub = session.h264("cam0", loop)  # never read: a viewer that cannot keep up
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and None not in list(sub.queue._queue):
                time.sleep(0.1)
            held = list(sub.queue._queue)
            assert held[-1] is None, "the lagging viewer should have been told to rejoin"
            assert len(held) <= 5 + 3  # bounded: nothing more is queued for it
            assert sub.feed.dropped_viewers == 1
            time.sleep(0.5)
            assert list(sub.queue._queue) == held
            sub.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        ctx.runtime.stop()


def _feeds(earlier: set[Any]) -> list[str]:
    """Live-encode threads started since ``earlier``."""
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("h264-") and t not in earlier]


def test_live_video_sockets_do_not_deflate_h264(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Per-message deflate of video costs CPU per viewer and saves nothing: the server declines it.
    When the server stops, its live encodes stop with it: a feed thread still inside OpenCV when
    the interpreter exits aborts the process (exit 134 on every service stop)."""
    import threading

    from websockets.sync.client import connect

    from oversight.web.server import BackgroundServer

    ctx = make_ctx(db, tmp_path)
    earlier = set(threading.enumerate())  # feeds of earlier tests may still be idling out
    try:
        tok = tokens(db, ("viewer",))["viewer"]
        with BackgroundServer(ctx) as url:
            ws_url = url.replace("http://", "ws://") + "/api/live.wall.h264.ws?ids=cam0"
            with connect(ws_url, additional_headers=bearer(tok), compression="deflate") as ws:
                assert ws.recv(timeout=20)  # the wall is flowing
                assert ws.protocol.extensions == []
                # still subscribed: without the server's shutdown the feed would idle on for seconds
                assert _feeds(earlier)
        assert not _feeds(earlier)
    finally:
        ctx.runtime.stop()


def test_a_live_encode_is_renewed_so_the_muxer_index_stays_bounded(db, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import threading
    from types import SimpleNamespace

    from oversight.privacy import live_feed
    from oversight.privacy.egress import egress

    monkeypatch.setattr(live_feed, "MAX_FRAGMENTS", 4)
    ctx = make_ctx(db, tmp_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        who = SimpleNamespace(username="wall", role="viewer", ip=None)
        with egress(ctx).open_live(who, ["cam0"], "live.h264", None) as session:
            sub = session.h264("cam0", loop)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and None not in list(sub.queue._queue):
                time.sleep(0.1)
            frags = [i for i in sub.queue._queue if isinstance(i, bytes)]
            assert list(sub.queue._queue)[-1] is None, "the feed should end after MAX_FRAGMENTS"
            assert len(frags) <= 4 and sub.feed.frames == 4  # no encode runs on past the bound
            old = sub.feed
            sub.close()
            again = session.h264("cam0", loop)  # the viewer rejoins: a fresh encode (a new muxer)
            assert again.feed is not old and not old.alive
            again.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        ctx.runtime.stop()


@pytest.mark.parametrize(
    "times",
    [
        [10.0, 10.0, 10.1],  # the same timestamp twice (a restamped or duplicated frame)
        [10.0, 10.1, 10.05, 10.2],  # a frame older than the last one (a looping file, a jump back)
        [10.0, 9.5, 10.1],  # older than the very first
        [10.0, 10.0004, 10.0008],  # within one millisecond
    ],
)
def test_the_live_encoder_takes_any_frame_times(times: list[float]) -> None:
    """The muxer refuses a time that does not advance; the live encoder must never end its viewers'
    stream for that (seen in the demo: every feed of a looping file camera died and restarted)."""
    import numpy as np

    from oversight.privacy.fmp4 import Fmp4Encoder

    enc = Fmp4Encoder(64, 48, 10)
    img = np.zeros((48, 64, 3), np.uint8)
    for i, t in enumerate(times * 3):
        img[:] = i * 10 % 255
        enc.encode(img, t + 10 * (i // len(times)))
    enc.close()
    assert enc.init
