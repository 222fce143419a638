"""In real Chromium: call intake finds a typed address in the city's gazetteer, shows the match on the
street map, the dispatcher confirms it, and the incident recommends the nearest unit BY ROAD, which is
not the nearest as the crow flies. Uses the demo's own map files (Jujuy street names on its grid)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("oversight.web.app")
pytest.importorskip("playwright.sync_api")

from oversight.config.schema import SiteConfig  # noqa: E402
from oversight.demo.site import BLOCK_DEG, DEMO_CENTER, demo_map  # noqa: E402
from oversight.events.bus import EventBus  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.web.auth import create_user  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
MAPLIBRE_DIST = Path(__file__).resolve().parents[1] / "node_modules" / "maplibre-gl" / "dist"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PW = "correct horse battery"
pytestmark = pytest.mark.browser


def corner(ew: float, ns: float) -> tuple[float, float]:
    """Crossing of the demo grid's east-west street ``ew`` and north-south street ``ns`` (0..6)."""
    k = math.cos(math.radians(DEMO_CENTER[0]))
    return DEMO_CENTER[0] + (ew - 3) * BLOCK_DEG, DEMO_CENTER[1] + (ns - 3) * BLOCK_DEG / k


# "Belgrano 420" lies on Belgrano (street 3, a 60 km/h primary) 3.2 blocks from its west end.
# DIAGONAL is nearer as the crow flies (2 blocks north, 1.8 east) but must drive 4 blocks, two of them
# on 40 km/h streets; ALONG is 3.2 blocks away on Belgrano itself.
UNITS = {"DIAGONAL": corner(5, 5), "ALONG": corner(3, 0)}


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    if not (MAPLIBRE_DIST / "maplibre-gl-csp.js").is_file():
        pytest.skip("maplibre-gl not installed (run npm ci at the repository root)")
    units = [{"id": k, "type": "police", "lat": la, "lon": lo} for k, (la, lo) in UNITS.items()]
    cfg = SiteConfig.model_validate(
        {
            "site": {"name": "Dispatch test", "data_dir": str(tmp_path), **demo_map(tmp_path)},
            "incidents": {"units": units},
        }
    )
    ctx = AppContext(cfg=cfg, db=db, bus=EventBus())
    with db.session() as s:
        create_user(s, "olga", PW, "operator")
        create_user(s, "sam", PW, "supervisor")
    with BackgroundServer(ctx) as url:
        yield url


def login(page: Any, base: str, user: str) -> None:
    from playwright.sync_api import expect

    page.goto(base + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PW)
    page.click("button[type=submit]")
    expect(page.locator("#user-name")).to_contain_text(user)


def test_typed_address_confirmed_on_the_map_recommends_the_nearest_unit_by_road(site: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    incident = corner(3, 3.2)
    crow = {k: haversine(incident, p) for k, p in UNITS.items()}
    assert crow["DIAGONAL"] < crow["ALONG"]  # straight-line would send DIAGONAL
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, site, "olga")

        page.goto(site + "/#/call")
        page.select_option("#call-type", "intrusion")
        page.fill("#call-address", "belgrano 420")
        page.press("#call-address", "Enter")  # looks the address up; does not submit the call
        match = page.locator("#call-matches button.match")
        expect(match).to_have_count(1)
        expect(match).to_contain_text("Belgrano 420")
        page.wait_for_function(
            "() => window.__oversightIntakeMap && window.__oversightIntakeMap.loaded()"
            " && window.__oversightIntakeMap.queryRenderedFeatures({ layers: ['matches'] }).length === 1",
            timeout=30_000,
        )
        page.screenshot(path=str(ARTIFACTS / "dispatch-1-address-match.png"))
        page.click("#call-confirm")
        expect(page.locator("#call-place")).to_contain_text("Belgrano 420")
        assert abs(float(page.input_value("#call-lat")) - incident[0]) * 111_320 < 12
        page.click("#call-submit")

        rec = page.locator("#recommended")
        expect(rec).to_have_attribute("data-unit", "ALONG")
        expect(page.locator("#routing")).to_have_attribute("data-routing", "road")
        page.screenshot(path=str(ARTIFACTS / "dispatch-2-recommended-by-road.png"))
        browser.close()
    assert errors == [], errors


def test_roster_in_the_browser(site: str) -> None:
    """A supervisor adds a station and a unit based there, ends its shift and retires it, all through
    the page's own dialogs; the API then says what the page showed."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, site, "sam")
        page.goto(site + "/#/units")
        page.click("#station-add")
        page.fill("#dlg-id", "com1")
        page.fill("#dlg-name", "Comisaría 1")
        page.fill("#dlg-lat", str(UNITS["ALONG"][0]))
        page.fill("#dlg-lon", str(UNITS["ALONG"][1]))
        page.click("dialog button[type=submit]")
        expect(page.locator("tr[data-station='com1']")).to_contain_text("Comisaría 1")
        page.click("#unit-add")
        page.fill("#dlg-id", "MOV-9")
        page.fill("#dlg-name", "Móvil 9")
        page.select_option("#dlg-station", "com1")
        page.click("dialog button[type=submit]")
        row = page.locator("tr[data-unit='MOV-9']")
        expect(row).to_contain_text("Comisaría 1")
        row.locator("button[data-shift='end']").click()
        expect(row).to_have_attribute("data-duty", "off")
        page.screenshot(path=str(ARTIFACTS / "dispatch-3-roster.png"))
        row.locator("button[data-retire]").click()
        page.fill("#dlg-reason", "vehicle written off")
        page.click("dialog button[type=submit]")
        expect(row).to_have_count(0)
        units = page.evaluate("() => fetch('/api/units?retired=true').then(r => r.json())")
        browser.close()
    mov9 = next(u for u in units if u["id"] == "MOV-9")
    assert mov9["retired"] and not mov9["on_duty"] and mov9["name"] == "Móvil 9"
    assert mov9["location"]["lat"] == pytest.approx(UNITS["ALONG"][0])  # placed at its station
    assert errors == [], errors
