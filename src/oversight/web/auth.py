"""Accounts, sessions, API tokens, CSRF and login throttling.

Why this shape:
- Passwords are argon2id hashes (argon2-cffi defaults); there is no default account. The first
  admin comes from ``oversight users add`` or a one-time bootstrap secret printed at first start.
- Browser sessions are random tokens in an HttpOnly, SameSite=Strict cookie; the database keeps
  only their SHA-256, so a leaked database cannot be replayed as cookies.
- Every state-changing request made with a session must carry ``X-CSRF-Token`` equal to the
  session's CSRF token (also sent as a readable cookie for the page's JavaScript).
- ``require(action)`` is the only way routes check access: the roles come from the permission
  table (``oversight.permissions``); the dependency keeps ``.permission`` and ``.roles`` so the
  route-role matrix test can read what every route allows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from oversight.i18n import N_, InvalidValue
from oversight.permissions import ALL_CAMERAS, CameraScope, camera_scope, roles_for
from oversight.store.base import utcnow
from oversight.store.db import Database
from oversight.store.models import ROLES, User
from oversight.web.context import AppContext
from oversight.web.errors import http_error
from oversight.web.models import ApiToken, EndedSession, WebSession
from oversight.web.throttle import HashGate as HashGate
from oversight.web.throttle import LoginThrottle as LoginThrottle
from oversight.web.throttle import client_address

SESSION_COOKIE = "ov_session"
CSRF_COOKIE = "ov_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = timedelta(hours=12)  # the default maximum life (site.security.session_max_hours)
SESSION_IDLE = timedelta(minutes=30)  # the default idle lock (site.security.session_idle_minutes)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Role sets read from the permission table, for the WebSocket code that checks roles itself.
ALL_ROLES: tuple[str, ...] = ROLES
FOOTAGE_ROLES: tuple[str, ...] = roles_for("footage.live")  # live video, redacted
PLAYBACK_ROLES: tuple[str, ...] = roles_for("footage.view")
ALERT_ROLES: tuple[str, ...] = roles_for("alerts.handle")
EVENT_READ_ROLES: tuple[str, ...] = roles_for("events.read")
ADMIN_ROLES: tuple[str, ...] = roles_for("users.manage")
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(N_("password must be at least {least} characters"), least=MIN_PASSWORD)
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user via a browser session, or an integration via an API token."""

    username: str
    role: str
    via: str = "session"  # "session" | "token"
    user_id: int | None = None
    session_id: int | None = None
    token_id: int | None = None
    ip: str | None = None  # where the request came from, for the audit log
    groups: tuple[str, ...] = ()  # camera groups granted to the account (site.camera_groups)
    scope: CameraScope = ALL_CAMERAS  # the cameras this principal reaches (resolve_principal sets it)

    def sees(self, camera_id: str | None) -> bool:
        """Whether this principal's actions reach ``camera_id`` (``permissions.camera_scope``)."""
        return self.scope.allows(camera_id)


# ---------------------------------------------------------------- users


def create_user(session: Session, username: str, password: str, role: str) -> User:
    import re

    if role not in ROLES:
        raise InvalidValue(
            N_("unknown role '{role}' (one of {choices})"), role=role, choices=", ".join(ROLES)
        )
    if not re.match(USERNAME_PATTERN, username):
        raise InvalidValue(N_("username: 1-64 letters, digits or _ . @ -"))
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise InvalidValue(N_("user '{username}' already exists"), username=username)
    user = User(username=username, password_hash=hash_password(password), role=role, active=True)
    session.add(user)
    session.flush()
    return user


def user_count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(User)) or 0)


# Why an administrator ended a session, as the login page says it (once, after the bounce).
END_REASONS: dict[str, str] = {
    "disabled": N_("An administrator disabled your account."),
    "role_changed": N_("An administrator changed your role. Log in again to continue with your new rights."),
    "password_reset": N_("An administrator reset your password."),
    "second_factor_reset": N_("An administrator reset your second factor. Log in to set it up again."),
    "revoked": N_("An administrator ended your sessions on every device."),
}
ENDED_KEEP = timedelta(days=7)  # a browser not opened for a week is not told why


def revoke_sessions(session: Session, user: User, reason: str | None = None, by: str = "") -> None:
    """Logout everywhere: sessions created before now stop working, and are deleted. ``reason``
    (a key of ``END_REASONS``): an administrator ended them, and each leaves an ``EndedSession``
    tombstone so the login page can say why."""
    now = utcnow()
    user.sessions_valid_after = now
    if reason is not None:
        if reason not in END_REASONS:
            raise ValueError(f"unknown reason for ending sessions: {reason}")
        session.execute(delete(EndedSession).where(EndedSession.ended_at < now - ENDED_KEEP))
        hashes = session.scalars(select(WebSession.token_hash).where(WebSession.user_id == user.id))
        for token_hash in list(hashes):
            session.add(
                EndedSession(
                    token_hash=token_hash,
                    user_id=user.id,
                    username=user.username,
                    reason=reason,
                    ended_by=by[:64],
                    ended_at=now,
                )  # fmt: skip
            )
    session.query(WebSession).filter(WebSession.user_id == user.id).delete()


