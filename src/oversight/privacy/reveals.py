"""Four-eyes reveals: unredacted footage only after a second person with the supervisor role agrees.

An operator (or supervisor) requests cameras + a time window + a reason + an incident/case
reference. A *different* user with the supervisor role approves or denies it. An approved reveal
lets the requester, and only the requester, see exactly those cameras in exactly that window until
``expires_at``. Every step goes into the audit log in the same transaction as the change.

Live and future footage is limited by ``RevealPolicy``: a window may end at most ``ahead`` past
now on one approval (default one hour), up to ``ahead_max`` with two different supervisors, never
further: one signature never buys a week of unredacted live surveillance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.schema import SecuritySettings
from oversight.i18n import N_, Message, TextError, term
from oversight.permissions import roles_for
from oversight.privacy import audit
from oversight.privacy.models import RevealRequest
from oversight.store.base import utcnow

REQUEST_ROLES = roles_for("reveal.request")
APPROVER_ROLES = roles_for("reveal.approve")
DEFAULT_VALID_FOR = timedelta(hours=8)
MAX_VALID_FOR = timedelta(days=7)
MAX_WINDOW = timedelta(days=7)
# a request's status as a word inside messages (translated where read)
WORDS = {
    "pending": N_("pending"),
    "approved": N_("approved"),
    "denied": N_("denied"),
    "revoked": N_("revoked"),
    "expired": N_("expired"),
}


@dataclass(frozen=True)
class RevealPolicy:
    ahead: timedelta = timedelta(hours=1)  # how far past now one approval may reveal
    ahead_max: timedelta = timedelta(hours=24)  # the furthest any reveal may reach past now

    @classmethod
    def from_settings(cls, sec: SecuritySettings) -> RevealPolicy:
        return cls(
            timedelta(minutes=sec.reveal_ahead_minutes), timedelta(minutes=sec.reveal_ahead_max_minutes)
        )

    def approvals_for(self, end: datetime, now: datetime) -> int:
        return 2 if end - now > self.ahead else 1


class RevealError(TextError):
    """A request or decision that the rules forbid; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str | Message, /, status: int = 400, **params: Any):
        super().__init__(message, **params)
        self.status = status


def _check_request(
    role: str,
    camera_ids: list[str],
    start: datetime,
    end: datetime,
    reason: str,
    reference: str,
    known_cameras: set[str] | None,
    policy: RevealPolicy,
    now: datetime,
) -> list[str]:
    """The request's cameras, sorted; a ``RevealError`` saying what is wrong with it otherwise."""
    if role not in REQUEST_ROLES:
        raise RevealError(N_("role '{role}' may not request reveals"), 403, role=role)
    cams = sorted({c.strip() for c in camera_ids if c and c.strip()})
    if not cams:
        raise RevealError(N_("name at least one camera"))
    if known_cameras is not None and (unknown := set(cams) - known_cameras):
        raise RevealError(N_("unknown camera(s): {unknown}"), unknown=", ".join(sorted(unknown)))
    if start.tzinfo is None or end.tzinfo is None:
        raise RevealError(N_("start and end need a time zone (UTC ISO-8601)"))
    if end <= start:
        raise RevealError(N_("end must be after start"))
    if end - start > MAX_WINDOW:
        raise RevealError(N_("a reveal window may be at most {days} days"), days=MAX_WINDOW.days)
    if end - now > policy.ahead_max:
        raise RevealError(
            N_(
                "a reveal may reach at most {most} past now "
                "({single} on one approval, more needs two supervisors)"
            ),
            most=_human(policy.ahead_max),
            single=_human(policy.ahead),
        )
    if len((reason or "").strip()) < 10:
        raise RevealError(N_("give a reason of at least 10 characters"))
    if not (reference or "").strip():
        raise RevealError(N_("give the incident or case reference"))
    return cams


def request_reveal(
    session: Session,
    requester: str,
    role: str,
    camera_ids: list[str],
    start: datetime,
    end: datetime,
    reason: str,
    reference: str,
    source: str | None = None,
    known_cameras: set[str] | None = None,
    policy: RevealPolicy | None = None,
    now: datetime | None = None,
) -> RevealRequest:
    policy, now = policy or RevealPolicy(), now or utcnow()
    cams = _check_request(role, camera_ids, start, end, reason, reference, known_cameras, policy, now)
    r = RevealRequest(
        requested_by=requester,
        camera_ids=cams,
        start=start,
        end=end,
        reason=reason.strip(),
        reference=reference.strip(),
        status="pending",
        created_at=now,
        approvals_needed=policy.approvals_for(end, now),
    )
    session.add(r)
    session.flush()
    audit.record(
        session,
        requester,
        "reveal.request",
        "reveal",
        r.id,
        purpose=r.reason,
        source=source,
        role=role,
        detail=reveal_dict(r),
    )
    return r


