"""API errors and alert titles in the requester's language: the same msgid and parameters, English
for ``Accept-Language: en`` (or none), Spanish for ``es-AR``; and a test that reads the routes so a
new ``HTTPException`` with a bare English literal fails here."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alert_text_support import rule_alerts
from incidents_helpers import site
from oversight.events.bus import EventBus
from oversight.events.models import Alert
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import User
from oversight.web.app import create_app
from oversight.web.auth import create_user
from oversight.web.context import AppContext

PW = "correct horse battery"
WEB = Path(__file__).resolve().parents[1] / "src" / "oversight" / "web"


@pytest.fixture
def app(db: Database) -> Iterator[Any]:
    with db.session() as s:
        create_user(s, "olga", PW, "operator")
        create_user(s, "vic", PW, "viewer")
    a = create_app(AppContext(cfg=site(), db=db, bus=EventBus()))
    with TestClient(a):
        yield a


def _as(app: Any, user: str, lang: str | None) -> TestClient:
    c = TestClient(app)
    if lang:
        c.headers["Accept-Language"] = lang
    r = c.post("/api/auth/login", json={"username": user, "password": PW})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = c.cookies["ov_csrf"]
    return c


def _not_found(app: Any, lang: str | None) -> Any:
    return _as(app, "olga", lang).get("/api/cameras/elsewhere")


def _conflict(app: Any, lang: str | None) -> Any:
    op = _as(app, "olga", lang)
    iid = op.post("/api/incidents", json={"type": "fire", "x": 0.2, "y": 0.3, "address": "Hall"}).json()["id"]
    assert op.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"}).status_code == 201
    return op.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"})


def _invalid(app: Any, lang: str | None) -> Any:
    return _as(app, "olga", lang).post("/api/incidents", json={"type": "fire", "x": "left"})


def _invalid_value(app: Any, lang: str | None) -> Any:
    """A validator's own refusal (``i18n.InvalidValue``), not one of pydantic's types."""
    return _as(app, "olga", lang).post("/api/alerts/1/ack", json={"reason": "false_alarm"})


def _forbidden(app: Any, lang: str | None) -> Any:
    return _as(app, "vic", lang).get("/api/incidents")


def _throttled(app: Any, lang: str | None) -> Any:
    c = TestClient(app)
    if lang:
        c.headers["Accept-Language"] = lang
    for _ in range(5):
        assert c.post("/api/auth/login", json={"username": "olga", "password": "nope"}).status_code == 401
    return c.post("/api/auth/login", json={"username": "olga", "password": PW})


# (request, status, English words, Spanish words)
CASES: list[tuple[Callable[[Any, str | None], Any], int, str, str]] = [
    (_not_found, 404, "no camera 'elsewhere'", "no existe la cámara 'elsewhere'"),
    (_conflict, 409, "unit F-1 is not available", "la unidad F-1 no está disponible"),
    (_invalid, 422, "x: must be a number", "x: debe ser un número"),
    (_invalid_value, 422, "a false alarm needs a cause (", "una falsa alarma necesita una causa ("),
    (_forbidden, 403, "role 'viewer' may not do this", "el rol 'viewer' no puede hacer esto"),
    (
        _throttled,
        429,
        "too many failed attempts; try again in",
        "demasiados intentos fallidos; intente de nuevo en",
    ),
]


@pytest.mark.parametrize("lang", [None, "en-US", "es-AR,es;q=0.9"])
@pytest.mark.parametrize(
    ("call", "status", "english", "spanish"), CASES, ids=lambda v: getattr(v, "__name__", None)
)
def test_api_errors_answer_in_the_requesters_language(
    app: Any, call: Any, status: int, english: str, spanish: str, lang: str | None
) -> None:
    r = call(app, lang)
    body = r.json()
    assert r.status_code == status, body
    want, other = (spanish, english) if lang and lang.startswith("es") else (english, spanish)
    assert want in body["message"] and other not in body["message"]
    if isinstance(body["detail"], str):
        assert body["detail"] == body["message"]  # older clients read detail
    assert body["msgid"]  # the machine form does not change with the language
    if status != 422:
        assert english.split(" ")[0] in body["msgid"] or "{" in body["msgid"]


def test_a_users_stored_language_beats_the_browsers(app: Any, db: Database) -> None:
    with db.session() as s:
        s.query(User).filter_by(username="olga").one().locale = "es"
    r = _as(app, "olga", "en-US").get("/api/cameras/elsewhere")
    assert r.status_code == 404 and r.json()["detail"] == "no existe la cámara 'elsewhere'"


def test_alert_titles_render_in_each_readers_language(app: Any, db: Database) -> None:
    """A rule alert and a health alert stored as msgid + parameters: Spanish for a Spanish reader,
    English for everyone else; the bus (MQTT, webhooks) keeps English and the machine form; a row
    from before migration 0013 keeps its stored text."""
    seen: list[dict[str, Any]] = []
    bus = EventBus()
    bus.subscribe("alert", lambda m: seen.append(dict(m.data)))
    rule_alerts(db, bus, "north", "Plaza Norte")
    with db.session() as s:
        s.add(
            Alert(
                kind="health",
                camera_id=None,
                rule_id="old",
                priority="P3",
                sound="beep",
                title="Old words",
                occurrences=1,
                opened_at=utcnow(),
                updated_at=utcnow(),
                data={},
            )
        )
    es = _titles(app, "es-AR")
    en = _titles(app, None)
    assert es["rule"] == ["persona · zona 'fuente' en Plaza Norte"]
    assert en["rule"] == ["person · zone 'fuente' on Plaza Norte"]
    assert es["health"] == ["Old words", "La cámara Plaza Norte no envía video"]
    assert en["health"] == ["Old words", "Camera Plaza Norte is not sending video"]
    opened = [m for m in seen if m["phase"] == "open"]
    assert [m["title"] for m in opened] == en["rule"] + en["health"][1:]
    assert opened[0]["title_msgid"] == "{what} on {camera}"
    assert opened[0]["title_params"]["what"]["params"]["label"] == {"msgid": "person", "params": {}}


def _titles(app: Any, lang: str | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in _as(app, "olga", lang).get("/api/alerts").json()["items"]:
        out.setdefault(a["kind"], []).append(a["title"])
    return out


def _bare_details(path: Path) -> list[str]:
    """``HTTPException(status, "literal")`` / ``f"..."`` / ``{"message": "literal"}``: English that
    never reaches the catalogue. ``http_error`` takes ``N_(...)``; a literal there is caught too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name == "HTTPException":
            detail = (
                node.args[1]
                if len(node.args) > 1
                else next((k.value for k in node.keywords if k.arg == "detail"), None)
            )
            if isinstance(detail, ast.JoinedStr) or (
                isinstance(detail, ast.Constant) and isinstance(detail.value, str)
            ):
                out.append(f"{path.name}:{node.lineno}")
            if isinstance(detail, ast.Dict):
                for k, v in zip(detail.keys, detail.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == "message" and not _marked(v):
                        out.append(f"{path.name}:{node.lineno}")
        elif name == "http_error" and len(node.args) > 1 and not _marked(node.args[1]):
            out.append(f"{path.name}:{node.lineno}")
    return out


def _marked(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_"


def test_no_http_error_detail_is_a_bare_english_literal() -> None:
    files = sorted(WEB.rglob("*.py"))
    assert len(files) > 20
    found = [hit for f in files if f.name != "errors.py" for hit in _bare_details(f)]
    assert not found, f"wrap these details in http_error(status, N_('...'), **params): {found}"


def test_the_check_catches_a_bare_literal(tmp_path: Path) -> None:
    bad = tmp_path / "route.py"
    bad.write_text(
        'raise HTTPException(404, f"no camera {cid}")\nraise http_error(409, "taken")\n'
        'raise http_error(404, N_("fine"))\n'
    )
    assert _bare_details(bad) == ["route.py:1", "route.py:2"]


def test_the_alert_websocket_sends_each_reader_their_language(db: Database) -> None:
    """The WebSocket translates an alert's title per connection; the bus message keeps English."""
    from oversight.events.bus import Message as BusMessage
    from oversight.i18n import Translator
    from oversight.web.routes.live import ws_payload

    seen: list[BusMessage] = []
    bus = EventBus()
    bus.subscribe("alert", seen.append)
    rule_alerts(db, bus, "north", "Plaza Norte")
    es = json.loads(ws_payload(seen[0], "operator", tr=Translator("es_AR")) or "{}")
    en = json.loads(ws_payload(seen[0], "operator", tr=Translator("en")) or "{}")
    assert es["data"]["title"] == "persona · zona 'fuente' en Plaza Norte"
    assert en["data"]["title"] == seen[0].data["title"] == "person · zone 'fuente' on Plaza Norte"


def test_status_words_inside_messages_are_the_readers(app: Any) -> None:
    """A unit's state inside a refusal is a word from a fixed list: translated with the message,
    kept as a nested msgid in the machine form."""
    es, en = _as(app, "olga", "es-AR,es;q=0.9"), _as(app, "olga", "en")
    iid = es.post("/api/incidents", json={"type": "fire", "x": 0.2, "y": 0.3, "address": "Hall"}).json()["id"]
    assert es.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"}).status_code == 201
    body = es.post("/api/dispatch", json={"incident_id": iid, "unit_id": "F-1"}).json()
    want = f"la unidad F-1 no está disponible: su estado es «despachado» (incidente #{iid})"
    assert body["message"] == want
    assert body["params"]["state"] == {"msgid": "dispatched", "params": {}, "value": "dispatched"}
    assert es.post("/api/units/P-far/shift", json={"on_duty": False}).status_code == 200
    off = {"incident_id": iid, "unit_id": "P-far"}
    assert es.post("/api/dispatch", json=off).json()["message"].endswith("su estado es «fuera de turno»")
    english = en.post("/api/dispatch", json=off).json()["message"]
    assert english == "unit P-far is not available: it is off shift"
