"""In real Chromium: a supervisor starts an evidence export (the form refuses it until a recipient
category is chosen), reloads the page while it runs, sees it
finish on the Exports page and downloads a package that verifies. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

from oversight.events.bus import EventBus  # noqa: E402
from oversight.privacy.export import read_manifest, verify_export  # noqa: E402
from oversight.privacy.keys import load_or_create_signing_key  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.store.models import Segment  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402
from privacy_helpers import PASSWORD, make_users, site, write_mp4  # noqa: E402
from test_export_jobs import Gate, _frames  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.browser


@pytest.fixture
def served(db: Database, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    make_users(db, sue="supervisor")
    cfg = site(tmp_path)
    p = write_mp4(tmp_path / "data" / "recordings" / "cam1" / "seg.mp4", _frames(30, 1))
    with db.session() as s:
        s.add(Segment(camera_id="cam1", start=T0, end=T0 + timedelta(seconds=3), path=str(p), bytes=1))
    ctx = AppContext(cfg=cfg, db=db, bus=EventBus())
    with BackgroundServer(ctx) as url:
        yield url, cfg
    if ctx.exports is not None:
        ctx.exports.stop()


def test_export_survives_a_reload_and_downloads(served, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    base, cfg = served
    gate = Gate(monkeypatch)  # the export waits mid-way until the page has been reloaded
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=30_000)  # two shared cores: be patient, never flaky
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        errors: list[str] = []
        page = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True).new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/#/login")
        page.fill("input[name=username]", "sue")
        page.fill("input[name=password]", PASSWORD)
        page.keyboard.press("Enter")
        page.locator("#user-name").filter(has_text="sue").wait_for()
        page.goto(base + "/#/reveals")
        page.locator("select[aria-label=Cameras]").nth(1).select_option(["cam1"])
        page.fill("input[aria-label='Export from']", "2026-03-01T11:59")
        page.fill("input[aria-label='Export to']", "2026-03-01T12:01")
        page.fill("input[aria-label=Purpose]", "handover to the prosecutor")
        page.fill("input[aria-label='Export reference']", "INC-5")
        page.click("button:has-text('Export')")  # no recipient chosen: the browser refuses the form
        assert page.locator("select[aria-label=Recipient]").evaluate("s => !s.checkValidity()")
        assert page.locator("tr[data-job]").count() == 0 and page.url.endswith("#/reveals")
        page.locator("select[aria-label=Recipient]").select_option("prosecutor")
        page.fill("input[aria-label='Recipient reference']", "Fiscalía 3, causa 12/26")
        page.click("button:has-text('Export')")
        row = page.locator("tr[data-job]").first
        expect(row).to_have_attribute("data-status", "running")
        assert gate.reached.wait(30)
        page.reload()
        expect(row).to_have_attribute("data-status", "running")  # still there after the reload
        assert int(row.locator("progress").get_attribute("value") or 0) > 10
        page.screenshot(path=str(ARTIFACTS / "exports-1-running.png"))
        gate.release.set()
        expect(row).to_have_attribute("data-status", "done")  # the page follows the job by itself
        expect(row.locator("td[data-recipient=prosecutor]")).to_contain_text("Prosecutor")
        with page.expect_download() as dl:
            row.locator("a[data-download]").click()
        zpath = tmp_path / "export.zip"
        dl.value.save_as(zpath)
        page.screenshot(path=str(ARTIFACTS / "exports-2-done.png"))
        browser.close()
    assert verify_export(zpath, load_or_create_signing_key(cfg.site.data_dir).verify_key).ok
    assert read_manifest(zpath)["recipient"] == {
        "category": "prosecutor",
        "reference": "Fiscalía 3, causa 12/26",
    }
    assert errors == []
