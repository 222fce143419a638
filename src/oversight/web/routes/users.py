"""Users, roles and API tokens: admin only."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from oversight.store.base import utcnow
from oversight.store.models import ROLES, User
from oversight.web import auth, totp
from oversight.web.audit import audit
from oversight.web.auth import ADMIN_ROLES, Principal, get_ctx, require_roles
from oversight.web.models import ApiToken
from oversight.web.params import DbId

router = APIRouter(prefix="/api", tags=["users"])
admin_only = require_roles(*ADMIN_ROLES)
ROLE_PATTERN = "^(" + "|".join(ROLES) + ")$"


class UserOut(BaseModel):
    username: str
    role: str
    active: bool
    created_at: datetime


class UserIn(BaseModel):
    username: str = Field(pattern=auth.USERNAME_PATTERN)
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=1024)
    role: str = Field(pattern=ROLE_PATTERN)


class UserPatch(BaseModel):
    role: str | None = Field(None, pattern=ROLE_PATTERN)
    active: bool | None = None
    password: str | None = Field(None, min_length=auth.MIN_PASSWORD, max_length=1024)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: str = Field(pattern=ROLE_PATTERN)


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewToken(TokenOut):
    token: str  # shown once


def _out(u: User) -> UserOut:
    return UserOut(username=u.username, role=u.role, active=u.active, created_at=u.created_at)


def _active_admins(s: object) -> int:
    from sqlalchemy import func
    from sqlalchemy.orm import Session

    assert isinstance(s, Session)
    q = select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
    return int(s.scalar(q) or 0)


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, who: Principal = Depends(admin_only)) -> list[UserOut]:
    with get_ctx(request).db.session() as s:
        return [_out(u) for u in s.scalars(select(User).order_by(User.username))]


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, request: Request, who: Principal = Depends(admin_only)) -> UserOut:
    with get_ctx(request).db.session() as s:
        try:
            user = auth.create_user(s, body.username, body.password, body.role)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        audit(s, who, "user.create", "user", body.username, detail={"role": body.role})
        return _out(user)


@router.patch("/users/{username}", response_model=UserOut)
def update_user(
    username: str, body: UserPatch, request: Request, who: Principal = Depends(admin_only)
) -> UserOut:
    with get_ctx(request).db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, "no such user")
        demoting = (body.role not in (None, "admin")) or body.active is False
        if user.role == "admin" and demoting and _active_admins(s) <= 1:
            raise HTTPException(409, "this is the last active admin")
        changes: dict[str, object] = {}
        if body.role is not None and body.role != user.role:
            changes["role"] = body.role
            user.role = body.role
            auth.revoke_sessions(s, user)  # new rights take effect at next login
        if body.active is not None and body.active != user.active:
            changes["active"] = body.active
            user.active = body.active
            if not body.active:
                auth.revoke_sessions(s, user)
        if body.password is not None:
            changes["password"] = "reset"
            user.password_hash = auth.hash_password(body.password)
            auth.revoke_sessions(s, user)
        audit(s, who, "user.update", "user", username, detail=changes)
        return _out(user)


@router.post("/users/{username}/logout-all", status_code=204)
def logout_user_everywhere(username: str, request: Request, who: Principal = Depends(admin_only)) -> Response:
    with get_ctx(request).db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, "no such user")
        auth.revoke_sessions(s, user)
        audit(s, who, "user.logout_all", "user", username)
    return Response(status_code=204)


@router.post("/users/{username}/totp-reset", status_code=204)
def reset_second_factor(username: str, request: Request, who: Principal = Depends(admin_only)) -> Response:
    """A lost phone: drop the user's TOTP seed and sessions; the next login enrols a new one."""
    with get_ctx(request).db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, "no such user")
        had = totp.reset(s, user.id)
        auth.revoke_sessions(s, user)
        audit(s, who, "user.totp_reset", "user", username, detail={"had_second_factor": had})
    return Response(status_code=204)


def _tok(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        name=t.name,
        role=t.role,
        created_by=t.created_by,
        created_at=t.created_at,
        revoked_at=t.revoked_at,
        last_used_at=t.last_used_at,
    )


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(request: Request, who: Principal = Depends(admin_only)) -> list[TokenOut]:
    with get_ctx(request).db.session() as s:
        return [_tok(t) for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]


@router.post("/tokens", response_model=NewToken, status_code=201)
def add_token(body: TokenIn, request: Request, who: Principal = Depends(admin_only)) -> NewToken:
    """Create an API token for an integration. The secret is in this response only."""
    with get_ctx(request).db.session() as s:
        row, secret = auth.create_api_token(s, body.name, body.role, who.username)
        audit(s, who, "token.create", "api_token", row.id, detail={"name": body.name, "role": body.role})
        return NewToken(**_tok(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: DbId, request: Request, who: Principal = Depends(admin_only)) -> Response:
    with get_ctx(request).db.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise HTTPException(404, "no such token")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit(s, who, "token.revoke", "api_token", token_id)
    return Response(status_code=204)
