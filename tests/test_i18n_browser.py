"""In real Chromium set to Argentine Spanish: every main page, for the roles that see it, shows no
English. English is recognised by vocabulary: the words of the English msgids that no Spanish
translation uses, plus English function words; proper names and units are allowed. Screenshots go to
test-artifacts/ for a human to look at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from alert_text_support import rule_alerts
from oversight import i18n
from oversight.web.auth import create_user
from oversight.web.context import AppContext
from oversight.web.server import BackgroundServer
from web_support import PASSWORD, plaza_site

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WORD = re.compile(r"[A-Za-zÁÉÍÓÚÑáéíóúñü][A-Za-zÁÉÍÓÚÑáéíóúñü'-]+")
FUNCTION_WORDS = set(
    [
        "the",
        "and",
        "of",
        "to",
        "is",
        "are",
        "was",
        "with",
        "for",
        "this",
        "that",
        "from",
        "by",
        "at",
        "or",
        "not",
        "yes",
        "none",
        "it",
        "be",
        "has",
        "have",
        "you",
        "your",
        "its",
        "an",
        "into",
        "than",
        "then",
        "there",
        "their",
        "here",
        "what",
        "which",
        "who",
        "when",
        "where",
        "why",
        "how",
        "may",
        "must",
        "can",
        "cannot",
        "will",
        "would",
        "should",
        "only",
        "also",
        "just",
        "shown",
        "show",
    ]
)
# proper names, units and formats that read the same in both languages
ALLOWED = set(
    [
        "oversight",
        "json",
        "csv",
        "pdf",
        "html",
        "rtsp",
        "sha",
        "fps",
        "km",
        "mb",
        "gb",
        "tb",
        "min",
        "api",
        "alt",
        "esc",
        "ctrl",
        "url",
        "codec",
        "id",
        "p",
    ]
)
PAGES = {  # user name -> (role, pages); the names are data, not English
    "ana": (
        "supervisor",
        ["wall", "alerts", "events", "incidents", "call", "units", "response-times", "map", "reveals"]
        + ["views", "review", "bookmarks"],
    ),
    "beto": ("admin", ["configure", "users", "health"]),
    "caro": ("auditor", ["audit", "sars"]),
}


# page -> (where a planted status shows, its Spanish word)
STATUS_SHOWN = {
    "reveals": ("#reveal-requests td.reveal-status", "pendiente"),
    "units": ("tr[data-unit='M-7'] .status-pill", "fuera de turno"),
}


def _vocabulary() -> set[str]:
    english: set[str] = set()
    spanish: set[str] = set()
    for domain in ("web",):
        for m in i18n.read_catalog("es", domain):
            if not m.id:
                continue
            for text in m.id if isinstance(m.id, tuple) else (m.id,):
                english |= {w.lower() for w in WORD.findall(re.sub(r"\{\w+\}", "", text))}
            for text in m.string if isinstance(m.string, tuple) else (m.string,):
                spanish |= {w.lower() for w in WORD.findall(text or "")}
    return ((english - spanish) | FUNCTION_WORDS) - ALLOWED


def _site(tmp: Path) -> AppContext:
    return plaza_site(tmp, ["Belgrano", "Italia"], "seguridad vial en la plaza")


@pytest.fixture
def spanish_site(db: Any, tmp_path: Path):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    pytest.importorskip("playwright.sync_api")
    ctx = _site(tmp_path)
    ctx.db = db
    with db.session() as s:
        for name, (role, _) in PAGES.items():
            create_user(s, name, PASSWORD, role)
    rule_alerts(db, ctx.bus, "cam0", "Plaza Belgrano")  # their titles are stored as msgids
    _plant_statuses(db)
    try:
        with BackgroundServer(ctx) as url:
            yield url
    finally:
        ctx.runtime.stop()  # type: ignore[union-attr]


def _plant_statuses(db: Any) -> None:
    """A pending reveal and an off-shift unit: status values the pages must show as Spanish words."""
    from datetime import timedelta

    from oversight.incidents.models import ResponseUnit
    from oversight.privacy.reveals import request_reveal
    from oversight.store.base import utcnow

    now = utcnow()
    with db.session() as s:
        request_reveal(
            s,
            "ana",
            "supervisor",
            ["cam0"],
            now - timedelta(hours=2),
            now - timedelta(hours=1),
            "riña en la plaza, pedido fiscal",
            "EXP-1",
        )
        s.add(ResponseUnit(id="M-7", type="police", status="available", on_duty=False, lat=-24.18, lon=-65.3))


VISIBLE_TEXT = """() => {
  // codes (audit actions, ids, times) are shown in .mono and are no language's words
  for (const el of document.querySelectorAll(".mono")) el.textContent = "";
  const out = [document.title, document.body.innerText];
  const labelled = "[title], [aria-label], [placeholder], img[alt], option";
  for (const el of document.querySelectorAll(labelled)) {
    if (el.closest("[hidden]")) continue;
    for (const a of ["title", "aria-label", "placeholder", "alt"]) {
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
    if (el.tagName === "OPTION") out.push(el.textContent);
  }
  return out.join("\\n");
}"""


def _english(text: str, vocab: set[str]) -> list[str]:
    return sorted({w for w in WORD.findall(text) if w.lower() in vocab})


def _dates_are_spanish_in_the_sites_zone(page: Any) -> None:
    """The date field is text in the Argentine format and the site's zone (Jujuy, UTC-3), whatever
    zone the browser is in; the placeholder says how to write one."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    field = page.locator("input[name=from]")
    assert field.get_attribute("placeholder") == "dd/mm/aaaa, hh:mm"
    now = datetime.now(UTC)
    expected = {
        (now - timedelta(days=1, minutes=m))
        .astimezone(ZoneInfo("America/Argentina/Jujuy"))
        .strftime("%d/%m/%Y, %H:%M")
        for m in (0, 1, 2)
    }
    assert field.input_value() in expected


def test_the_main_pages_in_spanish_show_no_english(spanish_site: str) -> None:
    from playwright.sync_api import sync_playwright

    vocab = _vocabulary()
    ARTIFACTS.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            for user, (_, paths) in PAGES.items():
                page = browser.new_context(
                    locale="es-AR", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900}
                ).new_page()
                page.goto(spanish_site + "/#/login")
                page.wait_for_selector("input[name=username]")
                assert page.evaluate("document.documentElement.lang") == "es-AR"
                found["login"] = _english(page.evaluate(VISIBLE_TEXT), vocab)
                page.fill("input[name=username]", user)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("#top:not([hidden])")
                for path in paths:
                    page.goto(f"{spanish_site}/#/{path}")
                    page.wait_for_selector(f".page[data-page='{path}'] h1")
                    page.wait_for_timeout(600)  # lists load after the heading
                    page.screenshot(path=str(ARTIFACTS / f"i18n-es-{path}.png"), full_page=True)
                    if path == "events":
                        _dates_are_spanish_in_the_sites_zone(page)
                    if path == "alerts":
                        shown = page.evaluate(VISIBLE_TEXT)
                        assert "persona · zona 'fuente' en Plaza Belgrano" in shown, shown
                        assert "La cámara Plaza Belgrano no envía video" in shown, shown
                    if path in STATUS_SHOWN:  # a machine status value shown as its Spanish word
                        where, word = STATUS_SHOWN[path]
                        assert page.locator(where).first.inner_text().startswith(word), path
                    found[f"{user} #/{path}"] = _english(page.evaluate(VISIBLE_TEXT), vocab)
                page.context.close()
        finally:
            browser.close()
    bad = {k: v for k, v in found.items() if v}
    assert not bad, f"English on Spanish pages: {bad}"