def _decidable(
    session: Session,
    reveal_id: int,
    approver: str,
    role: str,
    approve: bool,
    valid_for: timedelta,
    policy: RevealPolicy,
    now: datetime,
) -> RevealRequest:
    """The request, locked, when ``approver`` may decide it now; a ``RevealError`` otherwise."""
    r = session.get(RevealRequest, reveal_id, with_for_update=True)
    if r is None:
        raise RevealError(N_("no reveal request {reveal_id}"), 404, reveal_id=reveal_id)
    if role not in APPROVER_ROLES:
        raise RevealError(N_("only a supervisor may approve or deny a reveal"), 403)
    if approver == r.requested_by:
        raise RevealError(N_("the requester cannot decide their own reveal request (four-eyes rule)"), 403)
    if r.status != "pending":
        raise RevealError(
            N_("reveal {reveal_id} is already {state}"), 409, reveal_id=reveal_id, state=term(r.status, WORDS)
        )
    if approve and not (timedelta(0) < valid_for <= MAX_VALID_FOR):
        raise RevealError(N_("validity must be between 0 and {days} days"), days=MAX_VALID_FOR.days)
    if approve and r.end - now > policy.ahead_max:
        raise RevealError(
            N_("the window now reaches more than {most} past now"), 409, most=_human(policy.ahead_max)
        )
    return r


def decide(
    session: Session,
    reveal_id: int,
    approver: str,
    role: str,
    approve: bool,
    note: str | None = None,
    valid_for: timedelta = DEFAULT_VALID_FOR,
    source: str | None = None,
    now: datetime | None = None,
    policy: RevealPolicy | None = None,
) -> RevealRequest:
    """Approve or deny. Raises RevealError for self-approval, wrong role or a decided request.

    A request that needs two approvals stays pending after the first; the second must come from
    yet another supervisor.
    """
    now, policy = now or utcnow(), policy or RevealPolicy()
    r = _decidable(session, reveal_id, approver, role, approve, valid_for, policy, now)
    needed = max(int(r.approvals_needed or 1), policy.approvals_for(r.end, now))
    if approve and needed > 1 and approver == r.first_approved_by:
        raise RevealError(
            N_("this reveal reaches far into the future: a second, different supervisor must approve"), 403
        )
    if approve and needed > 1 and r.first_approved_by is None:
        r.approvals_needed, r.first_approved_by, r.first_approved_at = needed, approver, now
        session.flush()
        audit.record(
            session,
            approver,
            "reveal.approve_first",
            "reveal",
            r.id,
            purpose=note or r.reason,
            source=source,
            role=role,
            detail=reveal_dict(r, now),
        )
        return r
    r.status = "approved" if approve else "denied"
    r.decided_by = approver
    r.decided_at = now
    r.decision_note = note
    r.expires_at = now + valid_for if approve else None
    session.flush()
    audit.record(
        session,
        approver,
        f"reveal.{'approve' if approve else 'deny'}",
        "reveal",
        r.id,
        purpose=note or r.reason,
        source=source,
        role=role,
        detail=reveal_dict(r),
    )
    return r


def revoke(session: Session, reveal_id: int, by: str, role: str, source: str | None = None) -> RevealRequest:
    r = session.get(RevealRequest, reveal_id)
    if r is None:
        raise RevealError(N_("no reveal request {reveal_id}"), 404, reveal_id=reveal_id)
    if by != r.requested_by and role not in APPROVER_ROLES:
        raise RevealError(N_("only the requester or a supervisor may revoke a reveal"), 403)
    if r.status not in ("pending", "approved"):
        raise RevealError(
            N_("reveal {reveal_id} is already {state}"), 409, reveal_id=reveal_id, state=term(r.status, WORDS)
        )
    r.status = "revoked"
    r.expires_at = min(r.expires_at, utcnow()) if r.expires_at else None
    session.flush()
    audit.record(
        session, by, "reveal.revoke", "reveal", r.id, source=source, role=role, detail=reveal_dict(r)
    )
    return r


def active_reveals(session: Session, username: str, now: datetime | None = None) -> list[RevealRequest]:
    now = now or utcnow()
    q = select(RevealRequest).where(
        RevealRequest.requested_by == username,
        RevealRequest.status == "approved",
        RevealRequest.expires_at > now,
    )
    return list(session.execute(q).scalars())


def covering_reveal(
    session: Session,
    username: str,
    camera_id: str,
    start: datetime,
    end: datetime | None = None,
    now: datetime | None = None,
) -> RevealRequest | None:
    """The approved, unexpired reveal of ``username`` that covers ``camera_id`` over all of [start, end]."""
    end = end or start
    for r in active_reveals(session, username, now):
        if camera_id in (r.camera_ids or []) and r.start <= start and end <= r.end:
            return r
    return None


def is_revealed(
    session: Session, username: str, camera_id: str, ts: datetime, now: datetime | None = None
) -> RevealRequest | None:
    """The reveal that lets ``username`` see ``camera_id`` unredacted at footage time ``ts``, or None."""
    return covering_reveal(session, username, camera_id, ts, ts, now)


def reveal_dict(r: RevealRequest, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    status = r.status
    if status == "approved" and r.expires_at is not None and r.expires_at <= now:
        status = "expired"
    return {
        "id": r.id,
        "requested_by": r.requested_by,
        "camera_ids": list(r.camera_ids or []),
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "reason": r.reason,
        "reference": r.reference,
        "status": status,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
        "decision_note": r.decision_note,
        "expires_at": r.expires_at.isoformat() if r.expires_at else None,
        "approvals_needed": int(r.approvals_needed or 1),
        "first_approved_by": r.first_approved_by,
    }


def _human(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes} min"


def list_reveals(
    session: Session, status: str | None = None, username: str | None = None, limit: int = 200
) -> list[RevealRequest]:
    q = select(RevealRequest).order_by(RevealRequest.id.desc()).limit(limit)
    if status:
        q = q.where(RevealRequest.status == status)
    if username:
        q = q.where(RevealRequest.requested_by == username)
    return list(session.execute(q).scalars())
