"""Subject access requests: a person's request for their own footage, from intake to answer.

Invariants: the system never identifies anyone. A privacy officer records the request (a contact
to answer, the window and cameras, how the requester described themselves, the jurisdiction that
sets the deadline, and how identity was checked outside the system); an operator marks the
requester by clicking them in a frame of one camera; ``follow`` then follows that one region
through the camera's stored privacy track (``privacy.track``) by overlap, and only within that
camera's footage: it never crosses cameras, and it never searches by face. The answer is the
signed evidence export (``privacy.export``) with everyone but the marked person redacted, its
manifest naming the request; or a refusal with a reason. Deadlines raise reminders (an alert) when
due soon and when overdue. Contacts and descriptions are personal data: only counts and response
times ever leave this module for reports.
"""

from __future__ import annotations

import logging
import statistics
import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oversight.config.schema import SiteConfig
from oversight.i18n import N_, Message, TextError, term
from oversight.privacy import audit
from oversight.privacy.models import SubjectAccessRequest, SubjectMark
from oversight.privacy.track import Box, Sample, read_track
from oversight.store.base import utcnow
from oversight.store.db import Database

log = logging.getLogger(__name__)

# jurisdiction -> (the law and article, days to answer; 0 days means one calendar month)
JURISDICTIONS: dict[str, tuple[str, int]] = {
    "gdpr": (N_("EU GDPR Art. 12(3) and 15: within one month of receipt"), 0),
    "ar": (N_("Argentina, Ley 25.326 art. 14 inc. 2: within ten calendar days"), 10),
    "ec": (N_("Ecuador, LOPDP art. 13: within fifteen (15) days"), 15),
}
DUE_SOON = timedelta(days=3)  # a reminder this long before the deadline
MAX_WINDOW = timedelta(hours=24)  # one request covers at most a day of footage
WORDS = {
    "open": N_("open"),
    "answered": N_("answered"),
    "refused": N_("refused"),
}  # statuses as words in messages
FOLLOW_GAP_S = 2.0  # the followed region is lost after this long without a matching sample
CLICK_REACH = 0.15  # a click this far (normalised) from a region still picks it


class SarError(TextError):
    def __init__(self, message: str | Message, /, status: int = 400, **params: Any):
        super().__init__(message, **params)
        self.message, self.status = str(self.text), status


