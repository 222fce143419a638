"""Message catalogues: every string the code shows is in them and translated, the language is chosen
per user with Accept-Language as the default, and plurals follow the locale's rules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from oversight import i18n
from oversight.store.models import User
from web_support import add_users, client, login, make_ctx, tokens

PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\}")


def _ids(cat: Any) -> dict[str, Any]:
    return {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in cat if m.id}


@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_every_string_the_code_shows_is_in_every_catalogue_and_translated(domain: str) -> None:
    used = _ids(i18n.extract_template(domain))
    for locale in ("en", "es"):
        have = _ids(i18n.read_catalog(locale, domain))
        missing = sorted(set(used) - set(have))
        assert not missing, f"{locale}/{domain}.po lacks {missing[:10]}: run `oversight i18n extract`"
        untranslated = i18n.untranslated(i18n.read_catalog(locale, domain))
        assert not untranslated, f"{locale}/{domain}.po has no translation for {untranslated[:10]}"


@pytest.mark.parametrize("locale", [loc for loc in i18n.LOCALES if loc != "en"])
@pytest.mark.parametrize("domain", i18n.DOMAINS)
def test_translations_keep_the_placeholders(locale: str, domain: str) -> None:
    used = set(_ids(i18n.extract_template(domain)))
    for m in i18n.read_catalog(locale, domain):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        key = ids[0]
        if "_" in locale:  # regional catalogues hold only differences, for strings still in use
            assert key in used, f"{locale}/{domain}.po translates {key!r}, which the code no longer shows"
        want = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
        for text in m.string if isinstance(m.string, tuple) else (m.string,):
            assert set(PLACEHOLDER.findall(text)) <= want, (locale, key, text)
            assert set(PLACEHOLDER.findall(ids[0])) - {"n"} <= set(PLACEHOLDER.findall(text)), (key, text)


@pytest.mark.parametrize(
    ("accept", "preferred", "expected"),
    [
        ("es-AR,es;q=0.9,en;q=0.8", None, "es_AR"),
        ("es-EC", None, "es_EC"),
        ("es-MX,es;q=0.9", None, "es"),
        ("fr-FR,es;q=0.5,en;q=0.4", None, "es"),
        ("en-US,en;q=0.9", None, "en"),
        ("de-DE", None, "en"),
        ("", None, "en"),
        ("garbage;;q=x", None, "en"),
        ("en", "es_AR", "es_AR"),
        ("es", "en", "en"),
        ("es", "xx", "es"),
    ],
)
def test_language_is_the_users_choice_else_the_browsers(
    accept: str, preferred: str | None, expected: str
) -> None:
    assert i18n.negotiate(accept, preferred) == expected


def test_regional_catalogues_fall_back_to_the_language() -> None:
    ar, ec, es = (
        i18n.Translator("es_AR", "web"),
        i18n.Translator("es_EC", "web"),
        i18n.Translator("es", "web"),
    )
    assert ar.gettext("Units") == "Móviles" and es.gettext("Units") == "Unidades"  # Argentine wording
    assert ec.gettext("Caller name") == "Nombre del alertante" != es.gettext("Caller name")  # ECU 911's
    assert ar.gettext("Log out") == es.gettext("Log out") == ec.gettext("Log out") == "Cerrar sesión"
    assert i18n.Translator("en", "web").gettext("Units") == "Units"


@pytest.mark.parametrize(("n", "expected"), [(1, "1 alerta"), (2, "2 alertas"), (0, "0 alertas")])
def test_plural_forms_follow_the_catalogue(n: int, expected: str) -> None:
    es = i18n.Translator("es", "web")
    assert es.ngettext("{n} alert", "{n} alerts", n) == expected
    forms = i18n.catalog_json("es")["messages"]["{n} alert"]
    assert forms["one"] == "{n} alerta" and forms["other"] == forms["many"] == "{n} alertas"


def test_the_catalogue_route_answers_in_the_users_language(db: Any, tmp_path: Any) -> None:
    ctx = make_ctx(db, tmp_path, runtime=False)
    add_users(db, ("operator",))
    c = client(ctx)
    anon = c.get("/api/i18n/catalog", headers={"Accept-Language": "es-AR,es;q=0.9"}).json()
    assert anon["locale"] == "es_AR" and anon["lang"] == "es-AR" and anon["messages"]["Units"] == "Móviles"
    assert anon["timezone"] == ctx.cfg.site.timezone
    assert c.get("/api/i18n/catalog?locale=en").json()["messages"].get("Units", "Units") == "Units"
    h = login(c, "operator")
    assert c.get("/api/i18n/preference").json() == {
        "preference": None,
        "locale": "en",
        "available": list(i18n.LOCALES),
    }
    r = c.put("/api/i18n/preference", json={"locale": "es-ec"}, headers=h)
    assert r.status_code == 200 and r.json()["preference"] == "es_EC"
    with db.session() as s:
        assert s.query(User).filter_by(username="operator").one().locale == "es_EC"
    # the stored choice beats the browser's header
    got = c.get("/api/i18n/catalog", headers={"Accept-Language": "en-US"}).json()
    assert got["locale"] == "es_EC"
    bad = c.put("/api/i18n/preference", json={"locale": "klingon"}, headers=h)
    assert bad.status_code == 422 and "available" in bad.json()["detail"]
    assert c.put("/api/i18n/preference", json={"locale": None}, headers=h).json()["preference"] is None
    assert c.put("/api/i18n/preference", json={"locale": "es"}).status_code == 403  # no CSRF token


def test_api_tokens_have_no_language_to_store(db: Any, tmp_path: Any) -> None:
    ctx = make_ctx(db, tmp_path, runtime=False)
    secret = tokens(db, ("viewer",))["viewer"]
    r = client(ctx).put(
        "/api/i18n/preference", json={"locale": "es"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert r.status_code == 400


def test_operator_messages_follow_the_shells_language(db: Any, tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from oversight.cli import app

    url = db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("OVERSIGHT_PASSWORD", "a long password")
    runner = CliRunner()
    monkeypatch.setattr(i18n, "_active", i18n.ContextVar("test_translator", default=None))  # not ours to keep
    for lang, expected in (("es_AR.UTF-8", "agregado olga (operator)"), ("C.UTF-8", "added pat (operator)")):
        monkeypatch.setenv("LANG", lang)
        monkeypatch.delenv("LANGUAGE", raising=False)
        monkeypatch.delenv("LC_ALL", raising=False)
        monkeypatch.delenv("LC_MESSAGES", raising=False)
        name = expected.split()[1]
        r = runner.invoke(app, ["users", "add", name, "--role", "operator", "--db", url])
        assert r.exit_code == 0, r.output
        assert expected in r.output


def test_the_response_time_chart_is_drawn_in_the_readers_language(db: Any, tmp_path: Any) -> None:
    ctx = make_ctx(db, tmp_path, runtime=False)
    add_users(db, ("supervisor",))
    c = client(ctx)
    login(c, "supervisor")
    es = c.get("/api/incidents/reports/chart.svg", headers={"Accept-Language": "es"})
    assert es.status_code == 200 and "segundos de total por tipo" in es.text
    assert "no hay respuestas terminadas en este período" in es.text
    assert "total seconds by type" in c.get("/api/incidents/reports/chart.svg").text


def test_a_term_is_translated_where_its_message_is_read() -> None:
    """Words from a fixed list (statuses) ride in a message as nested msgids: English in logs and
    ``str()`` (with ``!r`` too), the reader's language in ``translate``; unknown values stay as given."""
    words = {"en_route": i18n.N_("en route")}
    msg = i18n.Message(
        "unit {unit_id} cannot go from {cur!r} to {state!r}: the next step is {nxt!r}",
        {"unit_id": "P-1", "cur": i18n.term("en_route", words), "state": "dispatched", "nxt": "x"},
    )
    assert str(msg) == "unit P-1 cannot go from 'en route' to 'dispatched': the next step is 'x'"
    assert "de 'en camino' a 'dispatched'" in msg.translate(i18n.Translator("es"))
    assert i18n.term("mystery", words) == "mystery"
    assert msg.jsonable()["params"]["cur"] == {"msgid": "en route", "params": {}, "value": "en_route"}