def take_end_notice(session: Session, token: str) -> EndedSession | None:
    """The tombstone of this browser's session if an administrator ended it and the browser has
    not been told yet; marks it told (the notice shows once)."""
    row = session.scalar(
        select(EndedSession).where(EndedSession.token_hash == sha256(token), EndedSession.shown_at.is_(None))
    )
    if row is not None:
        row.shown_at = utcnow()
    return row


# ---------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Account:
    """What a successful password check returns: enough to start a session, no ORM object."""

    id: int
    username: str
    role: str


def find_user(session: Session, username: str) -> User | None:
    """The account a login name means: exact match, else the one match ignoring case and spaces."""
    name = username.strip()
    user = session.scalar(select(User).where(User.username == name))
    if user is not None:
        return user
    matches = list(session.scalars(select(User).where(func.lower(User.username) == name.casefold())))
    return matches[0] if len(matches) == 1 else None


def check_credentials(db: Database, username: str, password: str, gate: HashGate) -> Account | None:
    """Check a password without holding a database session across the (slow) argon2 hash.

    Raises ``throttle.Busy`` when too many checks are already running or waiting.
    """
    with gate.slot():  # admitted first: a refused burst costs no database connection either
        with db.session() as s:
            user = find_user(s, username)
            found = (user.id, user.username, user.role, user.active, user.password_hash) if user else None
        ok = verify_password(found[4] if found else _DUMMY_HASH, password)  # same time either way
        if found is None or not ok or not found[3]:
            return None
        if not _hasher.check_needs_rehash(found[4]):
            return Account(found[0], found[1], found[2])
        new_hash = _hasher.hash(password)
    with db.session() as s:
        row = s.get(User, found[0])
        if row is not None and row.password_hash == found[4]:
            row.password_hash = new_hash
    return Account(found[0], found[1], found[2])


# ---------------------------------------------------------------- sessions


def start_session(session: Session, user: User, ip: str, user_agent: str) -> tuple[str, str]:
    """Create a session; returns (cookie token, csrf token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = utcnow()
    session.add(
        WebSession(
            token_hash=sha256(token),
            user_id=user.id,
            csrf=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_TTL,
            ip=ip[:64],
            user_agent=user_agent[:255],
        )
    )
    return token, csrf


def end_session(session: Session, token: str) -> None:
    session.query(WebSession).filter(WebSession.token_hash == sha256(token)).delete()


def create_api_token(session: Session, name: str, role: str, created_by: str) -> tuple[ApiToken, str]:
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}'")
    secret = "ovt_" + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=sha256(secret), role=role, created_by=created_by)
    session.add(row)
    session.flush()
    return row, secret


def client_ip(request: Any) -> str:
    """The client's address; X-Forwarded-For counts only from a configured trusted proxy."""
    client = getattr(request, "client", None)
    app = getattr(request, "app", None)
    ctx = getattr(getattr(app, "state", None), "ctx", None)
    trusted = ctx.cfg.site.security.trusted_proxies if isinstance(ctx, AppContext) else []
    return client_address(client.host if client else None, request.headers.get("x-forwarded-for"), trusted)


def _from_token(s: Session, secret: str, touch: bool = True) -> Principal | None:
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == sha256(secret)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if touch and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)):
        row.last_used_at = now
    return Principal(username=f"token:{row.name}", role=row.role, via="token", token_id=row.id)


def _from_session(
    s: Session,
    token: str,
    idle: timedelta = SESSION_IDLE,
    max_age: timedelta = SESSION_TTL,
    ip: str = "",
    touch: bool = True,
) -> tuple[Principal, str] | None:
    """A session slides with use; unused for ``idle`` it locks, and it never outlives ``max_age``.
    Either end is audited (``auth.session_expired``) and the row deleted, unless ``touch`` is off
    (a full disk: look without writing)."""
    row = s.scalar(select(WebSession).where(WebSession.token_hash == sha256(token)))
    now = utcnow()
    if row is None:
        return None
    user = s.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if user.sessions_valid_after is not None and row.created_at <= user.sessions_valid_after:
        return None
    reason = (
        "max_age"
        if row.expires_at <= now or now - row.created_at >= max_age
        else "idle"
        if now - row.last_seen_at >= idle
        else None
    )
    if reason is not None:
        if touch:
            _expire(s, row, user, reason, ip)
        return None
    if touch and now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    groups = tuple(user.camera_groups or ())
    return Principal(user.username, user.role, "session", user.id, row.id, groups=groups), row.csrf


