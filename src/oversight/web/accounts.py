"""Account changes: users, roles, passwords, activation and API tokens, in one place.

The ``/api/users`` and ``/api/tokens`` routes and the ``oversight users`` CLI both call these, so
every change is in the audit log (who, from where, what changed) and none can leave the site
without an active account that may manage users (the last-admin rule). Each function works inside
the caller's session and raises an ``AccountError`` that the caller turns into a 4xx or an exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oversight.i18n import N_, TextError, message_of
from oversight.permissions import roles_for
from oversight.privacy import audit as audit_log
from oversight.privacy.models import RevealRequest
from oversight.store.base import utcnow
from oversight.store.models import ROLES, User
from oversight.web import auth
from oversight.web.models import ApiToken


class AccountError(TextError, ValueError):
    status = 400


class NotFound(AccountError):
    status = 404


class Conflict(AccountError):
    status = 409


@dataclass(frozen=True)
class Actor:
    """Who changes an account, for the audit log: a web principal or a person at the console."""

    name: str
    source: str  # "web <ip>" or "cli"
    role: str | None = None

    @classmethod
    def of(cls, who: auth.Principal) -> Actor:
        return cls(who.username, f"web {who.ip}" if who.ip else "web", who.role)


def _audit(s: Session, by: Actor, action: str, kind: str, target: Any, detail: Any = None) -> None:
    audit_log.record(s, by.name, action, kind, str(target), source=by.source, detail=detail, role=by.role)


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(N_("no user '{username}'"), username=username)
    return user


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(
            N_("unknown role '{role}' (one of {choices})"), role=role, choices=", ".join(ROLES)
        )


def managers_left(s: Session) -> int:
    """Active accounts whose role may manage users (``users.manage`` in the permission table)."""
    q = select(func.count()).select_from(User)
    q = q.where(User.role.in_(roles_for("users.manage")), User.active.is_(True))
    return int(s.scalar(q) or 0)


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.username)))


def add_user(
    s: Session, by: Actor, username: str, password: str | None, role: str, password_hash: str | None = None
) -> User:
    """A new account, from a password or (a change approved later) the hash taken when proposed."""
    _check_role(role)
    if s.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(N_("user '{username}' already exists"), username=username)
    try:
        if password_hash is None:
            user = auth.create_user(s, username, password or "", role)
        else:
            user = User(username=username, password_hash=password_hash, role=role, active=True)
            s.add(user)
    except ValueError as exc:
        raise Conflict(message_of(exc)) from None
    _audit(s, by, "user.create", "user", username, {"role": role})
    return user


def update_user(
    s: Session,
    by: Actor,
    username: str,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    password_hash: str | None = None,
    detail: dict[str, Any] | None = None,
) -> User:
    """Change role, activation and/or password; the user's sessions end on any of them, and a role
    change or disabling also ends the reveals and tokens the old rights held (``end_rights``)."""
    user = _user(s, username)
    if role is not None:
        _check_role(role)
    managers = roles_for("users.manage")
    losing = (role is not None and role not in managers) or active is False
    if user.role in managers and user.active and losing and managers_left(s) <= 1:
        raise Conflict(N_("this is the last active admin"))
    hashed = _hash(password) if password is not None else password_hash
    changes: dict[str, Any] = dict(detail or {})
    if role is not None and role != user.role:
        changes["role"] = {"from": user.role, "to": role}
        user.role = role
    if active is not None and active != user.active:
        changes["active"] = active
        user.active = active
    if hashed is not None:
        changes["password"] = "reset"
        user.password_hash = hashed
    if changes.keys() & {"role", "password"} or changes.get("active") is False:
        why = (
            "disabled"
            if changes.get("active") is False
            else "role_changed"
            if "role" in changes
            else "password_reset"
        )
        auth.revoke_sessions(s, user, why, by.name)  # new rights (or none) take effect at the next login
    if changes.keys() & {"role", "active"}:
        changes["ended"] = end_rights(s, by, user)
    _audit(s, by, "user.update", "user", username, changes)
    return user


def set_camera_groups(
    s: Session,
    by: Actor,
    username: str,
    groups: list[str],
    known: set[str],
    detail: dict[str, Any] | None = None,
) -> User:
    """Grant exactly ``groups`` (ids of ``site.camera_groups``) to an account; audited with the
    groups added and removed. Takes effect at the account's next request (scopes are per request)."""
    user = _user(s, username)
    unknown = sorted(set(groups) - known)
    if unknown:
        raise AccountError(N_("no camera group {groups}"), groups=", ".join(repr(g) for g in unknown))
    before = list(user.camera_groups or [])
    after = sorted(set(groups))
    user.camera_groups = after
    changes = dict(detail or {})
    changes["camera_groups"] = {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
    }
    _audit(s, by, "user.camera_groups", "user", username, changes)
    return user


def _hash(password: str) -> str:
    try:
        return auth.hash_password(password)
    except ValueError as exc:
        raise AccountError(message_of(exc)) from None


def logout_everywhere(s: Session, by: Actor, username: str) -> None:
    auth.revoke_sessions(s, _user(s, username), "revoked", by.name)
    _audit(s, by, "user.logout_all", "user", username)


def list_tokens(s: Session) -> list[ApiToken]:
    return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def create_token(s: Session, by: Actor, name: str, role: str) -> tuple[ApiToken, str]:
    """A token for an integration; the secret is returned here only."""
    _check_role(role)
    row, secret = auth.create_api_token(s, name, role, by.name)
    _audit(s, by, "token.create", "api_token", row.id, {"name": name, "role": role})
    return row, secret


def revoke_token(s: Session, by: Actor, token_id: int) -> None:
    row = s.get(ApiToken, token_id)
    if row is None:
        raise NotFound(N_("no such token"))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        _audit(s, by, "token.revoke", "api_token", token_id)


def end_rights(s: Session, by: Actor, user: User) -> dict[str, int]:
    """Reveals and tokens die with the account or role that held them: on disabling or a role
    change the user's open reveals are revoked, and so are the tokens made by a former admin."""
    ended = {"reveals": 0, "tokens": 0}
    q = select(RevealRequest).where(
        RevealRequest.requested_by == user.username, RevealRequest.status.in_(("pending", "approved"))
    )
    for r in s.scalars(q):
        r.status, r.expires_at = "revoked", utcnow()
        _audit(s, by, "reveal.revoke", "reveal", r.id, {"reason": "account changed"})
        ended["reveals"] += 1
    if user.role not in roles_for("users.manage") or not user.active:
        q2 = select(ApiToken).where(ApiToken.created_by == user.username, ApiToken.revoked_at.is_(None))
        for t in s.scalars(q2):
            t.revoked_at = utcnow()
            _audit(s, by, "token.revoke", "api_token", t.id, {"reason": "its creator lost admin rights"})
            ended["tokens"] += 1
    return ended
