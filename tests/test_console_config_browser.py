"""In real Chromium, the admin's Configure page and the operator's PTZ controls, with no native
prompt/confirm/alert anywhere (a native dialog fails the test):

- every camera setting is a form field; an edit saves into the YAML file with its comments kept,
  a dragged vertex moves a zone's point, errors read as words next to their field, and a retention
  change waits for a second person;
- a role change asks first and says the user will be logged out;
- a PTZ preset pressed on the camera page moves the virtual ONVIF camera (its own reported
  position changes) and the move is in the audit log.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect
from sqlalchemy import select

from onvif_device import VirtualCamera, virtual_onvif_camera
from oversight.config.loader import load_config
from oversight.privacy.models import AuditEntry
from oversight.web.server import BackgroundServer
from web_support import PASSWORD, add_users, make_ctx

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")

COMMENTED = """\
# Test site: the council's camera plan, approved 2026-03-01
site:
  name: Test site  # shown in reports
  timezone: Europe/Amsterdam
  data_dir: {data}
cameras:
  # the camera on the square, north side
  - id: cam0
    name: Camera 0
    purpose: traffic safety on the square
    streams:
      record: {rec}   # the main stream
    detect: {{width: 320, height: 180, detector: none}}
    record:
      retention_days: 7  # the bylaw's limit
    rules:
      - id: door  # the closed area by the door
        type: zone
        purpose: closed area
        polygon: [[0, 0], [100, 0], [100, 100]]
