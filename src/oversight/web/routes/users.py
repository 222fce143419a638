"""Users, roles and API tokens over HTTP (admin only); the changes themselves are ``web.accounts``.

Separation of duties (``oversight.web.duties``): creating an account with, or granting, a role that
sees footage or administers; resetting another user's password; and minting a token with such a
role answer 202 with a pending change that only another admin or an auditor can approve. A token
minted that way exists (its secret is shown once) but stays revoked until approved."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.i18n import N_
from oversight.store.base import utcnow
from oversight.store.models import ROLES, User
from oversight.web import accounts, auth, duties, totp
from oversight.web.accounts import Actor
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.errors import http_error, service_error
from oversight.web.models import ApiToken, PendingChange
from oversight.web.params import DbId

router = APIRouter(prefix="/api", tags=["users"])
admin_only = require("users.manage")
ROLE_PATTERN = "^(" + "|".join(ROLES) + ")$"


class UserOut(BaseModel):
    username: str
    role: str
    active: bool
    created_at: datetime
    camera_groups: list[str] = []


class GroupsIn(BaseModel):
    camera_groups: list[str] = Field(max_length=256)


class GroupOut(BaseModel):
    id: str
    name: str
    cameras: list[str]
    roles: list[str]


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
    pending_change: dict[str, Any] | None = None  # set when the token waits for a second person


def _out(u: User) -> UserOut:
    return UserOut(
        username=u.username,
        role=u.role,
        active=u.active,
        created_at=u.created_at,
        camera_groups=list(u.camera_groups or []),
    )


@contextmanager
def _change(request: Request) -> Iterator[Session]:
    """A session for one account change; an ``AccountError`` becomes its 4xx, nothing is written."""
    try:
        with get_ctx(request).db.session() as s:
            yield s
    except accounts.AccountError as exc:
        raise service_error(exc) from None


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, who: Principal = Depends(admin_only)) -> list[UserOut]:
    with get_ctx(request).db.session() as s:
        return [_out(u) for u in accounts.list_users(s)]


@router.post("/users", response_model=UserOut, status_code=201, responses={202: {"description": "pending"}})
def add_user(body: UserIn, request: Request, who: Principal = Depends(admin_only)) -> Any:
    with _change(request) as s:
        if body.role not in duties.GUARDED_ROLES:
            return _out(accounts.add_user(s, Actor.of(who), body.username, body.password, body.role))
        if s.scalar(select(User).where(User.username == body.username)) is not None:
            raise http_error(409, N_("user '{username}' already exists"), username=body.username)
        account = {"username": body.username, "role": body.role}
        payload = account | {"hash": auth.hash_password(body.password)}
        reasons = [f"a new account with the {body.role} role"]
        change = duties.propose(s, who, "user.create", body.username, reasons, {}, account, payload)
        return JSONResponse(duties.pending_answer(change), status_code=202)


@duties.applier("user.create")
async def _create_approved(ctx: Any, change: Any, who: Principal) -> dict[str, Any]:
    p = change.payload
    with ctx.db.session() as s:
        by = Actor.of(who)
        accounts.add_user(s, by, p["username"], None, p["role"], password_hash=p["hash"])
    return {"username": p["username"], "role": p["role"]}


def _patch_reasons(user: User, body: UserPatch, who: Principal) -> list[str]:
    out = []
    if body.role is not None and duties.grants_more(user.role, body.role):
        out.append(f"role {user.role} -> {body.role}")
    if body.password is not None and user.username != who.username:
        out.append(f"password reset of another user ({user.role})")
    return out


@router.patch("/users/{username}", response_model=UserOut, responses={202: {"description": "pending"}})
def update_user(
    username: str, body: UserPatch, request: Request, who: Principal = Depends(admin_only)
) -> Any:
    with _change(request) as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise http_error(404, N_("no such user"))
        reasons = _patch_reasons(user, body, who)
        if not reasons:
            by = Actor.of(who)
            return _out(
                accounts.update_user(
                    s, by, username, role=body.role, active=body.active, password=body.password
                )
            )
        hash = auth.hash_password(body.password) if body.password is not None else None
        after = {"role": body.role, "active": body.active, "password": "reset" if hash else None}
        payload = {"role": body.role, "active": body.active, "hash": hash}
        before = {"role": user.role, "active": user.active}
        change = duties.propose(s, who, "user.update", username, reasons, before, after, payload)
        return JSONResponse(duties.pending_answer(change), status_code=202)


@duties.applier("user.update")
async def _update_approved(ctx: Any, change: Any, who: Principal) -> dict[str, Any]:
    p = change.payload
    with ctx.db.session() as s:
        accounts.update_user(
            s,
            Actor.of(who),
            change.target,
            role=p.get("role"),
            active=p.get("active"),
            password_hash=p.get("hash"),
            detail={"change": change.id},
        )
    return {"username": change.target, "changed": sorted(k for k in ("role", "active", "hash") if p.get(k))}


@router.get("/camera-groups", response_model=list[GroupOut])
def list_camera_groups(request: Request, who: Principal = Depends(admin_only)) -> list[GroupOut]:
    """The configured camera groups (districts, sites) an account can be granted."""
    return [
        GroupOut(id=g.id, name=g.name, cameras=list(g.cameras), roles=list(g.roles))
        for g in get_ctx(request).cfg.camera_groups
    ]


@router.put(
    "/users/{username}/camera-groups", response_model=UserOut, responses={202: {"description": "pending"}}
)
def set_camera_groups(
    username: str, body: GroupsIn, request: Request, who: Principal = Depends(admin_only)
) -> Any:
    """Grant an account exactly these camera groups. Taking groups away applies at once; giving an
    account that sees footage a group it lacked waits for a second admin or an auditor."""
    known = {g.id for g in get_ctx(request).cfg.camera_groups}
    with _change(request) as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise http_error(404, N_("no such user"))
        before = sorted(user.camera_groups or [])
        added = sorted(set(body.camera_groups) - set(before))
        if not added or user.role not in duties.FOOTAGE_RANK or set(added) - known:
            return _out(accounts.set_camera_groups(s, Actor.of(who), username, body.camera_groups, known))
        reasons = [f"footage of camera group {g} for a {user.role}" for g in added]
        after = {"camera_groups": sorted(set(body.camera_groups))}
        change = duties.propose(
            s, who, "user.camera_groups", username, reasons, {"camera_groups": before}, after, after
        )
        return JSONResponse(duties.pending_answer(change), status_code=202)


@duties.applier("user.camera_groups")
async def _groups_approved(ctx: Any, change: Any, who: Principal) -> dict[str, Any]:
    groups = list(change.payload["camera_groups"])
    known = {g.id for g in ctx.cfg.camera_groups}
    with ctx.db.session() as s:
        accounts.set_camera_groups(s, Actor.of(who), change.target, groups, known, {"change": change.id})
    return {"username": change.target, "camera_groups": groups}


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
            raise http_error(404, N_("no such user"))
        had = totp.reset(s, user.id)
        auth.revoke_sessions(s, user, "second_factor_reset", who.username)
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


@router.post("/tokens", response_model=NewToken, status_code=201, responses={202: {"description": "pending"}})
def add_token(body: TokenIn, request: Request, who: Principal = Depends(admin_only)) -> Any:
    """Create an API token for an integration. The secret is in this response only."""
    with _change(request) as s:
        row, secret = accounts.create_token(s, Actor.of(who), body.name, body.role)
        if body.role not in duties.GUARDED_ROLES:
            return NewToken(**_tok(row).model_dump(), token=secret)
        row.revoked_at = utcnow()  # inert until a second person approves
        change = duties.propose(
            s,
            who,
            "token.activate",
            str(row.id),
            [f"a token with the {body.role} role"],
            {"active": False},
            {"active": True, "name": body.name, "role": body.role},
            {"token_id": row.id},
        )
        out = NewToken(**_tok(row).model_dump(), token=secret, pending_change=duties.change_dict(change))
        return JSONResponse(out.model_dump(mode="json"), status_code=202)


@duties.applier("token.activate")
async def _activate_approved(ctx: Any, change: Any, who: Principal) -> dict[str, Any]:
    with ctx.db.session() as s:
        row = s.get(ApiToken, change.payload["token_id"])
        if row is None:
            raise ValueError("the token no longer exists")
        row.revoked_at = None
        audit(s, who, "token.activate", "api_token", row.id, detail={"role": row.role, "change": change.id})
    return {"token_id": change.payload["token_id"]}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: DbId, request: Request, who: Principal = Depends(admin_only)) -> Response:
    with _change(request) as s:
        accounts.revoke_token(s, Actor.of(who), token_id)
        waiting = select(PendingChange).where(
            PendingChange.kind == "token.activate",
            PendingChange.target == str(token_id),
            PendingChange.status == "pending",
        )
        for change in s.scalars(waiting):  # a token revoked while it waits is never activated
            change.status, change.decided_by, change.decided_at = "rejected", who.username, utcnow()
            audit(s, who, "change.reject", "pending_change", change.id, detail={"reason": "token revoked"})
    return Response(status_code=204)
