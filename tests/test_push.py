"""Web Push end to end against a real push service on loopback: people subscribe through the API,
a reveal request, a P1 alert and a P1 incident reach exactly the people who may act on them (role
and camera groups), each payload is decrypted the way a browser does it (RFC 8291, ``http_ece``
with the subscriber's private key) and holds only a title, a link and a tag in the subscriber's
language, the VAPID JWT verifies against the key the app hands to browsers (RFC 8292), and a
subscription the service calls gone (410) is deleted."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from oversight.config.loader import load_config
from oversight.events import topics
from oversight.events.bus import EventBus
from oversight.web.auth import create_user
from oversight.web.context import AppContext
from oversight.web.models import PushSubscription
from oversight.web.push import PushNotifier, PushSender, vapid_path
from web_support import client, login

PASSWORD = "correct horse battery"


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cert(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: push endpoints must be https."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "push.crt", tmp / "push.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class PushService:
    """A push service on loopback: records what arrives per subscription path; answers 410 for the
    paths in ``gone``."""

    def __init__(self, tmp: Path):
        self.got: list[dict[str, Any]] = []
        self.gone: set[str] = set()
        self.cert, key = _cert(tmp)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.got.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                self.send_response(410 if self.path in service.gone else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 15) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.got)


class Browser:
    """The receiving half of a browser's subscription: its P-256 key pair and auth secret."""

    def __init__(self, endpoint: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.json = {"endpoint": endpoint, "keys": {"p256dh": b64u(point), "auth": b64u(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        clear = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(clear)


def check_vapid(headers: dict[str, str], origin: str, app_key: str) -> None:
    """RFC 8292: ``Authorization: vapid t=<ES256 JWT>, k=<public key>``; the key is the one the app
    gives browsers, the signature verifies with it, ``aud`` is the push service's origin."""
    scheme, _, params = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert fields["k"] == app_key
    head, claims, sig = fields["t"].split(".")
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(fields["k"]))
    raw = unb64u(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    pub.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises when forged
    body = json.loads(unb64u(claims))
    assert json.loads(unb64u(head))["alg"] == "ES256"
    assert body["aud"] == origin and body["sub"] == "mailto:centro@example.org" and body["exp"] > time.time()


@pytest.fixture
def site(db: Any, tmp_path: Path) -> Iterator[tuple[AppContext, PushService]]:
    cams = [
        {
            "id": f"cam{i}",
            "name": f"Plaza {i}",
            "purpose": "road safety",
            "streams": {"record": str(tmp_path / "x.mp4")},
        }
        for i in range(2)
    ]
    data = {
        "site": {
            "name": "Centro",
            "data_dir": str(tmp_path / "var"),
            "push": {"contact": "mailto:centro@example.org"},
        },
        "cameras": cams,
        "camera_groups": [{"id": "north", "cameras": ["cam0"]}, {"id": "south", "cameras": ["cam1"]}],
    }
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(data))
    cfg = load_config(tmp_path / "site.yaml")
    ctx = AppContext(cfg=cfg, db=db, bus=EventBus(), cache_dir=tmp_path / "c")
    with db.session() as s:
        for name, role, groups, locale in [
            ("ana", "supervisor", ["north"], "es"),
            ("bruno", "supervisor", ["south"], None),
            ("olga", "operator", ["north"], None),
            ("vera", "viewer", ["north"], None),
        ]:
            user = create_user(s, name, PASSWORD, role)
            user.camera_groups, user.locale = groups, locale
    service = PushService(tmp_path)
    http = requests.Session()
    http.verify = str(service.cert)
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace the trusted certificate
    sender = PushSender(db, cfg, http)
    ctx.extras["push_sender"] = sender
    notifier = PushNotifier(db, cfg, ctx.bus, sender)
    notifier.start()
    try:
        yield ctx, service
    finally:
        notifier.stop()
        service.server.shutdown()


def _subscribe(ctx: AppContext, service: PushService, user: str) -> tuple[Browser, Any, dict[str, str]]:
    c = client(ctx)
    csrf = login(c, user, PASSWORD)
    browser = Browser(f"{service.origin}/push/{user}")
    r = c.post("/api/push/subscriptions", json={**browser.json, "locale": "en-US"}, headers=csrf)
    assert r.status_code == 201, r.text
    return browser, c, csrf


def test_notices_reach_exactly_who_may_act_encrypted_and_signed(site: tuple[AppContext, PushService]) -> None:
    ctx, service = site
    browsers = {u: _subscribe(ctx, service, u) for u in ("ana", "bruno", "olga")}
    app_key = browsers["ana"][1].get("/api/push/key").json()["public_key"]
    assert vapid_path(ctx.cfg.site.data_dir).stat().st_mode & 0o777 == 0o600

    # olga (operator, north) asks to reveal cam0: only ana (supervisor of north) is told
    _, olga, csrf = browsers["olga"]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    r = olga.post(
        "/api/reveals",
        json={
            "camera_ids": ["cam0"],
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=2)).isoformat(),
            "reason": "a fight reported by phone",
            "reference": "case 12",
        },
        headers=csrf,
    )
    assert r.status_code == 201, r.text
    got = service.wait(1)
    time.sleep(0.5)  # nothing else arrives
    assert [g["path"] for g in service.got] == ["/push/ana"]
    msg = browsers["ana"][0].decrypt(got[0]["body"])
    assert msg == {
        "title": f"La solicitud de revelación n.º {r.json()['id']} espera su aprobación",
        "url": "/#/reveals",
        "tag": f"reveal-{r.json()['id']}",
    }
    check_vapid(got[0]["headers"], service.origin, app_key)
    assert got[0]["headers"]["content-encoding"] == "aes128gcm" and int(got[0]["headers"]["ttl"]) == 3600

    # a P1 alert on cam1 (south): bruno, not ana nor olga (north); a P2 alert: nobody
    service.got.clear()
    ctx.bus.publish(
        topics.ALERT, {"phase": "open", "id": 7, "priority": "P2", "camera_id": "cam1", "title": "crowd"}
    )
    ctx.bus.publish(
        topics.ALERT,
        {
            "phase": "open",
            "id": 8,
            "priority": "P1",
            "camera_id": "cam1",
            "title": "crowd",
            "thumbnail": "/api/events/1/thumbnail.jpg",
        },
    )
    got = service.wait(1)
    time.sleep(0.5)
    assert [g["path"] for g in service.got] == ["/push/bruno"]
    assert browsers["bruno"][0].decrypt(got[0]["body"]) == {
        "title": "P1 alert: crowd (Plaza 1)",
        "url": "/#/alerts",
        "tag": "alert-8",
    }

    # a new P1 incident on cam0: ana and olga (operators follow incidents too), in their languages
    service.got.clear()
    ctx.bus.publish(
        topics.INCIDENT,
        {
            "event": "incident.created",
            "id": 3,
            "actor": "x",
            "at": "",
            "incident": {"priority": "P1", "camera_id": "cam0", "caller_name": "Juana"},
        },
    )
    got = service.wait(2)
    by_path = {g["path"]: g for g in got}
    assert set(by_path) == {"/push/ana", "/push/olga"}
    assert browsers["ana"][0].decrypt(by_path["/push/ana"]["body"])["title"] == "Nuevo incidente P1 n.º 3"
    assert browsers["olga"][0].decrypt(by_path["/push/olga"]["body"]) == {
        "title": "New P1 incident #3",
        "url": "/#/incidents/3",
        "tag": "incident-3",
    }


def test_gone_subscriptions_are_deleted_and_tests_reach_only_oneself(
    site: tuple[AppContext, PushService],
) -> None:
    ctx, service = site
    ana, c, csrf = _subscribe(ctx, service, "ana")
    _subscribe(ctx, service, "bruno")
    assert c.post("/api/push/test", headers=csrf).json() == {"sent": 1}
    assert [g["path"] for g in service.got] == ["/push/ana"]
    assert ana.decrypt(service.got[0]["body"])["url"] == "/"
    assert [s["service"] for s in c.get("/api/push/subscriptions").json()] == ["127.0.0.1"]

    service.gone.add("/push/ana")
    assert c.post("/api/push/test", headers=csrf).json() == {"sent": 0}
    with ctx.db.session() as s:
        left = s.scalars(select(PushSubscription.endpoint)).all()
    assert left == [f"{service.origin}/push/bruno"]


def test_subscriptions_are_checked_and_personal(site: tuple[AppContext, PushService]) -> None:
    ctx, service = site
    c = client(ctx)
    csrf = login(c, "ana", PASSWORD)
    good = Browser(f"{service.origin}/push/ana").json
    for bad in (
        {**good, "endpoint": "http://127.0.0.1:9/push"},  # not https: the server posts nowhere else
        {**good, "endpoint": "https://user:pw@127.0.0.1/push"},
        {**good, "keys": {"p256dh": good["keys"]["p256dh"][:40], "auth": good["keys"]["auth"]}},
        {**good, "keys": {"p256dh": good["keys"]["p256dh"], "auth": "!!"}},
    ):
        assert c.post("/api/push/subscriptions", json=bad, headers=csrf).status_code == 422
    assert c.post("/api/push/subscriptions", json=good, headers=csrf).status_code == 201
    viewer = client(ctx)
    vcsrf = login(viewer, "vera", PASSWORD)
    assert viewer.post("/api/push/subscriptions", json=good, headers=vcsrf).status_code == 403
    # the same browser subscribed by bruno later belongs to bruno; ana's unsubscribe then does nothing
    b = client(ctx)
    bcsrf = login(b, "bruno", PASSWORD)
    assert b.post("/api/push/subscriptions", json=good, headers=bcsrf).status_code == 201
    assert (
        c.request(
            "DELETE", "/api/push/subscriptions", json={"endpoint": good["endpoint"]}, headers=csrf
        ).status_code
        == 204
    )
    assert len(b.get("/api/push/subscriptions").json()) == 1
    assert (
        b.request(
            "DELETE", "/api/push/subscriptions", json={"endpoint": good["endpoint"]}, headers=bcsrf
        ).status_code
        == 204
    )
    assert b.get("/api/push/subscriptions").json() == []
