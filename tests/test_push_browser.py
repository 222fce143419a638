"""Web Push in real Chromium: the app registers its service worker at scope /, the user menu offers
notifications to a supervisor, and a push delivered to that worker (DevTools protocol
``ServiceWorker.deliverPushMessage``, the payload exactly as ``web.push`` writes it for a P1 alert)
becomes a notification with the title and link, and nothing else.

What this cannot do offline: Chromium's ``pushManager.subscribe`` asks Google's push service (FCM)
for an endpoint, which is unreachable here, so the subscription itself is refused by the browser; the
encryption and the signed request a push service receives are tested against a real loopback push
service in ``tests/test_push.py``. The test records what ``subscribe`` answered."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from oversight.events import topics
from oversight.events.bus import Message
from oversight.web.auth import create_user
from oversight.web.push import notice_for, payload
from oversight.web.server import BackgroundServer
from web_support import PASSWORD, make_ctx

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
NOTIFICATIONS = """() => navigator.serviceWorker.ready.then(r => r.getNotifications())
  .then(ns => ns.map(n => ({
    title: n.title, tag: n.tag, url: n.data && n.data.url, body: n.body, image: n.image })))"""
SUBSCRIBE = """async () => {
  const reg = await navigator.serviceWorker.ready;
  const key = (await (await fetch("/api/push/key")).json()).public_key;
  const b64 = key.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - key.length % 4) % 4);
  const raw = Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));
  try {
    const asked = reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: raw });
    const late = new Promise((_, no) => setTimeout(() => no(new Error("no answer in 10 s")), 10000));
    const sub = await Promise.race([asked, late]);
    return { ok: true, endpoint: sub.endpoint };
  } catch (e) { return { ok: false, error: String(e) }; }
}"""


@pytest.fixture
def served(db: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    ctx = make_ctx(db, tmp_path, runtime=False)
    with db.session() as s:
        create_user(s, "sup", PASSWORD, "supervisor")
    with BackgroundServer(ctx) as url:
        yield ctx, url


def _registration(cdp: Any, events: list[dict[str, Any]], scope: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for ev in events:
            for reg in ev.get("registrations", []):
                if reg["scopeURL"] == scope and not reg.get("isDeleted"):
                    return str(reg["registrationId"])
        time.sleep(0.1)
    raise AssertionError(f"no service worker registration for {scope}: {events}")


def test_the_worker_turns_a_push_into_a_notification(served: Any) -> None:
    from playwright.sync_api import sync_playwright

    ctx, url = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(locale="es-AR", viewport={"width": 390, "height": 844})
            context.grant_permissions(["notifications"], origin=url)
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            events: list[dict[str, Any]] = []
            cdp.on("ServiceWorker.workerRegistrationUpdated", lambda ev: events.append(ev))
            cdp.send("ServiceWorker.enable")
            page.goto(url + "/#/login")
            page.fill("input[name=username]", "sup")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#top:not([hidden])")
            script = page.evaluate("navigator.serviceWorker.ready.then(r => [r.scope, r.active.scriptURL])")
            assert script == [url + "/", url + "/sw.js"]
            page.click("#user-name")
            page.wait_for_selector("#push-toggle")
            assert page.inner_text("#push-toggle") == "Activar las notificaciones en este dispositivo"

            reg_id = _registration(cdp, events, url + "/")
            alert = {
                "phase": "open",
                "id": 41,
                "priority": "P1",
                "camera_id": "cam0",
                "title": "zona ocupada",
            }
            data = payload(notice_for(Message(topics.ALERT, alert), ctx.cfg), "es")  # type: ignore[arg-type]
            cdp.send(
                "ServiceWorker.deliverPushMessage", {"origin": url, "registrationId": reg_id, "data": data}
            )
            deadline, shown = time.monotonic() + 10, []
            while not shown and time.monotonic() < deadline:
                shown = page.evaluate(NOTIFICATIONS)
                time.sleep(0.1)
            assert shown == [
                {
                    "title": "Alerta P1: zona ocupada (Camera 0)",
                    "tag": "alert-41",
                    "url": "/#/alerts",
                    "body": "",
                    "image": "",
                }
            ]
            attempt = page.evaluate(SUBSCRIBE)
            print("pushManager.subscribe without a reachable push service:", json.dumps(attempt))
        finally:
            browser.close()
