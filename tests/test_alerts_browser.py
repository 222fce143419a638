"""In real Chromium: an alert for a zone rule appears on the alerts page over the WebSocket and none
for a camera without rules; the header badge shows the server's count (beyond any page); after a
reload the page says the sound is off until a click lets the browser play it; the alert sound then
plays and acknowledging with a false-alarm cause is stored.

Detections come from synthetic tracks through the real rule engine, event recorder and alert
manager, so what is tested is the path from a rule firing to the operator's screen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from oversight.analytics.event_recorder import EventRecorder
from oversight.analytics.rules import RuleEngine
from oversight.analytics.types import Condition, Track
from oversight.config.schema import SiteConfig
from oversight.events.alerts import AlertManager
from oversight.events.bus import EventBus
from oversight.events.models import Alert
from oversight.store.db import Database
from oversight.store.models import Event
from oversight.web.context import AppContext
from oversight.web.server import BackgroundServer
from oversight.web.synthetic import SyntheticRuntime
from web_support import PASSWORD, add_users

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu"]
# Desktop browsers keep an AudioContext suspended until the user interacts with the page; headless
# Chromium under automation lets it run (and reports user activation) whatever --autoplay-policy says.
# This applies the desktop policy: a context made before the user's first click or key press on this
# page starts suspended, and resume() works only after one.
AUTOPLAY_POLICY = """
(() => {
  let active = false;
  for (const t of ["pointerdown", "keydown"])
    window.addEventListener(t, (e) => { if (e.isTrusted) active = true; }, { capture: true });
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...a) { super(...a); if (!active) super.suspend(); }
    resume() { return active ? super.resume() : Promise.resolve(); }
  };
})();
"""
ZONE = [[0, 0], [320, 0], [320, 180], [0, 180]]


def cfg() -> SiteConfig:
    cam = {
        "purpose": "public safety on the square",
        "streams": {"record": "/dev/null"},
        "detect": {"width": 320, "height": 180, "detector": "none"},
    }
    rule = {"id": "fountain", "type": "zone", "purpose": "people in the fountain", "polygon": ZONE}
    return SiteConfig.model_validate(
        {
            "site": {"name": "Alarm test site"},
            "alarms": {"repeat_sound_s": 2},
            "cameras": [
                {**cam, "id": "north", "name": "North", "rules": [{**rule, "alert": True, "priority": "P2"}]},
                {**cam, "id": "plain", "name": "Plain"},  # no rules: events, never alerts
            ],
        }
    )


class Feed:
    """Synthetic tracks into one camera's rules and event recorder, on its own thread like a camera."""

    def __init__(
        self, c: SiteConfig, cam_id: str, db: Database, bus: EventBus, alerts: AlertManager, tmp: Path
    ):
        cam = c.camera(cam_id)
        self.rules = RuleEngine(cam.rules)
        self.events = EventRecorder(cam_id, db, bus, tmp, hold_off_s=0.5, observer=alerts.observe)

    def person(self, track: int, seconds: float) -> None:
        frame = np.zeros((180, 320, 3), np.uint8)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = datetime.now(UTC)
            tracks = [Track(track, "person", (100.0, 40.0, 140.0, 160.0), 0.9)]
            conds = (
                self.rules.evaluate(tracks, now)
                if self.rules.rules
                else [Condition(None, "object", t.label, t.track_id, t.confidence, t.box) for t in tracks]
            )
            self.events.step(conds, frame, now)
            time.sleep(0.1)
        self.events.step([], frame, datetime.now(UTC) + timedelta(seconds=1))


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[tuple[str, AppContext, dict[str, Feed]]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    pytest.importorskip("playwright.sync_api")
    c = cfg()
    rt = SyntheticRuntime(c)
    rt.start()
    bus = EventBus()
    ctx = AppContext(cfg=c, db=db, bus=bus, runtime=rt, cache_dir=tmp_path / "cache")
    add_users(db, ("operator",))
    mgr = AlertManager(c, db, bus)
    feeds = {cam: Feed(c, cam, db, bus, mgr, tmp_path) for cam in ("north", "plain")}
    now = datetime.now(UTC) - timedelta(hours=1)
    with db.session() as s:  # an old backlog bigger than any page the UI loads
        s.add_all(
            Alert(kind="rule", camera_id="north", rule_id="old", priority="P4", sound="none", title="old",
                  occurrences=1, opened_at=now, updated_at=now, data={})
            for _ in range(520)
        )  # fmt: skip
    with BackgroundServer(ctx) as url:
        yield url, ctx, feeds
    rt.stop()


def _in_thread(fn: Any, *args: Any) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def _count(db: Database, model: Any, **where: Any) -> int:
    with db.session() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return int(s.scalar(q) or 0)


def test_zone_alert_shows_no_rules_no_alert_sound_banner_and_ack(site: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ctx, feeds = site
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.add_init_script(AUTOPLAY_POLICY)
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url + "/#/login")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#top:not([hidden])")
            expect(page.locator("#alert-count")).to_have_text("520")  # the server's count, not a page

            # the wall PC restarted in the morning: a new browser session (the login cookie kept,
            # no user interaction yet) on the alerts page; the sound is off until a click
            state = page.context.storage_state()
            page.context.close()
            fresh = browser.new_context(storage_state=state, viewport={"width": 1500, "height": 1000})
            page = fresh.new_page()
            page.add_init_script(AUTOPLAY_POLICY)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/#/alerts")
            page.wait_for_selector(".alert-card")
            expect(page.locator("#sound-banner")).to_be_visible()
            assert page.evaluate("document.body.dataset.lastSound") is None
            page.screenshot(path=str(ARTIFACTS / "alerts-sound-off.png"))
            page.locator("#sound-banner").click()
            expect(page.locator("#sound-banner")).to_be_hidden()

            # a person on the camera without rules: an event, no alert
            _in_thread(feeds["plain"].person, 1, 1.5).join()
            assert _count(ctx.db, Event, camera_id="plain") == 1
            # a person in the alerting zone: one alert, shown at once, with its sound
            shown_before = page.locator(".alert-card").count()
            feeder = _in_thread(feeds["north"].person, 2, 3.0)
            card = page.locator(".alert-card[data-kind='rule'].prio-P2")
            expect(card).to_have_count(1, timeout=5000)
            expect(card.locator(".title")).to_contain_text("fountain")
            page.wait_for_function("() => document.body.dataset.lastSound === 'alarm'", timeout=5000)
            feeder.join()
            expect(page.locator("#alert-count")).to_have_text("521")
            assert page.locator(".alert-card").count() == shown_before + 1
            assert _count(ctx.db, Alert, camera_id="plain") == 0
            page.screenshot(path=str(ARTIFACTS / "alerts-zone.png"))
            # the sound repeats while the alert is unacknowledged
            page.evaluate("delete document.body.dataset.lastSound")
            page.wait_for_function("() => document.body.dataset.lastSound === 'alarm'", timeout=5000)

            # acknowledge as a false alarm with its cause
            card.locator("select[aria-label=Reason]").select_option("false_alarm")
            card.locator("select[aria-label='Cause of the false alarm']").select_option("reflection")
            card.locator("input[aria-label='Acknowledgement note']").fill("sun on the water")
            card.get_by_role("button", name="Acknowledge").click()
            expect(page.locator("#alert-count")).to_have_text("520")
            page.evaluate("delete document.body.dataset.lastSound")
            page.wait_for_timeout(3000)  # past a repeat: silent (the backlog's P4 alerts have no sound)
            assert page.evaluate("document.body.dataset.lastSound") is None
            with ctx.db.session() as s:
                a = s.scalar(select(Alert).where(Alert.rule_id == "fountain"))
                assert a is not None
                assert (a.acknowledged_by, a.ack_reason, a.ack_cause, a.ack_note) == (
                    "operator",
                    "false_alarm",
                    "reflection",
                    "sun on the water",
                )
            # the health page lists every camera with what it receives, records and analyses
            page.goto(url + "/#/health")
            expect(page.locator("#camera-health tr[data-camera]")).to_have_count(2)
            expect(page.locator("#server-health")).to_contain_text("Disk free")
            expect(page.locator("#server-queues")).to_contain_text("queues: ")  # depths of the bus queues
            expect(page.locator("#server-clock")).to_contain_text("no time reference configured")
            expect(page.locator("#camera-health td.live-encode").first).to_have_text("none")  # nobody watches
            expect(page.locator("#camera-health td.models").first).to_contain_text(
                "objects: "
            )  # which models
            page.screenshot(path=str(ARTIFACTS / "health.png"))
            # the server unreachable: a banner says so, and goes when it answers again
            page.context.set_offline(True)
            expect(page.locator("#conn-banner")).to_be_visible(timeout=10000)
            page.screenshot(path=str(ARTIFACTS / "connection-lost.png"))
            page.context.set_offline(False)
            expect(page.locator("#conn-banner")).to_be_hidden(timeout=10000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "alerts-last.png"))
            browser.close()
    assert not errors, errors
