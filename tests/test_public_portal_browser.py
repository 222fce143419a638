"""In real Chromium, with no account: /public shows the camera list (and draws the camera map with
no script error under the site's CSP), the use policy and the latest signed audit digest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

from oversight.config.loader import load_config  # noqa: E402
from oversight.events.bus import EventBus  # noqa: E402
from oversight.privacy.audit_trail import latest_digest, sealer_for  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402
from test_public_portal import _site  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.browser


@pytest.fixture
def served(db: Database, db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    path = _site(tmp_path, db_url)
    cfg = load_config(path)
    sealer_for(db, cfg).seal("start")
    with db.session() as s:
        latest = latest_digest(s, cfg.site.data_dir)
    assert latest is not None
    with BackgroundServer(AppContext(cfg=cfg, db=db, bus=EventBus(), config_path=path)) as url:
        yield url, str(latest["digest"])


def test_public_portal_anonymous(served: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, digest = served
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=15_000)  # two shared cores: be patient
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page: Any = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/public")
        expect(page.locator("h1")).to_contain_text("How Test site uses public-space cameras")
        expect(page.locator("main")).to_contain_text(digest)

        page.click("nav >> text=Cameras")
        table = page.locator("main table").first
        expect(table).to_contain_text("cam0")
        expect(table).to_contain_text("Traffic bylaw 12, art. 4")
        expect(table).to_contain_text("facing 90°, 70° wide")
        expect(page.locator(".camera-map svg circle")).to_have_count(2)  # portal.js ran under the CSP
        expect(page.locator("svg.mask-schematic polygon")).to_have_count(3)  # cam1's masks, drawn blank
        page.screenshot(path=str(ARTIFACTS / "portal-1-cameras.png"), full_page=True)

        page.click("nav >> text=Use policy")
        expect(page.locator("#policy\\.reveal")).to_be_visible()
        expect(page.locator("main")).to_contain_text(
            "approved by a different person with the role supervisor"
        )
        expect(page.locator("main")).to_contain_text("Police, only under a court order")

        page.click("nav >> text=Audit digest")
        expect(page.locator("main table").first).to_contain_text(digest)
        page.screenshot(path=str(ARTIFACTS / "portal-2-audit.png"), full_page=True)
        browser.close()
    assert not errors, errors
