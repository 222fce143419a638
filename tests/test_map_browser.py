"""In real Chromium: the map page draws streets from a tile set generated offline (MapLibre's own
rendered-feature query finds the street layer), camera markers and field-of-view cones, incidents
and units; a unit moves on the open page after an AVL position arrives through the API.
Screenshots go to test-artifacts/. Skips without Chromium or without node_modules (npm ci)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("playwright.sync_api")

from oversight.config.schema import SiteConfig  # noqa: E402
from oversight.events.bus import EventBus  # noqa: E402
from oversight.events.models import Alert  # noqa: E402
from oversight.maps.tiles import street_grid, write_pmtiles  # noqa: E402
from oversight.store.base import utcnow  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.web.app import MAPLIBRE_DIST  # noqa: E402
from oversight.web.auth import create_api_token, create_user  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402
from oversight.web.synthetic import SyntheticRuntime  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PW = "correct horse battery"
CENTER = (-24.1858, -65.2995)
BLOCK = 110.0 / 111_320.0

pytestmark = pytest.mark.browser


def cfg(tiles: Path) -> SiteConfig:
    cam: dict[str, Any] = {
        "purpose": "square safety",
        "streams": {"record": "/dev/null"},
        "detect": {"width": 320, "height": 180, "detector": "none"},
    }
    unit = {"id": "P-1", "type": "police", "lat": CENTER[0] - BLOCK, "lon": CENTER[1]}
    fov = {"direction_deg": 45, "angle_deg": 70, "range_m": 80}
    return SiteConfig.model_validate(
        {
            "site": {"name": "Map test site", "map_tiles": str(tiles)},
            "cameras": [
                {**cam, "id": "plaza", "name": "Plaza", "field_of_view": fov,
                 "location": {"lat": CENTER[0], "lon": CENTER[1]}},
                {**cam, "id": "north", "name": "North corner",
                 "location": {"lat": CENTER[0] + 2 * BLOCK, "lon": CENTER[1] + 2 * BLOCK}},
            ],
            "incidents": {"units": [unit]},
        }
    )  # fmt: skip


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[str, AppContext]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    if not (MAPLIBRE_DIST / "maplibre-gl-csp.js").is_file():
        pytest.skip("maplibre-gl not installed (run npm ci at the repository root)")
    tiles = tmp_path / "streets.pmtiles"
    write_pmtiles(street_grid(*CENTER), tiles)
    c = cfg(tiles)
    rt = SyntheticRuntime(c)
    rt.start()
    ctx = AppContext(cfg=c, db=db, bus=EventBus(), runtime=rt)
    with db.session() as s:
        create_user(s, "olga", PW, "operator")
        now = utcnow()
        s.add(
            Alert(kind="rule", camera_id="north", rule_id="fence", priority="P2", sound="alarm",
                  title="person in zone", occurrences=1, opened_at=now, updated_at=now, data={})
        )  # fmt: skip
    with BackgroundServer(ctx) as url:
        yield url, ctx
    rt.stop()


def api_token(ctx: AppContext) -> dict[str, str]:
    with ctx.db.session() as s:
        _, token = create_api_token(s, "gateway", "operator", "test")
    return {"Authorization": f"Bearer {token}"}


def rendered(page: Any, layer: str) -> list[dict[str, Any]]:
    """MapLibre's own answer to what it drew: the features of a layer on screen."""
    return page.evaluate(
        """(layer) => window.__oversightMap.queryRenderedFeatures({ layers: [layer] })
             .map(f => ({ props: f.properties, geom: f.geometry }))""",
        layer,
    )


def unit_pixel(page: Any) -> list[float]:
    return page.evaluate(
        """() => { const f = window.__oversightMap.queryRenderedFeatures({ layers: ['units'] })[0];
                   const p = window.__oversightMap.project(f.geometry.coordinates); return [p.x, p.y]; }"""
    )


def page_point(page: Any, layer: str, fid: str) -> list[float]:
    """Where on the page a feature of a layer is drawn, for the mouse."""
    return page.evaluate(
        """([layer, id]) => { const m = window.__oversightMap, r = m.getCanvas().getBoundingClientRect();
             const f = m.queryRenderedFeatures({ layers: [layer] }).find(f => f.properties.id === id);
             const p = m.project(f.geometry.coordinates); return [r.left + p.x, r.top + p.y]; }""",
        [layer, fid],
    )


