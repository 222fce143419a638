"""Web Push (RFC 8030; payload encryption RFC 8291, VAPID RFC 8292) to the app installed on phones:
the installation's VAPID key, which bus messages become notices, who receives them, and the sender.

Invariant: a push payload is a title, a link inside the app and a tag that folds repeats, in the
subscriber's language; never footage, a snapshot, a person's name or a note. Who receives a notice
follows the permission table and the camera scope, as the event socket does: a supervisor who may
not see a camera is not told about it. A subscription the push service calls gone (404/410) is
deleted. Sending is HTTP, so it lives in ``web/``; the bus handler only queues, a thread sends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from oversight import i18n
from oversight.config.schema import SiteConfig
from oversight.events import topics
from oversight.events.bus import EventBus, Message
from oversight.i18n import N_
from oversight.permissions import allowed, camera_scope
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import User
from oversight.web.models import PushSubscription

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
VAPID_FILE = "vapid_p256.pem"
GONE = (404, 410)  # the push service forgot the subscription: the browser unsubscribed or expired


# ------------------------------------------------------------------ the installation's VAPID key


def vapid_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "keys" / VAPID_FILE


def vapid_key(data_dir: str | Path, wait_s: float = 5.0) -> Vapid:
    """The installation's VAPID key pair (P-256), created on first use beside the audit signing
    key, mode 0600. Web nodes starting together: the loser of the creation race reads the winner's."""
    path = vapid_path(data_dir)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if path.exists():
                return Vapid.from_pem(path.read_bytes())
            path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(path.parent, 0o700)
            key = Vapid()
            key.generate_keys()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key.private_pem())
            return key
        except (FileExistsError, ValueError):  # created meanwhile, or not fully written yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def public_key(key: Vapid) -> str:
    """The ``applicationServerKey`` a browser subscribes with: the uncompressed point, base64url."""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(raw)


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


# ------------------------------------------------------------------ which messages become notices


@dataclass(frozen=True)
class Notice:
    """What to tell, to whom: ``title`` is an English msgid with ``values`` (never personal data),
    ``action`` the permission a recipient needs, ``cameras`` all of which they must see."""

    kind: str
    title: str
    url: str
    action: str
    values: dict[str, Any] = field(default_factory=dict)
    cameras: tuple[str, ...] = ()
    exclude: str | None = None  # the user who caused it is not told
    tag: str = ""


def notice_for(msg: Message, cfg: SiteConfig) -> Notice | None:
    """The notice a bus message calls for, or None: a P1 alert opening (or escalated to P1), a new
    P1 incident, a reveal request waiting for a second person."""
    d = msg.data
    if msg.topic == topics.ALERT and d.get("phase") in ("open", "escalate") and d.get("priority") == "P1":
        cam = d.get("camera_id")
        name = next((c.name for c in cfg.cameras if c.id == cam), cam) if cam else None
        return Notice(
            "alert",
            N_("P1 alert: {title} ({camera})") if name else N_("P1 alert: {title}"),
            "/#/alerts",
            "alerts.handle",
            {"title": str(d.get("title") or ""), "camera": name},
            (str(cam),) if cam else (),
            tag=f"alert-{d.get('id')}",
        )
    if msg.topic == topics.INCIDENT and d.get("event") == "incident.created":
        inc = d.get("incident") or {}
        if inc.get("priority") != "P1":
            return None
        cam = inc.get("camera_id")
        return Notice(
            "incident",
            N_("New P1 incident #{id}"),
            f"/#/incidents/{d.get('id')}",
            "incidents.read",
            {"id": d.get("id")},
            (str(cam),) if cam else (),
            tag=f"incident-{d.get('id')}",
        )
    if msg.topic == topics.REVEAL and d.get("event") == "reveal.requested":
        return Notice(
            "reveal",
            N_("Reveal request #{id} is waiting for your approval"),
            "/#/reveals",
            "reveal.approve",
            {"id": d.get("id")},
            tuple(str(c) for c in d.get("camera_ids") or ()),
            exclude=d.get("requested_by"),
            tag=f"reveal-{d.get('id')}",
        )
    return None


def payload(notice: Notice, locale: str | None) -> str:
    """The JSON a subscriber's service worker receives: title, link and tag, in their language."""
    with i18n.use(locale) as tr:
        title = tr.gettext(notice.title, **{k: v for k, v in notice.values.items() if v is not None})
    return json.dumps({"title": title, "url": notice.url, "tag": notice.tag})


