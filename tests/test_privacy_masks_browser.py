"""In real Chromium under the site's CSP: an admin draws a privacy mask on the Configure page (it
lands in the camera's configuration, normalised), and the privacy officer records a subject access
request on the Access requests page and sees it listed with its deadline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

from oversight.store.db import Database  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402
from web_support import PASSWORD, add_users, make_ctx  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.fixture
def served(db: Database, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    ctx = make_ctx(db, tmp_path)
    add_users(db, ("admin", "auditor"))
    try:
        with BackgroundServer(ctx) as url:
            yield url, ctx
    finally:
        ctx.runtime.stop()


def _login(page: Any, url: str, user: str) -> None:
    page.goto(url + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#top:not([hidden])")


def test_draw_a_mask_and_record_a_request(served: tuple[str, Any]) -> None:
    import json

    from playwright.sync_api import expect, sync_playwright

    url, ctx = served
    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        errors: list[str] = []
        page: Any = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        native: list[str] = []
        page.on("dialog", lambda d: (native.append(d.message), d.dismiss()))
        _login(page, url, "admin")
        page.goto(url + "/#/configure/cam0")
        page.click("button[data-tool=permanent]")
        canvas = page.locator("canvas")
        box = canvas.bounding_box()
        for fx, fy in ((0.1, 0.1), (0.4, 0.1), (0.4, 0.5)):
            canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        canvas.dblclick(position={"x": box["width"] * 0.1, "y": box["height"] * 0.5})
        page.fill("dialog input[name=id]", "house-12")
        page.click("dialog button[type=submit]")
        expect(page.locator(".item", has_text="permanent privacy mask")).to_be_visible()
        config = page.locator("pre[aria-label^='Camera configuration']")
        cam = json.loads(config.text_content() or "")
        (mask,) = cam["masks"]
        assert mask["id"] == "house-12" and mask["kind"] == "permanent"
        assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in mask["polygon"]) and len(mask["polygon"]) >= 3
        # a mask's vertex drags like a zone's, and stays normalised
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.1)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.2, steps=5)
        page.mouse.up()
        moved = json.loads(config.text_content() or "")["masks"][0]["polygon"]
        assert abs(moved[1][0] - 0.6) < 0.02 and abs(moved[1][1] - 0.2) < 0.02, moved
        assert not native, native

        page.goto(url + "/#/login")
        page.context.clear_cookies()
        _login(page, url, "auditor")
        page.click("text=Access requests")
        page.fill("input[aria-label=Contact]", "requester@example.org")
        page.select_option("select[aria-label=Cameras]", "cam0")
        page.fill("input[aria-label=From]", "2026-03-01T10:00")
        page.fill("input[aria-label=To]", "2026-03-01T11:00")
        page.select_option("select[aria-label=Jurisdiction]", "ar")
        page.fill("input[aria-label='Identity check']", "national ID shown at the desk")
        page.click("button:has-text('Record request')")
        expect(page.locator("tbody tr").first).to_contain_text("Argentina")
        expect(page.locator("tbody tr").first).to_contain_text("open")
        browser.close()
    assert not errors, errors