"""


@pytest.fixture
def browser() -> Any:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, url: str, user: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(15000)
    native: list[str] = []
    page.on("dialog", lambda d: (native.append(d.message), d.dismiss()))
    page.native_dialogs = native
    page.goto(url + "/#/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#top:not([hidden])")
    return page


def _site(db: Any, tmp: Path, extra: dict[str, Any] | None = None) -> Any:
    ctx = make_ctx(db, tmp, cameras=1, runtime=False)
    text = COMMENTED.format(data=tmp / "var", rec=tmp / "cam0.mp4")
    if extra:
        data = yaml.safe_load(text)
        data["cameras"][0].update(extra)
        text = yaml.safe_dump(data, sort_keys=False)
    ctx.config_path.write_text(text)
    ctx.cfg = load_config(ctx.config_path)
    return ctx


def _audited(db: Any, action: str) -> list[AuditEntry]:
    with db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_config_edit_round_trips_with_comments(db: Any, tmp_path: Path, browser: Any) -> None:
    ctx = _site(db, tmp_path)
    add_users(db, ("admin",))
    with BackgroundServer(ctx) as url:
        page = _page(browser, url, "admin")
        page.goto(url + "/#/configure/cam0")
        page.wait_for_selector(".rule-card[data-rule=door]")
        page.click("summary:text('Location and heading')")
        page.click("summary:text('Redaction')")
        # a readable error, next to its field: a heading is needed for a field of view
        page.fill("input[data-path='field_of_view.angle_deg']", "70")
        page.click("button:text('Validate only')")
        note = page.wait_for_selector(".field-issue[data-for='field_of_view.direction_deg']:not(:empty)")
        assert "direction_deg" in note.inner_text() and "pattern" not in note.inner_text()
        # forms for the rest: name, heading, redaction, the rule's sound, schedule and classes
        page.fill("input[data-path='name']", "Square north")
        page.fill("input[data-path='field_of_view.direction_deg']", "135")
        page.check("input[data-path='redaction.plates']")
        page.check("input[aria-label='Rule door raises alerts']")
        page.select_option("select[aria-label='Priority of rule door']", "P2")
        page.select_option("select[aria-label='Sound of rule door']", "beep")
        page.check("input[aria-label='Rule door counts car']")
        page.check("input[aria-label='Rule door only at set times']")
        page.uncheck("input[aria-label='Rule door on Sun']")
        page.fill("input[aria-label='Rule door from (HH:MM)']", "07:00")
        page.press("input[aria-label='Rule door from (HH:MM)']", "Tab")
        # drag the zone's vertex at (100, 100) to (150, 120) in detect pixels (320x180)
        page.locator(".draw canvas").scroll_into_view_if_needed()
        box = page.locator(".draw canvas").bounding_box()
        sx, sy = box["width"] / 320, box["height"] / 180
        page.mouse.move(box["x"] + 100 * sx, box["y"] + 100 * sy)
        page.mouse.down()
        page.mouse.move(box["x"] + 130 * sx, box["y"] + 110 * sy, steps=4)
        page.mouse.move(box["x"] + 150 * sx, box["y"] + 120 * sy, steps=4)
        page.mouse.up()
        page.click("button:text('Save and apply')")
        page.wait_for_selector("p.ok:text-matches('Saved to the config file')")
        # the retention is a field too; changing it waits for a second person
        page.fill("input[data-path='record.retention_days']", "30")
        page.click("button:text('Save and apply')")
        page.wait_for_selector("p:text-matches('waits for another admin')")
        assert page.native_dialogs == []
    text = ctx.config_path.read_text()
    for comment in (
        "# Test site: the council's camera plan, approved 2026-03-01",
        "# shown in reports",
        "# the camera on the square, north side",
        "# the main stream",
        "retention_days: 7  # the bylaw's limit",
        "# the closed area by the door",
    ):
        assert comment in text
    assert "detect: {width: 320, height: 180, detector: none}" in text  # flow style kept
    cam = load_config(ctx.config_path).camera("cam0")
    assert cam.name == "Square north" and cam.field_of_view and cam.field_of_view.direction_deg == 135
    assert cam.redaction.plates is True and cam.record.retention_days == 7
    door = cam.rules[0]
    assert (door.alert, door.priority, door.sound, door.classes) == (True, "P2", "beep", ["person", "car"])
    assert door.schedule and door.schedule.start == "07:00" and "sun" not in door.schedule.days
    x, y = door.polygon[2]
    assert abs(x - 150) <= 2 and abs(y - 120) <= 2, door.polygon  # the dragged vertex, nothing else
    assert door.polygon[:2] == [(0, 0), (100, 0)]


def test_a_role_change_asks_and_says_the_user_is_logged_out(db: Any, tmp_path: Path, browser: Any) -> None:
    ctx = _site(db, tmp_path)
    add_users(db, ("admin", "operator"))
    with BackgroundServer(ctx) as url:
        page = _page(browser, url, "admin")
        page.goto(url + "/#/users")
        sel = "select[aria-label='Role of operator']"
        page.wait_for_selector(sel)
        page.select_option(sel, "viewer")
        dialog = page.wait_for_selector("dialog[open]")
        assert "logged out" in dialog.inner_text()
        page.click("dialog[open] button:text('Cancel')")
        # the old role comes back once the dialog's answer arrives (a moment after the click)
        expect(page.locator(sel)).to_have_value("operator", timeout=10000)
        page.select_option(sel, "viewer")
        page.click("dialog[open] button:text('Change role')")
        page.wait_for_selector(".toast:text-matches('sessions ended')")
        assert page.native_dialogs == []
    with db.session() as s:
        from oversight.store.models import User

        assert s.scalars(select(User.role).where(User.username == "operator")).one() == "viewer"


def test_a_ptz_preset_moves_the_virtual_onvif_camera(
    db: Any, tmp_path: Path, browser: Any, monkeypatch: Any
) -> None:
    work = tmp_path / "device"
    work.mkdir()
    with virtual_onvif_camera(work, monkeypatch) as device:
        _ptz_flow(db, tmp_path, browser, device)


def _ptz_flow(db: Any, tmp_path: Path, browser: Any, device: VirtualCamera) -> None:
    device.camera.ptz.absolute_move(pan=0.4, tilt=-0.2, zoom=0.0)
    device.camera.ptz.set_preset("gate", "Gate")
    device.camera.ptz.goto_home()
    assert device.position() == (0.0, 0.0, 0.0)
    ctx = _site(db, tmp_path, {"onvif": device.url, "ptz": {}})
    add_users(db, ("operator",))
    with BackgroundServer(ctx) as url:
        page = _page(browser, url, "operator")
        page.evaluate(
            "window.__pad = { axes: [0, 0, 0, 0], buttons: [], connected: true };"
            "navigator.getGamepads = () => [window.__pad];"
        )
        page.goto(url + "/#/camera/cam0")
        page.wait_for_selector(".ptz-panel button[data-preset=gate]").click()
        page.wait_for_selector(".ptz-panel [data-at-home=false]")
        assert device.position() == (0.4, -0.2, 0.0)  # the device itself says it moved
        page.click(".ptz-panel button[aria-label=Home]")
        page.wait_for_selector(".ptz-panel [data-at-home=true]")
        assert device.position() == (0.0, 0.0, 0.0)
        # hold the on-screen "pan right" button, then the keyboard's left arrow
        btn = page.locator(".ptz-panel button[aria-label='Pan right']").bounding_box()
        page.mouse.move(btn["x"] + btn["width"] / 2, btn["y"] + btn["height"] / 2)
        page.mouse.down()
        _until(lambda: device.position()[0] > 0.05)
        page.mouse.up()
        _until(lambda: not device.camera.ptz.get_status()["moving"])
        right = device.position()[0]
        page.keyboard.down("ArrowLeft")
        _until(lambda: device.position()[0] < right - 0.05)
        page.keyboard.up("ArrowLeft")
        _until(lambda: not device.camera.ptz.get_status()["moving"])
        # a USB joystick: Chromium has no joystick here, so the page's Gamepad API reads a stand-in
        # pad object; everything after navigator.getGamepads() is the page's own code
        low = device.position()[1]
        page.evaluate("window.__pad.axes[1] = -0.9")  # stick forward: tilt up
        _until(lambda: device.position()[1] > low + 0.05)
        page.evaluate("window.__pad.axes[1] = 0")
        _until(lambda: not device.camera.ptz.get_status()["moving"])
        assert page.native_dialogs == []
    moves = _audited(db, "ptz.preset.goto")
    assert [(m.actor, m.object_id, m.detail["preset"]) for m in moves] == [("operator", "cam0", "gate")]
    assert len(_audited(db, "ptz.move")) >= 2 and _audited(db, "ptz.stop") and _audited(db, "ptz.home")


def _until(cond: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
