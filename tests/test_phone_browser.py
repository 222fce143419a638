"""Every page on a phone (390×844) and a tablet (820×1180) in real Chromium: the navigation opens
from the menu button, log-out is reachable, and the page body never scrolls sideways (wide tables
scroll inside their own box). Screenshots in Spanish and English go to test-artifacts/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from oversight.web.auth import create_user
from oversight.web.context import AppContext
from oversight.web.server import BackgroundServer
from web_support import PASSWORD, plaza_site

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
# user -> (role, pages it visits): together every page of pages/index.js a role may open
PAGES: dict[str, tuple[str, list[str]]] = {
    "sup": (
        "supervisor",
        ["wall", "views", "review", "bookmarks", "alerts", "events", "incidents", "call", "units"]
        + ["response-times", "camera/cam0", "map", "reveals", "sars", "exports", "health"],
    ),
    "adm": ("admin", ["configure", "users"]),
    "aud": ("auditor", ["audit"]),
}
OVERFLOW = """() => {
  const wide = [];
  for (const el of document.querySelectorAll("main *, header *")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > screen.width + 1 && !el.closest("table, nav#nav")) {
      const c = typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "";
      wide.push(el.tagName.toLowerCase() + c + " " + Math.round(r.right));
    }
  }
  return { scroll: document.documentElement.scrollWidth, inner: innerWidth, wide: wide.slice(0, 8) };
}"""

# wall captions crowded on a phone: a name cut short while the status takes the rest of its line,
# or a caption past its tile (each "camera: why")
CROWDED = """() => [...document.querySelectorAll(".wall .tile")].flatMap(tile => {
  const box = tile.getBoundingClientRect(), id = tile.dataset.camera;
  const name = tile.querySelector(".cap .name"), st = tile.querySelector(".cap .st").getBoundingClientRect();
  const out = [];
  const right = Math.max(name.getBoundingClientRect().right, st.right);
  if (right > box.right + 1) out.push(id + ": past the tile");
  const cut = name.scrollWidth > name.clientWidth && name.clientWidth < box.width * 0.6;
  if (cut) out.push(id + ": name cut short");
  return out;
})"""


def _site(tmp: Path) -> AppContext:
    return plaza_site(
        tmp, ["Belgrano", "Italia", "Independencia", "San Martín"], "traffic safety on the square"
    )


@pytest.fixture
def site_url(db: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    ctx = _site(tmp_path)
    ctx.db = db
    with db.session() as s:
        for name, (role, _) in PAGES.items():
            create_user(s, name, PASSWORD, role)
        create_user(s, "op", PASSWORD, "operator")
    try:
        with BackgroundServer(ctx) as url:
            yield url
    finally:
        ctx.runtime.stop()  # type: ignore[union-attr]


def _login(page: Any, url: str, user: str) -> None:
    page.goto(url + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#top:not([hidden])")


def _nav_and_logout_reachable(page: Any, path: str) -> None:
    """The menu button opens the navigation with this page's link inside the screen; the user menu
    opens with log-out inside the screen."""
    page.click("#nav-toggle")
    link = page.locator(f"nav#nav a[href='#/{path.split('/')[0]}']")
    if link.count():
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, path
    page.click("#nav-toggle")
    page.click("#user-name")
    box = page.locator("#logout").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, path
    assert box["y"] + box["height"] <= page.viewport_size["height"], path
    page.click("#user-name")


def _walk(browser: Any, url: str, viewport: dict[str, int], locale: str, tag: str) -> dict[str, Any]:
    bad: dict[str, Any] = {}
    for user, (_, paths) in PAGES.items():
        ctx = browser.new_context(locale=locale, viewport=viewport, has_touch=True, is_mobile=True)
        page = ctx.new_page()
        _login(page, url, user)
        for path in paths:
            page.goto(f"{url}/#/{path}")
            page.wait_for_selector(
                f".page[data-page='{path.split('/')[0]}'] h1, .page[data-page='{path.split('/')[0]}'] h2"
            )
            page.wait_for_timeout(700)
            got = page.evaluate(OVERFLOW)
            # a mobile browser widens its layout viewport to fit a page too wide for it, so the page
            # must fit the device's width, not merely the (widened) innerWidth
            if max(got["scroll"], got["inner"]) > viewport["width"]:
                bad[path] = got
            if path == "wall" and page.evaluate(CROWDED):
                bad[f"{path} captions"] = page.evaluate(CROWDED)
            page.screenshot(path=str(ARTIFACTS / f"{tag}-{locale[:2]}-{path.replace('/', '-')}.png"))
            _nav_and_logout_reachable(page, path)
        ctx.close()
    return bad


def test_every_page_fits_a_phone_and_a_tablet(site_url: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            bad = _walk(browser, site_url, PHONE, "es-AR", "phone")
            bad |= {f"en {k}": v for k, v in _walk(browser, site_url, PHONE, "en-US", "phone").items()}
            bad |= {f"tablet {k}": v for k, v in _walk(browser, site_url, TABLET, "es-AR", "tablet").items()}
        finally:
            browser.close()
    assert not bad, f"pages wider than the screen: {bad}"


def _as(url: str, user: str) -> Any:
    """An API client logged in as ``user`` (the operator who asks for a reveal, calls in an incident)."""
    import httpx

    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


def test_a_supervisor_approves_a_reveal_and_follows_an_incident_from_a_phone(site_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from playwright.sync_api import sync_playwright

    op = _as(site_url, "op")
    start = datetime.now(UTC) - timedelta(minutes=10)
    reveal = op.post(
        "/api/reveals",
        json={
            "camera_ids": ["cam0"],
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=2)).isoformat(),
            "reason": "a fight reported on the square",
            "reference": "case 7",
        },
    ).json()
    incident = op.post("/api/incidents", json={"type": "assault", "lat": -24.18, "lon": -65.3}).json()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(
                locale="es-AR", viewport=PHONE, has_touch=True, is_mobile=True
            ).new_page()
            _login(page, site_url, "sup")
            page.click("#nav-toggle")
            page.click("nav#nav a[href='#/reveals']")
            card = page.locator("#reveal-requests tbody tr", has_text="case 7")
            card.locator("button.primary").click()
            page.fill("dialog textarea", "justified: the fight is on camera 0")
            page.locator("dialog button[type=submit]").click()
            page.wait_for_function("() => !document.querySelector('dialog[open]')")
            got = page.evaluate(OVERFLOW)
            assert max(got["scroll"], got["inner"]) <= PHONE["width"], got
            page.screenshot(path=str(ARTIFACTS / "phone-es-reveal-approved.png"), full_page=True)
            deadline = time.monotonic() + 10
            while op.get("/api/reveals").json()[0]["status"] != "approved":
                assert time.monotonic() < deadline, "the reveal was not approved from the phone"
                page.wait_for_timeout(200)
            assert op.get("/api/reveals").json()[0]["id"] == reveal["id"]

            page.goto(f"{site_url}/#/incidents/{incident['id']}")
            page.wait_for_selector(".inc-head h1")
            page.wait_for_timeout(600)
            got = page.evaluate(OVERFLOW)
            assert max(got["scroll"], got["inner"]) <= PHONE["width"], got
            page.screenshot(path=str(ARTIFACTS / "phone-es-incident.png"), full_page=True)

            page.goto(f"{site_url}/public/")
            page.wait_for_selector("h1")
            page.wait_for_timeout(600)
            got = page.evaluate(OVERFLOW)
            page.screenshot(path=str(ARTIFACTS / "phone-es-public.png"), full_page=True)
            assert max(got["scroll"], got["inner"]) <= PHONE["width"], got
        finally:
            browser.close()