def test_map_draws_streets_cameras_and_a_moving_unit(site: tuple[str, AppContext]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, ctx = site
    ARTIFACTS.mkdir(exist_ok=True)
    auth = api_token(ctx)
    body = {"type": "assault", "lat": CENTER[0] - BLOCK, "lon": CENTER[1] + BLOCK, "source": "api"}
    inc = httpx.post(f"{base}/api/incidents", json=body, headers=auth)
    assert inc.status_code == 201, inc.text
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/#/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PW)
        page.click("button[type=submit]")
        expect(page.locator("#user-name")).to_contain_text("olga")
        # the operator lands on the wall first; going to the map before that route has run races it
        expect(page.get_by_role("heading", name="Live wall")).to_be_visible()
        page.goto(base + "/#/map")
        expect(page.locator("#streetmap canvas.maplibregl-canvas")).to_be_visible()
        page.wait_for_function(
            "() => window.__oversightMap && window.__oversightMap.loaded()"
            " && window.__oversightMap.queryRenderedFeatures({ layers: ['units'] }).length > 0",
            timeout=30_000,
        )
        streets = {f["props"]["name"] for f in rendered(page, "streets")}
        assert {"Calle 4", "Avenida 4"} <= streets, streets  # the primary streets through the centre
        cams = {f["props"]["id"]: f["props"] for f in rendered(page, "cameras")}
        assert set(cams) == {"plaza", "north"} and cams["plaza"]["color"] == "#5fb36b"  # online
        assert [f["props"]["id"] for f in rendered(page, "alerts")] == ["north"]  # its open alert's ring
        assert len(rendered(page, "fov")) == 1  # only the plaza camera states its field of view
        incs = rendered(page, "incidents")
        assert [(i["props"]["id"], i["props"]["priority"]) for i in incs] == [(inc.json()["id"], "P1")]
        assert page.locator("#map-note").count() == 0  # the street map, not the fallback canvas
        page.screenshot(path=str(ARTIFACTS / "map-1-streets.png"))

        # AVL: the unit's GPS position arrives through the API; the open map moves it, no reload
        before = unit_pixel(page)
        r = httpx.post(
            f"{base}/api/units/P-1/location",
            json={"lat": CENTER[0] + BLOCK, "lon": CENTER[1] + BLOCK},
            headers=auth,
        )
        assert r.status_code == 200, r.text
        page.wait_for_function(
            """([x, y]) => { const f = window.__oversightMap.queryRenderedFeatures({ layers: ['units'] })[0];
                 if (!f) return false; const p = window.__oversightMap.project(f.geometry.coordinates);
                 return Math.hypot(p.x - x, p.y - y) > 20; }""",
            arg=before,
            timeout=15_000,
        )
        after = unit_pixel(page)
        assert after[0] > before[0] and after[1] < before[1]  # moved north-east on screen
        page.mouse.move(*page_point(page, "units", "P-1"))
        expect(page.locator(".maplibregl-popup")).to_contain_text("P-1: available, position")
        expect(page.locator(".maplibregl-popup")).to_contain_text("s old")
        page.screenshot(path=str(ARTIFACTS / "map-2-unit-moved.png"))

        # a camera marker opens its live view
        page.mouse.click(*page_point(page, "cameras", "north"))
        page.wait_for_url("**/#/camera/north")
        page.goto(base + "/#/map")  # and an incident opens its page
        page.wait_for_function(
            "() => window.__oversightMap && window.__oversightMap.loaded()"
            " && window.__oversightMap.queryRenderedFeatures({ layers: ['incidents'] }).length"
        )
        page.set_viewport_size({"width": 390, "height": 844})  # a supervisor's phone
        page.wait_for_function("() => window.__oversightMap.loaded()")
        page.screenshot(path=str(ARTIFACTS / "map-3-phone.png"))
        page.mouse.click(*page_point(page, "incidents", inc.json()["id"]))
        page.wait_for_url(f"**/#/incidents/{inc.json()['id']}")
        browser.close()
    assert not errors, errors


def test_without_maplibre_the_page_says_so_and_draws_its_canvas(
    site: tuple[str, AppContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No node_modules on the server (npm absent): the plain canvas map, with a note saying why."""
    from playwright.sync_api import expect, sync_playwright

    import oversight.web.app as web_app

    monkeypatch.setattr(web_app, "MAPLIBRE_DIST", Path("/nonexistent"))
    _, ctx = site
    with BackgroundServer(ctx) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1000, "height": 700}).new_page()
        page.goto(base + "/#/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PW)
        page.click("button[type=submit]")
        expect(page.locator("#user-name")).to_contain_text("olga")
        page.goto(base + "/#/map")
        expect(page.locator("#map-note")).to_contain_text("MapLibre package is not installed")
        expect(page.locator("canvas.map")).to_be_visible()
        assert page.evaluate("() => window.__oversightMap === undefined")
        browser.close()