def deadline(jurisdiction: str, received_at: datetime) -> datetime:
    """When the answer is due: calendar days, or one calendar month (the same day next month, the
    month's last day when it has no such day) for the GDPR."""
    if jurisdiction not in JURISDICTIONS:
        raise SarError(
            N_("unknown jurisdiction {jurisdiction!r}; one of {choices}"),
            jurisdiction=jurisdiction,
            choices=", ".join(JURISDICTIONS),
        )
    days = JURISDICTIONS[jurisdiction][1]
    if days:
        return received_at + timedelta(days=days)
    y, m = (received_at.year, received_at.month + 1) if received_at.month < 12 else (received_at.year + 1, 1)
    for day in (received_at.day, 30, 29, 28):
        try:
            return received_at.replace(year=y, month=m, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _text(body: dict[str, Any], key: str, least: int, most: int = 2000) -> str:
    v = str(body.get(key) or "").strip()
    if len(v) < least or len(v) > most:
        raise SarError(N_("{key}: give {least}–{most} characters"), key=key, least=least, most=most)
    return v


def _when(body: dict[str, Any], key: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(body.get(key)))
    except ValueError:
        raise SarError(N_("{key}: give an ISO-8601 time with its UTC offset"), key=key) from None
    if t.tzinfo is None:
        raise SarError(N_("{key}: give an ISO-8601 time with its UTC offset"), key=key)
    return t.astimezone(UTC)


def record_request(
    s: Session, cfg: SiteConfig, actor: str, role: str, body: dict[str, Any], now: datetime | None = None
) -> SubjectAccessRequest:
    """Intake: check the request and store it with its deadline. Audited (without the contact)."""
    cams = sorted({str(c) for c in body.get("camera_ids") or []})
    known = {c.id for c in cfg.cameras}
    if not cams or set(cams) - known:
        raise SarError(
            N_("unknown camera(s): {cameras}"), 404, cameras=", ".join(sorted(set(cams) - known)) or "(none)"
        )
    start, end = _when(body, "start"), _when(body, "end")
    if not start < end or end - start > MAX_WINDOW:
        raise SarError(N_("give a window whose start is before its end, at most 24 hours long"))
    received = _when(body, "received_at") if body.get("received_at") else (now or utcnow())
    jurisdiction = str(body.get("jurisdiction") or "")
    r = SubjectAccessRequest(
        received_at=received,
        recorded_by=actor,
        contact=_text(body, "contact", 3, 500),
        camera_ids=cams,
        start=start,
        end=end,
        places=_text(body, "places", 0, 1000),
        description=_text(body, "description", 0, 2000),
        jurisdiction=jurisdiction,
        deadline_at=deadline(jurisdiction, received),
        identity_check=_text(body, "identity_check", 10, 1000),
        status="open",
    )
    s.add(r)
    s.flush()
    detail = {"cameras": cams, "jurisdiction": jurisdiction, "deadline": r.deadline_at.isoformat()}
    audit.record(s, actor, "sar.record", "sar", r.id, role=role, detail=detail)
    return r


def get_open(s: Session, request_id: int) -> SubjectAccessRequest:
    r = s.get(SubjectAccessRequest, request_id)
    if r is None:
        raise SarError(N_("no such request"), 404)
    if r.status != "open":
        raise SarError(N_("the request is {state}"), 409, state=term(r.status, WORDS))
    return r


def add_mark(
    s: Session, request_id: int, actor: str, role: str, camera_id: str, ts: datetime, x: float, y: float
) -> SubjectMark:
    """The operator's click on the requester: one camera, one moment inside the request's window."""
    r = get_open(s, request_id)
    if camera_id not in r.camera_ids:
        raise SarError(N_("that camera is not part of the request"))
    if not (r.start <= ts.astimezone(UTC) <= r.end):
        raise SarError(N_("that moment is outside the request's window"))
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise SarError(N_("x and y are fractions of the picture (0..1)"))
    m = SubjectMark(
        request_id=r.id, camera_id=camera_id, ts=ts, x=x, y=y, marked_by=actor, marked_at=utcnow()
    )
    s.add(m)
    s.flush()
    detail = {"camera_id": camera_id, "ts": ts.isoformat(), "x": round(x, 4), "y": round(y, 4)}
    audit.record(s, actor, "sar.mark", "sar", r.id, role=role, detail=detail)
    return m


def refuse(s: Session, request_id: int, actor: str, role: str, reason: str) -> SubjectAccessRequest:
    """Close the request without footage, with the reason the requester is given."""
    r = get_open(s, request_id)
    reason = reason.strip()
    if len(reason) < 10:
        raise SarError(N_("give the reason for the refusal (at least 10 characters)"))
    r.status, r.closed_by, r.closed_at, r.refusal_reason = "refused", actor, utcnow(), reason
    audit.record(s, actor, "sar.refuse", "sar", r.id, role=role, purpose=reason)
    return r


def answer(s: Session, request_id: int, actor: str, role: str, export_id: int) -> SubjectAccessRequest:
    r = get_open(s, request_id)
    r.status, r.closed_by, r.closed_at, r.export_id = "answered", actor, utcnow(), export_id
    audit.record(s, actor, "sar.answer", "sar", r.id, role=role, detail={"export_id": export_id})
    return r


def request_dict(r: SubjectAccessRequest, marks: Sequence[SubjectMark] = ()) -> dict[str, Any]:
    """For the privacy officer's and operators' pages (never for the public)."""
    return {
        "id": r.id,
        "received_at": r.received_at.isoformat(),
        "recorded_by": r.recorded_by,
        "contact": r.contact,
        "camera_ids": r.camera_ids,
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "places": r.places,
        "description": r.description,
        "jurisdiction": r.jurisdiction,
        "law": JURISDICTIONS.get(r.jurisdiction, ("", 0))[0],
        "deadline_at": r.deadline_at.isoformat(),
        "identity_check": r.identity_check,
        "status": r.status,
        "closed_by": r.closed_by,
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "refusal_reason": r.refusal_reason,
        "export_id": r.export_id,
        "marks": [
            {
                "id": m.id,
                "camera_id": m.camera_id,
                "ts": m.ts.isoformat(),
                "x": m.x,
                "y": m.y,
                "by": m.marked_by,
            }
            for m in marks
        ],
    }


# ------------------------------------------------------------------ following the marked person


def _distance(box: Box, x: float, y: float) -> float:
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return float((dx * dx + dy * dy) ** 0.5)


def _centre(b: Box) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _next_box(prev: Box, boxes: Sequence[Box]) -> Box | None:
    """The region in the next sample that continues ``prev``: the nearest centre within about one
    region size (people move a little between samples); None when nobody is that close."""
    cx, cy = _centre(prev)
    reach = max(prev[2] - prev[0], prev[3] - prev[1]) * 1.2
    best = min(boxes, key=lambda b: (_centre(b)[0] - cx) ** 2 + (_centre(b)[1] - cy) ** 2, default=None)
    if best is None:
        return None
    bx, by = _centre(best)
    return best if ((bx - cx) ** 2 + (by - cy) ** 2) ** 0.5 <= reach else None


def _walk(samples: Sequence[Sample], seed: Box, order: Sequence[int]) -> list[tuple[float, Box]]:
    out: list[tuple[float, Box]] = []
    prev, last_t = seed, None
    for i in order:
        smp = samples[i]
        if last_t is not None and abs(smp.ts - last_t) > FOLLOW_GAP_S:
            break
        found = _next_box(prev, smp.boxes)
        if found is not None:
            out.append((smp.ts, found))
            prev, last_t = found, smp.ts
        elif last_t is None:
            break
    return out


def follow(samples: Sequence[Sample], ts: float, x: float, y: float) -> list[tuple[float, Box]]:
    """The marked person's region through one camera's samples: the region nearest the click in
    the sample nearest ``ts``, followed forwards and backwards by nearness until it is lost."""
    if not samples:
        raise SarError(N_("no privacy track is stored for that footage; the person cannot be followed"), 409)
    times = [smp.ts for smp in samples]
    i = min(range(len(times)), key=lambda k: abs(times[k] - ts))
    if abs(times[i] - ts) > FOLLOW_GAP_S:
        raise SarError(N_("no privacy track sample near that moment"), 409)
    seed = min(samples[i].boxes, key=lambda b: _distance(b, x, y), default=None)
    if seed is None or _distance(seed, x, y) > CLICK_REACH:
        raise SarError(N_("nobody was found where you clicked; click on the person's head"), 409)
    after = _walk(samples, seed, range(i, len(samples)))
    before = _walk(samples, seed, range(i - 1, -1, -1))
    return sorted(before + after)


def follow_mark(cfg: SiteConfig, camera_id: str, ts: datetime, x: float, y: float) -> list[tuple[float, Box]]:
    """What one click would follow (checked before the mark is kept): a SarError when nobody is
    there or no track is stored. The track is read ten minutes either side of the click."""
    if camera_id not in {c.id for c in cfg.cameras}:
        raise SarError(N_("unknown camera"), 404)
    root = Path(cfg.site.data_dir).expanduser() / "privacy"
    t = ts.timestamp()
    return follow(read_track(root, camera_id, t - 600, t + 600), t, x, y)


@dataclass(frozen=True)
class SubjectTrack:
    """The marked person's region over time in one camera (normalised boxes)."""

    camera_id: str
    points: tuple[tuple[float, Box], ...]
    tolerance: float

    def box(self, ts: float) -> Box | None:
        times = [p[0] for p in self.points]
        i = bisect_left(times, ts)
        near = [p for p in self.points[max(0, i - 1) : i + 1] if abs(p[0] - ts) <= self.tolerance]
        return min(near, key=lambda p: abs(p[0] - ts))[1] if near else None


def subject_tracks(db: Database, cfg: SiteConfig, request_id: int) -> dict[str, SubjectTrack]:
    """Per camera of the request, the union of what each of its marks follows."""
    root = Path(cfg.site.data_dir).expanduser() / "privacy"
    with db.session() as s:
        r = s.get(SubjectAccessRequest, request_id)
        if r is None:
            raise SarError(N_("no such request"), 404)
        marks = list(s.scalars(select(SubjectMark).where(SubjectMark.request_id == request_id)))
        start, end = r.start.timestamp(), r.end.timestamp()
    out: dict[str, list[tuple[float, Box]]] = {}
    for m in marks:
        samples = read_track(root, m.camera_id, start - 1, end + 1)
        out.setdefault(m.camera_id, []).extend(follow(samples, m.ts.timestamp(), m.x, m.y))
    tracks = {}
    for cam, pts in out.items():
        tol = 1.5 / float(cfg.camera(cam).detect.fps)
        tracks[cam] = SubjectTrack(cam, tuple(sorted(set(pts))), tol)
    return tracks


# ------------------------------------------------------------------ deadlines and figures


def due(s: Session, now: datetime) -> tuple[int, int]:
    """(open requests due within ``DUE_SOON``, open requests past their deadline)."""
    open_ = (
        select(func.count()).select_from(SubjectAccessRequest).where(SubjectAccessRequest.status == "open")
    )
    overdue = s.scalar(open_.where(SubjectAccessRequest.deadline_at < now)) or 0
    soon = s.scalar(
        open_.where(
            SubjectAccessRequest.deadline_at >= now, SubjectAccessRequest.deadline_at < now + DUE_SOON
        )
    )
    return int(soon or 0), int(overdue)


def figures(s: Session, start: datetime, end: datetime, now: datetime | None = None) -> dict[str, Any]:
    """Counts and response times of the requests received in [start, end) (for reports)."""
    now = now or utcnow()
    rows = list(
        s.scalars(
            select(SubjectAccessRequest).where(
                SubjectAccessRequest.received_at >= start, SubjectAccessRequest.received_at < end
            )
        )
    )
    closed = [r for r in rows if r.closed_at is not None]
    days = [(r.closed_at - r.received_at).total_seconds() / 86400 for r in closed if r.closed_at]
    return {
        "received": len(rows),
        "answered": sum(r.status == "answered" for r in rows),
        "refused": sum(r.status == "refused" for r in rows),
        "open": sum(r.status == "open" for r in rows),
        "overdue": sum(r.status == "open" and r.deadline_at < now for r in rows),
        "in_time": sum(1 for r in closed if r.closed_at and r.closed_at <= r.deadline_at),
        "median_days": round(statistics.median(days), 1) if days else None,
        "max_days": round(max(days), 1) if days else None,
    }


REMINDER_CODES = {"sar_due": "P3", "sar_overdue": "P2"}


class SarReminders:
    """Raises an alert (through the alert manager's health alerts) while a request is due within
    ``DUE_SOON`` and another while one is overdue; each closes itself when no request is left so."""

    def __init__(self, db: Database, alerts: Any, clock: Any = utcnow):
        self.db, self.alerts, self.clock = db, alerts, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: datetime | None = None) -> tuple[int, int]:
        now = now or self.clock()
        with self.db.session() as s:
            soon, overdue = due(s, now)
        for code, n, words in (
            ("sar_due", soon, N_("{n} subject access request(s) due within 3 days")),
            ("sar_overdue", overdue, N_("{n} subject access request(s) past their legal deadline")),
        ):
            if n:
                self.alerts.raise_health(None, code, Message(words, {"n": n}), REMINDER_CODES[code])
            else:
                self.alerts.clear_health(None, code)
        return soon, overdue

    def start(self, interval_s: float = 300.0) -> None:
        def run() -> None:
            while True:
                try:
                    self.tick()
                except Exception:
                    log.exception("subject access request reminders failed")
                if self._stop.wait(interval_s):
                    return

        self._thread = threading.Thread(target=run, name="sar-reminders", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
