"""The live wall in real Chromium: tiles play H.264 (fragmented MP4 through MSE) over one socket,
a fullscreen tile switches to the main stream, the wheel zooms and dragging pans, and a camera
without a picture shows "offline" over its tile instead of a frame.

Synthetic cameras (moving test pictures, 320x180; their main stream is 640x360) behind the real
web server and egress gate, so only the video path is exercised.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oversight.web.server import BackgroundServer
from web_support import PASSWORD, add_users, make_ctx

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
FRAMES = (
    "(id) => document.querySelector(`.tile[data-camera='${id}'] video`)"
    ".getVideoPlaybackQuality().totalVideoFrames"
)
SIZE = "(id) => document.querySelector(`.tile[data-camera='${id}'] video`).videoWidth"


def _wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _differs(a: bytes, b: bytes) -> bool:
    import cv2
    import numpy as np

    ia = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)
    ib = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int)
    return ia.shape == ib.shape and float(np.abs(ia - ib).mean()) > 0.5


def test_wall_plays_h264_goes_fullscreen_on_the_main_stream_zooms_and_says_offline(db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import sync_playwright

    ctx = make_ctx(db, tmp_path, cameras=3)
    ctx.runtime.remove_camera("cam2")  # configured but sends nothing: its tile must say offline
    add_users(db, ("operator",))
    errors: list[str] = []
    try:
        with BackgroundServer(ctx) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda e: errors.append(str(e)))
            try:
                _drive(page, url)
            finally:
                browser.close()
    finally:
        ctx.runtime.stop()
    assert not errors, errors


def _drive(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/#/login")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".tile[data-camera='cam0'] video", timeout=20000)
    # two tiles play H.264: decoded frame counts advance and the pictures move
    for cid in ("cam0", "cam1"):
        _wait(lambda cid=cid: page.evaluate(FRAMES, cid) > 0, 30, f"the first frames of {cid}")
    counts = {cid: page.evaluate(FRAMES, cid) for cid in ("cam0", "cam1")}
    video = page.locator(".tile[data-camera='cam1'] video")
    shot = video.screenshot()
    for cid in ("cam0", "cam1"):
        _wait(lambda cid=cid: page.evaluate(FRAMES, cid) >= counts[cid] + 10, 30, f"{cid} to keep playing")
    _wait(lambda: _differs(shot, video.screenshot()), 10, "the picture to move")
    tile0 = page.locator(".tile[data-camera='cam0']")
    _wait(lambda: tile0.get_attribute("data-state") == "live", 10, "the tile to say live")
    assert page.evaluate(SIZE, "cam0") == 320 and tile0.get_attribute("data-stream") == "sub"
    # the camera without a picture says so over its tile, and no video shows there
    off = page.locator(".tile[data-camera='cam2']")
    _wait(lambda: off.get_attribute("data-state") == "offline", 20, "the offline tile")
    assert off.locator(".card").inner_text() == "camera offline" and off.locator(".card").is_visible()
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector(`.tile[data-camera='cam2'] .view`)).visibility"
        )
        == "hidden"
    )
    # double-click: fullscreen, and the large tile switches to the main stream (twice the size)
    tile0.locator(".view").dblclick()
    _wait(lambda: page.evaluate("document.fullscreenElement?.dataset.camera") == "cam0", 10, "fullscreen")
    _wait(lambda: tile0.get_attribute("data-stream") == "main", 10, "the main stream")
    _wait(lambda: page.evaluate(SIZE, "cam0") == 640, 30, "main-stream frames")
    n = page.evaluate(FRAMES, "cam0")
    _wait(lambda: page.evaluate(FRAMES, "cam0") >= n + 10, 30, "the main stream to play")
    # wheel: zoom about the pointer; drag: pan
    box = tile0.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -500)
    _wait(lambda: float(tile0.locator(".view").get_attribute("data-zoom") or 1) > 2, 5, "zoom")
    before = page.evaluate("document.querySelector(`.tile[data-camera='cam0'] video`).style.transform")
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 60, steps=5)
    page.mouse.up()
    after = page.evaluate("document.querySelector(`.tile[data-camera='cam0'] video`).style.transform")
    assert "scale(" in before and after != before, (before, after)
    # leaving fullscreen (Escape in a browser) brings the small tile back to the sub-stream
    page.evaluate("document.exitFullscreen()")
    _wait(lambda: tile0.get_attribute("data-stream") == "sub", 10, "the sub-stream again")
    _wait(lambda: page.evaluate(SIZE, "cam0") == 320, 30, "sub-stream frames again")
