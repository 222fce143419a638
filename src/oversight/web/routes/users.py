"""Users, roles and API tokens over HTTP (admin only); the changes themselves are ``web.accounts``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.store.models import ROLES, User
from oversight.web import accounts, auth, totp
from oversight.web.accounts import Actor
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.models import ApiToken
from oversight.web.params import DbId

router = APIRouter(prefix="/api", tags=["users"])
admin_only = require("users.manage")
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


@contextmanager
def _change(request: Request) -> Iterator[Session]:
    """A session for one account change; an ``AccountError`` becomes its 4xx, nothing is written."""
    try:
        with get_ctx(request).db.session() as s:
            yield s
    except accounts.AccountError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, who: Principal = Depends(admin_only)) -> list[UserOut]:
    with get_ctx(request).db.session() as s:
        return [_out(u) for u in accounts.list_users(s)]


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, request: Request, who: Principal = Depends(admin_only)) -> UserOut:
    with _change(request) as s:
        return _out(accounts.add_user(s, Actor.of(who), body.username, body.password, body.role))


@router.patch("/users/{username}", response_model=UserOut)
def update_user(
    username: str, body: UserPatch, request: Request, who: Principal = Depends(admin_only)
) -> UserOut:
    with _change(request) as s:
        user = accounts.update_user(
            s, Actor.of(who), username, role=body.role, active=body.active, password=body.password
        )
        return _out(user)


@router.post("/users/{username}/logout-all", status_code=204)
def logout_user_everywhere(username: str, request: Request, who: Principal = Depends(admin_only)) -> Response:
    with _change(request) as s:
        accounts.logout_everywhere(s, Actor.of(who), username)
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
        return [_tok(t) for t in accounts.list_tokens(s)]


@router.post("/tokens", response_model=NewToken, status_code=201)
def add_token(body: TokenIn, request: Request, who: Principal = Depends(admin_only)) -> NewToken:
    """Create an API token for an integration. The secret is in this response only."""
    with _change(request) as s:
        row, secret = accounts.create_token(s, Actor.of(who), body.name, body.role)
        return NewToken(**_tok(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: DbId, request: Request, who: Principal = Depends(admin_only)) -> Response:
    with _change(request) as s:
        accounts.revoke_token(s, Actor.of(who), token_id)
    return Response(status_code=204)