def _expire(s: Session, row: WebSession, user: User, reason: str, ip: str) -> None:
    from oversight.web.audit import audit

    who = Principal(user.username, user.role, "session", user.id, row.id, ip=ip or None)
    detail = {
        "reason": reason,
        "created_at": row.created_at.isoformat(),
        "last_seen_at": row.last_seen_at.isoformat(),
    }
    audit(s, who, "auth.session_expired", "session", row.id, detail=detail)
    s.delete(row)


def session_limits(ctx: AppContext) -> tuple[timedelta, timedelta]:
    sec = ctx.cfg.site.security
    return timedelta(minutes=sec.session_idle_minutes), timedelta(hours=sec.session_max_hours)


def _lookup(ctx: AppContext, conn: Any, touch: bool) -> tuple[Principal, str | None] | None:
    auth = conn.headers.get("authorization", "")
    with ctx.db.session() as s:
        if auth.lower().startswith("bearer "):
            by_token = _from_token(s, auth[7:].strip(), touch)
            return (by_token, None) if by_token else None
        token = conn.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return _from_session(s, token, *session_limits(ctx), ip=client_ip(conn), touch=touch)


def resolve_principal(ctx: AppContext, conn: Any, method: str) -> Principal | None:
    """The principal behind a request or WebSocket, or None. Raises 403 on a failed CSRF check."""
    try:
        found = _lookup(ctx, conn, touch=True)
    except OperationalError:  # a full disk must not stop reads: look again without writing
        found = _lookup(ctx, conn, touch=False)
    if found is None:
        return None
    principal, csrf = found
    if csrf is not None and method not in SAFE_METHODS:  # an API token needs no CSRF
        sent = conn.headers.get(CSRF_HEADER.lower(), "")
        if not sent or not hmac.compare_digest(sent, csrf):
            raise http_error(403, N_("missing or wrong CSRF token (send the X-CSRF-Token header)"))
    scope = camera_scope(ctx.cfg, principal.role, principal.groups)
    return replace(principal, ip=client_ip(conn), scope=scope)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def require(action: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: 401 when anonymous, 403 when the role may not take ``action``.

    The roles come from ``oversight.permissions.PERMISSIONS``; the dependency keeps ``.permission``
    and ``.roles`` (read by the route-role matrix test).
    """
    dependency = _role_check(roles_for(action), f"require_{action.replace('.', '_')}")
    dependency.permission = action  # type: ignore[attr-defined]
    return dependency


def require_roles(*roles: str) -> Callable[[Request], Principal]:
    """A role check without an action, for routes not yet moved to ``require(action)``; the
    route-role matrix test names every route that still uses it."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"require_roles needs known roles, got {roles}")
    return _role_check(tuple(roles), f"require_roles_{'_'.join(roles)}")


def _role_check(allowed: tuple[str, ...], name: str) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = resolve_principal(get_ctx(request), request, request.method)
        if principal is None:
            raise http_error(401, N_("not logged in"), headers={"WWW-Authenticate": "Bearer"})
        request.state.principal = principal  # known before any refusal: errors answer in the user's language
        if principal.role not in allowed:
            raise http_error(403, N_("role '{role}' may not do this"), role=principal.role)
        camera_id = request.path_params.get("camera_id")
        if camera_id is not None and not principal.sees(camera_id):
            raise not_found_camera(camera_id)  # every /cameras/{camera_id}/... route, by construction
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]
    dependency.__name__ = name
    return dependency


def not_found_camera(camera_id: str) -> HTTPException:
    """What a principal gets for a camera outside their scope: the same 404 as for no camera at
    all, so the answer does not tell which cameras exist elsewhere."""
    return http_error(404, N_("no camera '{camera_id}'"), camera_id=camera_id)


def check_cameras(who: Principal, camera_ids: Any) -> None:
    """A 404 unless every one of ``camera_ids`` is in ``who``'s scope (bodies and query lists)."""
    for cid in camera_ids:
        if not who.sees(cid):
            raise not_found_camera(cid)


def scoped_cameras(who: Principal, requested: list[str] | None) -> list[str] | None:
    """The camera filter a list query should apply: ``None`` for none at all (every camera is in
    scope and none was asked for), else the asked-for cameras in scope (all in scope when none was
    asked for). An empty list means the answer is empty; never pass it on as "no filter"."""
    if who.scope.cameras is None:
        return requested
    return who.scope.filter(requested) if requested else sorted(who.scope.cameras)


def ensure_bootstrap(ctx: AppContext) -> str | None:
    """When there are no users yet, make a one-time secret for creating the first admin."""
    with ctx.db.session() as s:
        if user_count(s) > 0:
            ctx.bootstrap_secret = None
            return None
    if ctx.bootstrap_secret is None:
        ctx.bootstrap_secret = secrets.token_urlsafe(24)
    return ctx.bootstrap_secret
