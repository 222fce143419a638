"""In real Chromium: an operator requests a reveal on the Reveals page, a second person (supervisor)
approves it there, and an auditor sees the steps on the Audit page and verifies the chain.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

from oversight.events.bus import EventBus  # noqa: E402
from oversight.privacy import audit  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402
from privacy_helpers import PASSWORD, make_users, site  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.browser


@pytest.fixture
def base(db: Database, tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    make_users(db, olga="operator", sue="supervisor", alice="auditor")
    cfg = site(tmp_path)
    from oversight.privacy.audit_trail import Sealer
    from oversight.privacy.keys import load_or_create_signing_key

    data = cfg.site.data_dir  # as `serve` does: a genesis record and a first signed digest
    Sealer(db, load_or_create_signing_key(data), data).seal("start")
    with BackgroundServer(AppContext(cfg=cfg, db=db, bus=EventBus())) as url:
        yield url


def _login(browser: Any, base: str, user: str) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(base + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.locator("#user-name").filter(has_text=user).wait_for()
    return page


def test_reveal_four_eyes_and_audit_pages(base: str, db: Database) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=15_000)  # two shared cores: be patient, never flaky
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        errors: list[str] = []
        olga = _login(browser, base, "olga")
        olga.on("pageerror", lambda e: errors.append(str(e)))
        olga.goto(base + "/#/reveals")
        olga.select_option("select[aria-label=Cameras]", ["cam1"])
        olga.fill("input[aria-label=From]", "2026-03-01T12:00")
        olga.fill("input[aria-label=To]", "2026-03-01T12:10")
        olga.fill("textarea[aria-label=Reason]", "robbery at the kiosk, identify the suspect")
        olga.fill("input[aria-label=Reference]", "INC-77")
        olga.click("text=Request reveal")
        expect(olga.locator("tbody tr").first).to_contain_text("pending")
        expect(olga.locator("tbody tr").first.locator("text=Approve")).to_have_count(0)  # not her own
        olga.screenshot(path=str(ARTIFACTS / "privacy-1-reveal-requested.png"))

        sue = _login(browser, base, "sue")
        sue.on("pageerror", lambda e: errors.append(str(e)))
        sue.on("dialog", lambda d: (errors.append("native dialog: " + d.message), d.dismiss()))
        sue.goto(base + "/#/reveals")
        row = sue.locator("tbody tr", has_text="INC-77")
        row.locator("text=Approve").click()
        sue.fill("dialog textarea[name=note]", "justified by the incident")  # the page's own dialog
        sue.fill("dialog input[name=hours]", "2")
        sue.click("dialog button[type=submit]")
        expect(row).to_contain_text("approved")
        sue.screenshot(path=str(ARTIFACTS / "privacy-2-reveal-approved.png"))

        alice = _login(browser, base, "alice")
        alice.on("pageerror", lambda e: errors.append(str(e)))
        alice.goto(base + "/#/audit")
        expect(alice.locator("table").first).to_contain_text("reveal.approve")
        alice.click("text=Verify integrity")
        expect(alice.locator("p.ok")).to_contain_text("audit log OK")
        alice.screenshot(path=str(ARTIFACTS / "privacy-3-audit.png"), full_page=True)
        browser.close()
    assert not errors, errors
    with db.session() as s:
        acts = [(e.actor, e.action) for e in audit.query(s) if e.action.startswith("reveal")]
    assert acts == [("olga", "reveal.request"), ("sue", "reveal.approve")]
