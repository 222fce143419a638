"""Who may do what: the one table of actions and the roles allowed each.

Routes and WebSockets (``web.auth.require``), the UI (the ``permissions`` of ``/api/auth/me``), the
privacy checks and the CLI all consult ``PERMISSIONS``; no other module lists roles per action.
Invariant: every action names at least one role, and only roles of ``store.models.ROLES``.
"""

from __future__ import annotations

from oversight.store.models import ROLES

EVERYONE: tuple[str, ...] = ROLES

PERMISSIONS: dict[str, tuple[str, ...]] = {
    # own account and the site as a whole
    "session.self": EVERYONE,  # who am I, log out, change my password
    "site.view": EVERYONE,  # site, camera list and status, site plan
    "metrics.read": EVERYONE,
    "health.read": EVERYONE,  # cameras receiving, recording, analysing; disk and days left
    "events.stream": EVERYONE,  # the event WebSocket (each topic checked again below)
    # pixels: redacted unless a reveal is approved
    "footage.live": ("viewer", "operator", "supervisor"),
    "footage.view": ("operator", "supervisor"),  # recorded footage: playback, downloads, clips
    # events and alerts
    "events.read": ("operator", "supervisor", "auditor"),
    "alerts.handle": ("operator", "supervisor"),  # acknowledge, escalate
    "reports.alerts": ("operator", "supervisor", "auditor", "admin"),  # false-alarm rates per rule
    # privacy: reveals, exports, audit, reports
    "reveal.request": ("operator", "supervisor"),
    "reveal.approve": ("supervisor",),
    "reveal.read": ("operator", "supervisor", "auditor", "admin"),
    "export.create": ("supervisor",),
    "export.read": ("supervisor", "auditor", "admin"),
    "audit.read": ("auditor", "admin"),
    "reports.read": ("supervisor", "auditor", "admin"),
    # subject access requests: the auditor acts as the privacy officer (records, refuses), an
    # operator marks the requester in footage, a supervisor makes the export (export.create)
    "sar.record": ("supervisor", "auditor"),
    "sar.read": ("operator", "supervisor", "auditor"),
    "sar.mark": ("operator", "supervisor"),
    # emergency response
    "incidents.read": ("operator", "supervisor", "auditor", "admin"),
    "incidents.manage": ("operator", "supervisor", "admin"),
    "units.manage": ("supervisor", "admin"),
    "holds.read": ("operator", "supervisor", "auditor", "admin"),  # evidence holds and their expiry
    "holds.renew": ("supervisor",),
    # administration
    "config.manage": ("admin",),
    "users.manage": ("admin",),
    # separation of duties: a change that could expose people waits for a second person
    "changes.decide": ("admin", "auditor"),
}


def roles_for(action: str) -> tuple[str, ...]:
    """The roles allowed ``action``; a ``KeyError`` for an action not in the table (a typo fails
    at import, not silently at request time)."""
    return PERMISSIONS[action]


def allowed(role: str, action: str) -> bool:
    return role in roles_for(action)


def permissions_of(role: str) -> list[str]:
    """Every action ``role`` may take, sorted (what ``/api/auth/me`` tells the UI)."""
    return sorted(a for a, roles in PERMISSIONS.items() if role in roles)


def _check() -> None:
    for action, roles in PERMISSIONS.items():
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"permission {action!r} names unknown or no roles: {roles}")


_check()
