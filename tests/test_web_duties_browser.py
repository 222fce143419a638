"""In real Chromium: an admin's request to switch face redaction off shows on the Users page of a
second admin, who approves it there; only then does the camera's setting change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
    add_users(db, ("admin",))
    with db.session() as s:
        create_user(s, "admin2", PASSWORD, "admin")
    with BackgroundServer(ctx) as url:
        yield ctx, url


def test_a_second_admin_approves_from_the_users_page(site: Any) -> None:
    from playwright.sync_api import sync_playwright

    ctx, url = site
    admin = client(ctx)
    h = login(admin, "admin")
    cam = admin.get("/api/config/cameras/cam0", headers=h).json()
    off = {**cam, "redaction": {**cam["redaction"], "faces": False}}
    assert admin.put("/api/config/cameras/cam0", json=off, headers=h).status_code == 202
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(url + "/#/login")
            page.fill("input[name=username]", "admin2")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#top:not([hidden])")
            page.goto(url + "/#/users")
            row = page.wait_for_selector("tr:has-text('redaction.faces turned off')")
            assert ctx.cfg.camera("cam0").redaction.faces is True
            row.query_selector("button.primary").click()
            page.wait_for_selector("tr:has-text('approved by admin2')")
        finally:
            browser.close()
    assert ctx.cfg.camera("cam0").redaction.faces is False
