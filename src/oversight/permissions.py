"""Who may do what, and on which cameras: the one table of actions and the roles allowed each,
and the one decision of which cameras a person's actions reach (``camera_scope``).

Routes and WebSockets (``web.auth.require``), the UI (the ``permissions`` of ``/api/auth/me``), the
privacy checks and the CLI all consult ``PERMISSIONS``; no other module lists roles per action.
Invariant: every action names at least one role, and only roles of ``store.models.ROLES``.
A person's actions apply only to the cameras of their ``CameraScope``: every camera when no camera
groups are configured (or for admins, who edit the groups), otherwise the cameras of the groups
granted to them or their role, plus the cameras in no group unless ``ungrouped_cameras: nobody``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from oversight.config.schema import SiteConfig
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
    "ptz.control": ("operator", "supervisor"),  # steer PTZ cameras, go to and save presets (audited)
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
    "units.manage": ("supervisor", "admin"),  # the roster: create, edit, retire units; stations
    "units.shift": ("operator", "supervisor", "admin"),  # start and end a unit's shift
    "addresses.search": ("operator", "supervisor", "admin"),  # the gazetteer, at call intake
    "holds.read": ("operator", "supervisor", "auditor", "admin"),  # evidence holds and their expiry
    "holds.renew": ("supervisor",),
    "holds.release": ("supervisor",),  # release a closed incident's evidence holds, with a reason
    # the operator console: saved views (shared ones by a supervisor) and bookmarks on footage
    "views.use": ("viewer", "operator", "supervisor"),
    "views.share": ("supervisor",),
    "bookmarks.read": ("operator", "supervisor", "auditor"),
    "bookmarks.create": ("operator", "supervisor"),  # also: attach one to an incident as evidence
    "recording.manual": ("operator", "supervisor"),  # "record this now" on an events-only camera
    # Web Push to a phone: P1 alerts, new P1 incidents, reveals waiting (web.push decides who gets what)
    "push.subscribe": ("operator", "supervisor"),
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


# roles that see every camera whatever the groups: they configure cameras and groups
UNSCOPED_ROLES: tuple[str, ...] = ("admin",)


@dataclass(frozen=True)
class CameraScope:
    """The cameras a principal's actions reach; ``cameras=None`` means every camera."""

    cameras: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.cameras is None

    def allows(self, camera_id: str | None) -> bool:
        """Whether ``camera_id`` is in scope; ``None`` (a server-wide alert, no camera) always is."""
        return camera_id is None or self.cameras is None or camera_id in self.cameras

    def allows_all(self, camera_ids: Iterable[str]) -> bool:
        return all(self.allows(c) for c in camera_ids)

    def filter(self, camera_ids: Iterable[str]) -> list[str]:
        return [c for c in camera_ids if self.allows(c)]


ALL_CAMERAS = CameraScope()


def camera_scope(cfg: SiteConfig, role: str, groups: Iterable[str] = ()) -> CameraScope:
    """The one decision of which cameras ``role`` holding ``groups`` (granted to the account) reaches."""
    if not cfg.camera_groups or role in UNSCOPED_ROLES:
        return ALL_CAMERAS
    granted = set(groups)
    seen: set[str] = set()
    grouped: set[str] = set()
    for group in cfg.camera_groups:
        grouped.update(group.cameras)
        if group.id in granted or role in group.roles:
            seen.update(group.cameras)
    if cfg.site.security.ungrouped_cameras == "everyone":
        seen.update(c.id for c in cfg.cameras if c.id not in grouped)
    return CameraScope(frozenset(seen))


def _check() -> None:
    for action, roles in PERMISSIONS.items():
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"permission {action!r} names unknown or no roles: {roles}")


_check()
