"""The operator console in real Chromium: a saved view survives a reload, four cameras play back in
lock-step from one clock, a bookmark made on live video is found by search and attached to an
incident, a reveal asked for from a clip shows its marker and watermark once approved, and roles
without live video land on a page they can use.

Recorded footage is real: MP4 segments written with PyAV and served through the egress gate.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from oversight.store.base import utcnow
from oversight.store.models import Segment
from oversight.web.server import BackgroundServer
from web_support import PASSWORD, add_users, make_ctx

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
FPS = 10
SPREAD = """() => {
  const at = [...document.querySelectorAll('.review video')]
    .map(v => Number(v.dataset.segStart) + v.currentTime * 1000);
  return Math.max(...at) - Math.min(...at);
}"""
SEG_S = 6
FRAMES = """(sel) => {
  const v = document.querySelector(sel);
  return v ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
}"""


def _plays(page, sel: str, frames: int = 10, timeout: float = 45) -> None:
    """The <video> at ``sel`` decodes ``frames`` more frames (H.264 through MSE, not a JPEG <img>)."""
    _until(page, f"!!document.querySelector({sel!r} + ' video')", timeout)
    first = page.evaluate(FRAMES, sel + " video")
    deadline = time.monotonic() + timeout
    while (now := page.evaluate(FRAMES, sel + " video")) < max(first, 1) + frames:
        assert time.monotonic() < deadline, f"{sel}: video frames stuck at {now}"
        time.sleep(0.3)


def _write_segment(path: Path, cam: int, first: int) -> None:
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = 320, 180, "yuv420p"
        st.options = {"preset": "ultrafast", "g": str(FPS)}
        for i in range(SEG_S * FPS):
            img = np.full((180, 320, 3), 40 * cam, np.uint8)
            x = (first + i) * 3 % 300
            img[60:120, x : x + 20] = 255  # a bar moving through the picture
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)


@pytest.fixture
def site(db, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    ctx = make_ctx(db, tmp_path, cameras=4)
    add_users(db)
    t0 = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    (tmp_path / "rec").mkdir()
    with db.session() as s:
        for cam in range(4):
            for k in range(2):
                p = tmp_path / "rec" / f"cam{cam}-{k}.mp4"
                _write_segment(p, cam, k * SEG_S * FPS)
                start = t0 + timedelta(seconds=k * SEG_S)
                s.add(
                    Segment(
                        camera_id=f"cam{cam}",
                        start=start,
                        end=start + timedelta(seconds=SEG_S),
                        path=str(p),
                        bytes=p.stat().st_size,
                    )
                )
    try:
        with BackgroundServer(ctx) as url:
            yield ctx, url, t0, tmp_path / "rec"
    finally:
        ctx.runtime.stop()


def _until(page, expr: str, timeout: float = 30) -> None:
    """Poll a JS expression from here (the strict CSP forbids Playwright's in-page function waits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expr):
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {expr}")


def _login(page, url: str, user: str) -> None:
    page.goto(url + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#top:not([hidden])")


def test_console_in_chromium(site):
    from playwright.sync_api import sync_playwright

    ctx, url, t0, tmp_rec = site
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            for role, page_name in (("auditor", "audit"), ("admin", "users"), ("operator", "wall")):
                page = browser.new_page()
                _login(page, url, role)
                page.goto(url + "/#/")
                _until(page, f"location.hash === '#/{page_name}'")
                page.close()
            page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            _login(page, url, "operator")
            _saved_view(page, url)
            _bookmark_from_live(page, url, ctx)
            try:
                _lockstep(page, url, t0)
            finally:
                page.screenshot(path="/tmp/review.png")
            _reveal_from_clip(page, url, t0, tmp_rec)
        finally:
            browser.close()
    assert not errors, errors


def _saved_view(page, url: str) -> None:
    page.goto(url + "/#/views")
    page.click("text=New view")
    page.fill("input[aria-label='View name']", "Gate and square")
    page.select_option("select[aria-label=Layout]", "2x2")
    page.select_option("select[aria-label='Tile 1 cameras']", ["cam3"])
    page.select_option("select[aria-label='Tile 2 cameras']", ["cam1", "cam2"])  # a tour
    page.click("text=Save view")
    _until(page, "/^#\\/views\\/\\d+$/.test(location.hash)")
    page.reload()
    page.wait_for_selector(".vwall.l2x2 .tile[data-cell='0'][data-camera='cam3']")
    assert page.get_attribute(".tile[data-cell='1']", "data-camera") == "cam1"
    assert "tour 1/2" in page.inner_text(".tile[data-cell='1']")
    # the tiles are the wall's: live H.264 whose frames advance, on the sub or main stream by size
    _plays(page, ".tile[data-cell='0']")
    assert page.get_attribute(".tile[data-cell='0']", "data-stream") in ("sub", "main")
    assert page.get_attribute(".tile[data-cell='0']", "data-state") == "live"
    assert page.query_selector(".vwall img") is None  # no JPEG tiles left
    page.goto(url + "/#/views")  # no id in the address: the last view used comes back
    page.wait_for_selector(".tile[data-cell='0'][data-camera='cam3']")
    # a second monitor follows this window; "show on wall" puts a camera on both
    monitor = page.context.new_page()
    monitor.goto(url + "/#/views?follow=1")
    monitor.wait_for_selector(".vwall.follower.l2x2 .tile[data-cell='0'][data-camera='cam3']")
    _plays(monitor, ".vwall.follower .tile[data-cell='0']")
    page.evaluate("import('/static/lib/console.js').then(m => m.showOnWall('cam0'))")
    monitor.wait_for_selector(".tile.spot[data-cell='0'][data-camera='cam0']")
    page.wait_for_selector(".tile.spot[data-cell='0'][data-camera='cam0']")
    monitor.close()


def _bookmark_from_live(page, url: str, ctx) -> None:
    page.goto(url + "/#/camera/cam2")
    page.click("button:has-text('Bookmark')")
    page.fill("textarea[aria-label='Bookmark note']", "grey van leaves by the north gate")
    page.click("dialog button:has-text('Save bookmark')")
    page.wait_for_selector("text=Bookmarked.")
    inc = ctx.incident_service()
    with ctx.db.session() as s:
        iid = inc.create(s, "operator", type="other", address="North gate", description="van").id
    page.goto(url + "/#/bookmarks")
    page.fill("input[aria-label='Search notes']", "north van")
    page.click("form button:has-text('Search')")
    row = page.wait_for_selector("tr[data-bookmark]:has-text('grey van leaves')")
    assert "(live)" in row.inner_text()
    page.click("tr[data-bookmark]:has-text('grey van leaves') button:has-text('Attach to incident')")
    page.select_option("select[aria-label=Incident]", str(iid))
    page.click("dialog button:has-text('Attach')")
    page.wait_for_selector(f"tr[data-bookmark] a:has-text('#{iid}')")
    page.goto(url + f"/#/incidents/{iid}")
    page.wait_for_selector("li:has-text('grey van leaves by the north gate')")


def _lockstep(page, url: str, t0) -> None:
    cams = "cam0,cam1,cam2,cam3"
    page.goto(url + f"/#/review?cameras={cams}&t={t0.isoformat().replace('+00:00', 'Z')}&m=5")
    _until(page, "document.querySelectorAll('.review video').length === 4")
    _until(page, "[...document.querySelectorAll('.review video')].every(v => v.readyState >= 3)", 60)
    page.click("button:has-text('Play')")
    spreads = page.evaluate(
        """async () => {
          const out = [], vids = [...document.querySelectorAll('.review video')];
          const t0 = performance.now();
          while (performance.now() - t0 < 9000) {
            await new Promise(r => setTimeout(r, 97));
            if (!vids.every(v => v.readyState >= 3 && !v.seeking && !v.paused)) continue;
            const at = vids.map(v => Number(v.dataset.segStart) + v.currentTime * 1000);
            out.push({ spread: Math.max(...at) - Math.min(...at), at: at[0] });
          }
          return out;
        }"""
    )
    assert len(spreads) >= 20, f"only {len(spreads)} samples with all four playing"
    moved = spreads[-1]["at"] - spreads[0]["at"]
    assert moved > 3000, f"the footage clock moved only {moved:.0f} ms"  # they really played
    worst = max(s["spread"] for s in spreads)
    frame = 1000 / FPS
    median = statistics.median(s["spread"] for s in spreads)
    print(f"lock-step: {len(spreads)} samples, median spread {median:.1f} ms, worst {worst:.1f} ms", end=" ")
    print(f"= {worst / frame:.2f} frame intervals")
    assert worst < frame, f"clocks drifted {worst:.0f} ms apart (> one frame, {frame:.0f} ms)"
    # knock one pane a second off (as a stall would): the one clock pulls it back into step
    page.click("button:has-text('Pause')")
    page.evaluate("document.querySelectorAll('.review video')[2].currentTime -= 1.0")
    page.click("button:has-text('Play')")
    time.sleep(1.5)
    again = page.evaluate(SPREAD)
    assert again < frame, f"a pane knocked 1 s off stayed {again:.0f} ms away"
    # a span bookmarked on one pane in playback
    page.click("button:has-text('Pause')")
    page.click(".review .pane[data-camera='cam2']")
    seek = "v => { v.value = String(Number(v.value) - 40); v.dispatchEvent(new Event('input')); }"
    page.eval_on_selector("input[aria-label=Timeline]", seek)
    page.click("button:has-text('Mark in')")
    page.click("button:has-text('|▸')")
    page.click("button:has-text('|▸')")
    page.click(".toolbar button:has-text('Bookmark')")
    page.fill("textarea[aria-label='Bookmark note']", "cyclist turns left")
    page.click("dialog button:has-text('Save bookmark')")
    page.wait_for_selector("text=Bookmarked.")
    [b] = page.evaluate("fetch('/api/bookmarks?q=cyclist').then(r => r.json())")
    assert b["camera_id"] == "cam2" and b["source"] == "playback" and b["end"] > b["start"]


def _reveal_from_clip(page, url: str, t0, tmp_rec: Path) -> None:
    at = (t0 + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    page.goto(url + f"/#/camera/cam1?t={at}")
    _until(
        page,
        "(() => { const v = document.querySelector('.player video'); return v && v.readyState >= 2; })()",
        60,
    )
    assert page.is_hidden(".revealed-marker")
    page.click("button:has-text('Request reveal')")
    page.fill("textarea[aria-label=Reason]", "following the van seen at the north gate")
    page.fill("input[aria-label=Reference]", "CASE-17")
    page.click("dialog button:has-text('Request reveal')")
    page.wait_for_selector("text=Reveal requested")
    sup_page = page.context.browser.new_page()  # a supervisor elsewhere sees it waiting
    _login(sup_page, url, "supervisor")
    sup_page.wait_for_selector("#reveal-count:not([hidden]):has-text('1')")
    sup_page.close()
    with httpx.Client(base_url=url) as sup:
        r = sup.post("/api/auth/login", json={"username": "supervisor", "password": PASSWORD})
        csrf = {"X-CSRF-Token": r.json()["csrf"]}
        pending = sup.get("/api/reveals?status=pending").json()
        assert [p["camera_ids"] for p in pending] == [["cam1"]]
        assert pending[0]["start"] <= (t0 + timedelta(seconds=2)).isoformat() <= pending[0]["end"]
        ok = sup.post(
            f"/api/reveals/{pending[0]['id']}/approve", json={"note": "ok", "valid_hours": 1}, headers=csrf
        )
        assert ok.status_code == 200, ok.text
    page.reload()
    page.wait_for_selector(".revealed-marker:not([hidden])", timeout=20000)
    assert "UNREDACTED" in page.inner_text(".revealed-marker") and "ends in" in page.inner_text(
        ".revealed-marker"
    )
    mark = page.text_content(".watermark")
    assert mark and "operator" in mark
    # the copy that leaves the server carries it too: the revealed segment has the name burned in
    src = page.evaluate("document.querySelector('.player video').currentSrc")
    got = page.request.get(src).body()
    marked, plain = _top_band(got), _top_band((tmp_rec / "cam1-0.mp4").read_bytes())
    print(f"top strip variation: revealed segment {marked:.1f}, recorded original {plain:.1f}")
    assert plain < 2 and marked > 10


def _top_band(mp4: bytes) -> float:
    """How much the top strip of the first frame varies (burned-in text makes it vary)."""
    import io

    import av

    with av.open(io.BytesIO(mp4)) as c:
        img = next(c.decode(video=0)).to_ndarray(format="gray")
    return float(img[:14, :200].std())