def recipients(
    session: Session, cfg: SiteConfig, notice: Notice
) -> list[tuple[PushSubscription, str | None]]:
    """Every subscription whose active user may take ``notice.action`` on all its cameras, with the
    language to write in (the user's choice, else the app's language when they subscribed)."""
    rows = session.execute(
        select(PushSubscription, User).join(User, User.id == PushSubscription.user_id).where(User.active)
    ).all()
    out = []
    for sub, user in rows:
        if user.username == notice.exclude or not allowed(user.role, "push.subscribe"):
            continue
        if not allowed(user.role, notice.action):
            continue
        if camera_scope(cfg, user.role, user.camera_groups or ()).allows_all(notice.cameras):
            out.append((sub, user.locale or sub.locale))
    return out


# ------------------------------------------------------------------ the sender


class PushSender:
    """Encrypts and posts one payload per subscription (pywebpush); forgets gone subscriptions.
    ``http`` is the ``requests.Session`` used (tests pass one that trusts their loopback service)."""

    def __init__(self, db: Database, cfg: SiteConfig, http: requests.Session | None = None):
        self.db, self.cfg = db, cfg
        self.http = http
        self._key: Vapid | None = None

    @property
    def key(self) -> Vapid:
        if self._key is None:
            self._key = vapid_key(self.cfg.site.data_dir)
        return self._key

    def post(self, sub: PushSubscription, data: str) -> int:
        """Send ``data`` to one subscription; the push service's status (0: unreachable)."""
        import requests  # with pywebpush, only when something is sent: the CLI starts faster
        from pywebpush import WebPushException, webpush

        if self.http is None:
            self.http = requests.Session()
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        try:
            r: Any = webpush(
                info,
                data,
                vapid_private_key=self.key,
                vapid_claims={"sub": self.cfg.site.push.contact},
                ttl=self.cfg.site.push.ttl_s,
                timeout=10,
                requests_session=self.http,
            )
            return int(r.status_code)
        except WebPushException as exc:
            return int(exc.status_code or 0)
        except requests.RequestException as exc:
            log.warning("push service unreachable for subscription %s: %s", sub.id, exc)
            return 0

    def deliver(self, notice: Notice, only_user: int | None = None) -> int:
        """Send ``notice`` to its recipients (or to one user's devices); how many accepted it."""
        with self.db.session() as s:
            found = recipients(s, self.cfg, notice)
            targets = [(sub, loc) for sub, loc in found if only_user is None or sub.user_id == only_user]
            s.expunge_all()
        sent, gone = 0, []
        for sub, locale in targets:
            status = self.post(sub, payload(notice, locale))
            if status in GONE:
                gone.append(sub.id)
            elif 200 <= status < 300:
                sent += 1
            else:
                log.warning("push service answered %s for subscription %s", status, sub.id)
        with self.db.session() as s:
            if gone:
                s.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
            if sent:
                delivered = [sub.id for sub, _ in targets if sub.id not in gone]
                for row in s.scalars(select(PushSubscription).where(PushSubscription.id.in_(delivered))):
                    row.last_sent_at = utcnow()
        return sent


class PushNotifier:
    """Listens on the bus for what must reach someone away from the wall and sends it from its own
    thread (a slow push service never holds up a camera thread). Bounded: a flood drops notices."""

    def __init__(self, db: Database, cfg: SiteConfig, bus: EventBus, sender: PushSender | None = None):
        self.cfg, self.bus = cfg, bus
        self.sender = sender or PushSender(db, cfg)
        self.queue: queue.Queue[Notice | None] = queue.Queue(maxsize=200)
        self._unsub: list[Any] = []
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.cfg.site.push.enabled:
            return
        self._unsub = [
            self.bus.subscribe(topics.ALERT, self._on),
            self.bus.subscribe(topics.INCIDENT, self._on),
            self.bus.subscribe(topics.REVEAL, self._on),
        ]
        self._thread = threading.Thread(target=self._run, name="push-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        for unsub in self._unsub:
            unsub()
        self._unsub = []
        if self._thread is not None:
            self.queue.put(None)
            self._thread.join(timeout=15)
            self._thread = None

    def _on(self, msg: Message) -> None:
        notice = notice_for(msg, self.cfg)
        if notice is not None:
            try:
                self.queue.put_nowait(notice)
            except queue.Full:
                log.warning("push queue full: notice %s dropped", notice.tag)

    def _run(self) -> None:
        while (notice := self.queue.get()) is not None:
            try:
                self.sender.deliver(notice)
            except Exception:  # a database blip must not end notifications for good
                log.exception("push notice %s failed", notice.tag)
