"""Accounts, sessions, API tokens, CSRF and login throttling.

Why this shape:
- Passwords are argon2id hashes (argon2-cffi defaults); there is no default account. The first
  admin comes from ``oversight users add`` or a one-time bootstrap secret printed at first start.
- Browser sessions are random tokens in an HttpOnly, SameSite=Strict cookie; the database keeps
  only their SHA-256, so a leaked database cannot be replayed as cookies.
- Every state-changing request made with a session must carry ``X-CSRF-Token`` equal to the
  session's CSRF token (also sent as a readable cookie for the page's JavaScript).
- ``require_roles(*roles)`` is the only way routes check access; it records the roles on the
  dependency (``.roles``) so the route-role matrix test can read what every route allows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from oversight.store.base import utcnow
from oversight.store.models import ROLES, User
from oversight.web.context import AppContext
from oversight.web.models import ApiToken, WebSession

SESSION_COOKIE = "ov_session"
CSRF_COOKIE = "ov_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL = timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES: tuple[str, ...] = ROLES
FOOTAGE_ROLES: tuple[str, ...] = ("viewer", "operator", "supervisor")  # live video, redacted
PLAYBACK_ROLES: tuple[str, ...] = ("operator", "supervisor")
ALERT_ROLES: tuple[str, ...] = ("operator", "supervisor")
EVENT_READ_ROLES: tuple[str, ...] = ("operator", "supervisor", "auditor")
ADMIN_ROLES: tuple[str, ...] = ("admin",)
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
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


# ---------------------------------------------------------------- users


def create_user(session: Session, username: str, password: str, role: str) -> User:
    import re

    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (one of {', '.join(ROLES)})")
    if not re.match(USERNAME_PATTERN, username):
        raise ValueError("username: 1-64 letters, digits or _ . @ -")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user '{username}' already exists")
    user = User(username=username, password_hash=hash_password(password), role=role, active=True)
    session.add(user)
    session.flush()
    return user


def user_count(session: Session) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def revoke_sessions(session: Session, user: User) -> None:
    """Logout everywhere: sessions created before now stop working, and are deleted."""
    user.sessions_valid_after = utcnow()
    session.query(WebSession).filter(WebSession.user_id == user.id).delete()


# ---------------------------------------------------------------- throttling


class LoginThrottle:
    """Per (username, client IP): after ``free`` failures, wait 2**n seconds (capped) between tries.

    In memory on purpose: one server process serves a site; a restart forgets, which is fine.
    """

    def __init__(self, free: int = 5, cap_s: float = 900.0):
        self.free = free
        self.cap_s = cap_s
        self._lock = threading.Lock()
        self._state: dict[tuple[str, str], tuple[int, float]] = {}

    def retry_after(self, username: str, ip: str) -> float:
        with self._lock:
            fails, until = self._state.get((username.lower(), ip), (0, 0.0))
        return max(0.0, until - time.monotonic())

    def failed(self, username: str, ip: str) -> None:
        key = (username.lower(), ip)
        with self._lock:
            fails, _ = self._state.get(key, (0, 0.0))
            fails += 1
            wait = 0.0 if fails < self.free else min(self.cap_s, 2.0 ** (fails - self.free + 1))
            self._state[key] = (fails, time.monotonic() + wait)
            if len(self._state) > 100_000:  # bound memory under a spray attack
                self._state.pop(next(iter(self._state)))

    def succeeded(self, username: str, ip: str) -> None:
        with self._lock:
            self._state.pop((username.lower(), ip), None)


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same time whether or not the user exists
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


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
    client = getattr(request, "client", None)
    return client.host if client else "unknown"


def _from_token(s: Session, secret: str, touch: bool = True) -> Principal | None:
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == sha256(secret)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if touch and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)):
        row.last_used_at = now
    return Principal(username=f"token:{row.name}", role=row.role, via="token", token_id=row.id)


def _from_session(s: Session, token: str, touch: bool = True) -> tuple[Principal, str] | None:
    row = s.scalar(select(WebSession).where(WebSession.token_hash == sha256(token)))
    now = utcnow()
    if row is None or row.expires_at <= now:
        return None
    user = s.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if user.sessions_valid_after is not None and row.created_at <= user.sessions_valid_after:
        return None
    if touch and now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return Principal(user.username, user.role, "session", user.id, row.id), row.csrf


def _lookup(ctx: AppContext, conn: Any, touch: bool) -> tuple[Principal, str | None] | None:
    auth = conn.headers.get("authorization", "")
    with ctx.db.session() as s:
        if auth.lower().startswith("bearer "):
            by_token = _from_token(s, auth[7:].strip(), touch)
            return (by_token, None) if by_token else None
        token = conn.cookies.get(SESSION_COOKIE)
        return _from_session(s, token, touch) if token else None


def resolve_principal(ctx: AppContext, conn: Any, method: str) -> Principal | None:
    """The principal behind a request or WebSocket, or None. Raises 403 on a failed CSRF check."""
    try:
        found = _lookup(ctx, conn, touch=True)
    except OperationalError:  # a full disk must not stop reads: look again without writing
        found = _lookup(ctx, conn, touch=False)
    if found is None:
        return None
    principal, csrf = found
    if csrf is None:  # an API token: no CSRF
        return replace(principal, ip=client_ip(conn))
    if method not in SAFE_METHODS:
        sent = conn.headers.get(CSRF_HEADER.lower(), "")
        if not sent or not hmac.compare_digest(sent, csrf):
            raise HTTPException(403, "missing or wrong CSRF token (send the X-CSRF-Token header)")
    return replace(principal, ip=client_ip(conn))


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def require_roles(*roles: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: 401 when anonymous, 403 when the role is not in ``roles``.

    The allowed roles are kept on the dependency as ``.roles`` (read by the role-matrix test).
    """
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"require_roles needs known roles, got {roles}")
    allowed = tuple(roles)

    def dependency(request: Request) -> Principal:
        principal = resolve_principal(get_ctx(request), request, request.method)
        if principal is None:
            raise HTTPException(401, "not logged in", headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in allowed:
            raise HTTPException(403, f"role '{principal.role}' may not do this")
        request.state.principal = principal
        return principal

    dependency.roles = allowed  # type: ignore[attr-defined]
    dependency.__name__ = f"require_roles_{'_'.join(allowed)}"
    return dependency


def ensure_bootstrap(ctx: AppContext) -> str | None:
    """When there are no users yet, make a one-time secret for creating the first admin."""
    with ctx.db.session() as s:
        if user_count(s) > 0:
            ctx.bootstrap_secret = None
            return None
    if ctx.bootstrap_secret is None:
        ctx.bootstrap_secret = secrets.token_urlsafe(24)
    return ctx.bootstrap_secret
