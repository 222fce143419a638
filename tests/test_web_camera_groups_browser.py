"""In real Chromium: an admin ticks a camera group for an operator on the Users page; it waits for a
second admin, who approves it there; only then does the operator see the group's camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oversight.config.schema import CameraGroup
from oversight.web.auth import create_user
from oversight.web.server import BackgroundServer
from web_support import PASSWORD, add_users, client, login, make_ctx

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def site(db: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    ctx = make_ctx(db, tmp_path, runtime=False)
    groups = [
        CameraGroup(id="north", name="North", cameras=["cam0"]),
        CameraGroup(id="south", cameras=["cam1"]),
    ]
    ctx.cfg = ctx.cfg.model_copy(update={"camera_groups": groups})
    add_users(db, ("admin",))
    with db.session() as s:
        create_user(s, "admin2", PASSWORD, "admin")
        create_user(s, "olga", PASSWORD, "operator").camera_groups = ["north"]
    with BackgroundServer(ctx) as url:
        yield ctx, url


def _login(page: Any, url: str, user: str) -> None:
    page.goto(url + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#top:not([hidden])")


def test_granting_a_group_from_the_users_page(site: Any) -> None:
    from playwright.sync_api import sync_playwright

    ctx, url = site
    olga = client(ctx)
    login(olga, "olga")
    assert [c["id"] for c in olga.get("/api/cameras").json()] == ["cam0"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            first, second = browser.new_context().new_page(), browser.new_context().new_page()
            _login(first, url, "admin")
            first.goto(url + "/#/users")
            first.check("input[aria-label='south for olga']")
            first.wait_for_selector("tr:has-text('footage of camera group south')")
            assert [c["id"] for c in olga.get("/api/cameras").json()] == ["cam0"]  # waits
            _login(second, url, "admin2")
            second.goto(url + "/#/users")
            row = second.wait_for_selector("tr:has-text('footage of camera group south')")
            row.query_selector("button.primary").click()
            second.wait_for_selector("tr:has-text('approved by admin2')")
        finally:
            browser.close()
    assert [c["id"] for c in olga.get("/api/cameras").json()] == ["cam0", "cam1"]
