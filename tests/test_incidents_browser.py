"""In real Chromium against the real web app: an intrusion alert becomes an incident in one click, the
recommended unit is the nearest available one of a suitable type, dispatch, statuses advance, the
timers and the overdue highlight show, and the incident's report line has the right durations.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("oversight.web.app")
pytest.importorskip("playwright.sync_api")

from sqlalchemy import select  # noqa: E402

from oversight.config.schema import SiteConfig  # noqa: E402
from oversight.events.bus import EventBus  # noqa: E402
from oversight.events.models import Alert  # noqa: E402
from oversight.incidents.models import Incident  # noqa: E402
from oversight.store.base import utcnow  # noqa: E402
from oversight.store.db import Database  # noqa: E402
from oversight.store.models import Event  # noqa: E402
from oversight.web.auth import create_user  # noqa: E402
from oversight.web.context import AppContext  # noqa: E402
from oversight.web.server import BackgroundServer  # noqa: E402
from oversight.web.synthetic import SyntheticRuntime  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PW = "correct horse battery"
UNITS = [
    {"id": "M-7", "type": "medical", "lat": 52.0004, "lon": 5.0},  # nearest of all, wrong type for intrusion
    {"id": "P-3", "type": "police", "lat": 52.0003, "lon": 5.0001},  # nearest police, but out of service
    {"id": "P-1", "type": "police", "lat": 52.0030, "lon": 5.0010},
    {"id": "P-2", "type": "police", "lat": 52.0015, "lon": 4.9995},
    {"id": "P-9", "type": "police", "lat": 52.0200, "lon": 5.0100},
]
CAMERA = (52.0005, 5.0)

pytestmark = pytest.mark.browser


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def fmt_dur(sec: float) -> str:
    s = round(sec)
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def cfg() -> SiteConfig:
    cam: dict[str, Any] = {
        "purpose": "square safety",
        "streams": {"record": "/dev/null"},
        "detect": {"width": 320, "height": 180, "detector": "none"},
    }
    return SiteConfig.model_validate(
        {
            "site": {"name": "Browser test site"},
            "cameras": [
                {
                    **cam,
                    "id": "gate",
                    "name": "Main gate",
                    "location": {"lat": CAMERA[0], "lon": CAMERA[1], "address": "Main gate, town square"},
                    "rules": [
                        {
                            "id": "fence",
                            "type": "zone",
                            "purpose": "closed area at night",
                            "polygon": [[0, 0], [100, 0], [100, 100]],
                        }
                    ],
                },
                {**cam, "id": "kiosk", "name": "Kiosk", "location": {"lat": 52.0012, "lon": 5.0006}},
                {**cam, "id": "bridge", "name": "Bridge", "location": {"lat": 52.006, "lon": 5.004}},
            ],
            "incidents": {"units": UNITS},
        }
    )


@pytest.fixture
def site(db: Database) -> Iterator[tuple[str, AppContext, int]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    c = cfg()
    rt = SyntheticRuntime(c)
    rt.start()
    ctx = AppContext(cfg=c, db=db, bus=EventBus(), runtime=rt)
    with db.session() as s:
        create_user(s, "olga", PW, "operator")
        ev = Event(
            camera_id="gate",
            label="person",
            rule_id="fence",
            rule_type="zone",
            track_id=4,
            start=utcnow() - timedelta(seconds=200),
            end=utcnow() - timedelta(seconds=190),
            confidence=0.91,
            data={},
        )
        s.add(ev)
        s.flush()
        eid = ev.id
        # the fence rule's alert in the operator's queue (events alone are not alerts)
        s.add(
            Alert(kind="rule", camera_id="gate", rule_id="fence", priority="P2", sound="alarm",
                  title="person · zone 'fence' on Main gate", event_id=eid, last_event_id=eid, occurrences=1,
                  opened_at=ev.start, updated_at=ev.start, data={})
        )  # fmt: skip
    # P-3 is the nearest police unit but out of service (through the API service, as a console would)
    from oversight.web.routes.incidents import service_for

    with BackgroundServer(ctx) as url:
        with db.session() as s:
            service_for(ctx).set_unit_status(s, "P-3", "out_of_service", "sam")
        yield url, ctx, eid
    rt.stop()


def test_alert_to_incident_to_report_in_chromium(site: tuple[str, AppContext, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, ctx, eid = site
    ARTIFACTS.mkdir(exist_ok=True)
    expected = min(
        (u for u in UNITS if u["type"] == "police" and u["id"] != "P-3"),
        key=lambda u: haversine(CAMERA, (u["lat"], u["lon"])),
    )["id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/#/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PW)
        page.click("button[type=submit]")
        expect(page.locator("#user-name")).to_contain_text("olga")

        # 1. the alert, one click
        page.goto(base + "/#/alerts")
        card = page.locator(f"article.alert-card[data-event='{eid}']")
        expect(card).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "incidents-1-alert.png"))
        card.get_by_role("button", name="Escalate to incident").click()
        expect(page.locator(".toast", has_text="Incident")).to_be_visible()
        with ctx.db.session() as s:
            inc = s.scalar(select(Incident).where(Incident.event_id == eid))
            assert inc is not None and inc.type == "intrusion" and inc.camera_id == "gate"
            iid = inc.id
        page.locator(".toast", has_text="Incident").click()
        expect(page).to_have_url(f"{base}/#/incidents/{iid}")

        # 2. incident view: recommendation, overdue call->dispatch, cameras live
        rec = page.locator("#recommended")
        expect(rec).to_have_attribute("data-unit", expected)
        assert expected == "P-2"
        expect(page.locator("#timers tr[data-step=dispatch]")).to_have_class("overdue running")
        expect(page.locator("#cams figure")).to_have_count(3)
        page.wait_for_function(
            "() => { const i = document.querySelector('#cams img'); return i && i.naturalWidth > 0; }"
        )
        page.screenshot(path=str(ARTIFACTS / "incidents-2-view-overdue.png"))

        # a second console on the units board follows over the WebSocket, without reloading
        board = page.context.new_page()
        board.goto(base + "/#/units")
        expect(board.locator(f"tr[data-unit='{expected}']")).to_have_attribute("data-status", "available")

        # 3. dispatch, statuses advance (unit buttons, then the incident's own)
        page.bring_to_front()
        page.keyboard.press("d")
        expect(page.locator(".inc-head .status-pill")).to_have_attribute("data-status", "dispatched")
        expect(page.locator("#timers tr[data-step=dispatch]")).to_have_class("overdue")  # finished, late
        expect(page.locator("#timers tr[data-step=turnout]")).to_have_class("running")
        expect(page.locator(f"#assigned-units tr[data-unit='{expected}']")).to_be_visible()
        expect(board.locator(f"tr[data-unit='{expected}']")).to_have_attribute("data-status", "dispatched")
        page.wait_for_timeout(1200)  # so turnout and travel are not zero
        page.locator("#assigned-units button.unit-next").click()
        expect(page.locator(".inc-head .status-pill")).to_have_attribute("data-status", "en_route")
        expect(board.locator(f"tr[data-unit='{expected}']")).to_have_attribute("data-status", "en_route")
        page.wait_for_timeout(2200)
        page.locator("#assigned-units button.unit-next").click()
        expect(page.locator(".inc-head .status-pill")).to_have_attribute("data-status", "on_scene")
        page.screenshot(path=str(ARTIFACTS / "incidents-3-on-scene.png"))
        expect(board.locator(f"tr[data-unit='{expected}']")).to_have_attribute("data-status", "on_scene")
        board.screenshot(path=str(ARTIFACTS / "incidents-3b-units-board.png"))
        page.click("#next-status")
        expect(page.locator(".inc-head .status-pill")).to_have_attribute("data-status", "cleared")
        page.select_option("#disposition", "resolved")
        page.click("#close-incident")
        expect(page.locator(".inc-head .status-pill")).to_have_attribute("data-status", "closed")
        expect(page.locator("#timeline")).to_contain_text(f"Unit {expected}")
        page.screenshot(path=str(ARTIFACTS / "incidents-4-closed.png"))

        # 4. the report line has the measured durations
        with ctx.db.session() as s:
            inc = s.get(Incident, iid)
            assert inc is not None and inc.status == "closed"
            assert inc.dispatched_at and inc.en_route_at and inc.on_scene_at
            want = {
                "dispatch": (inc.dispatched_at - inc.reported_at).total_seconds(),
                "turnout": (inc.en_route_at - inc.dispatched_at).total_seconds(),
                "travel": (inc.on_scene_at - inc.en_route_at).total_seconds(),
                "total": (inc.on_scene_at - inc.reported_at).total_seconds(),
            }
        assert want["dispatch"] > 106  # the alert came 200 s before: over the P2 target
        assert want["turnout"] >= 1 and want["travel"] >= 2
        page.goto(base + "/#/response-times")
        line = page.locator(f"#rep-lines tr[data-id='{iid}']")
        expect(line).to_be_visible()
        for step, sec in want.items():
            expect(line.locator(f"td[data-step={step}]")).to_have_text(fmt_dur(sec))
        expect(page.locator("#rep-summary tr[data-key=intrusion]")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "incidents-5-report.png"), full_page=True)
        assert not errors, errors
        browser.close()


def test_call_intake_rejects_off_map_and_creates_incident(site: tuple[str, AppContext, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, ctx, _ = site
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(base + "/#/login")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", PW)
        page.click("button[type=submit]")
        expect(page.locator("#user-name")).to_contain_text("olga")
        page.goto(base + "/#/call")
        page.select_option("#call-type", "medical")
        expect(page.locator("#call-priority")).to_have_value("P1")  # the type's default priority
        page.fill("#call-account", "Man collapsed near the kiosk, breathing")
        page.fill("#call-address", "Kiosk, town square")
        page.fill("#call-lat", "95")
        page.fill("#call-lon", "5")
        page.click("#call-submit")
        expect(page.locator("#call-error")).to_contain_text("off the map")
        page.screenshot(path=str(ARTIFACTS / "incidents-6-call-offmap.png"))
        with ctx.db.session() as s:
            assert s.scalar(select(Incident)) is None  # nothing was created
        page.fill("#call-lat", "52.0012")
        page.fill("#call-lon", "5.0006")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#recommended")).to_have_attribute("data-unit", "M-7")
        expect(page.locator(".inc-head")).to_contain_text("Medical emergency")
        page.screenshot(path=str(ARTIFACTS / "incidents-7-call-created.png"))
        page.goto(base + "/#/incidents")
        expect(page.locator(".inc-list tbody tr[data-id]")).to_have_count(1)
        expect(page.locator(".inc-list tbody tr[data-id]")).to_contain_text("Medical emergency")
        page.screenshot(path=str(ARTIFACTS / "incidents-8-list.png"))
        browser.close()
