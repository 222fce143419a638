"""Users, roles and API tokens: admin only.

Separation of duties (``oversight.web.duties``): creating an account with, or granting, a role that
sees footage or administers; resetting another user's password; and minting a token with such a
role answer 202 with a pending change that only another admin or an auditor can approve. A token
minted that way exists (its secret is shown once) but stays revoked until approved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from oversight.store.base import utcnow
from oversight.store.models import ROLES, User
from oversight.web import auth, duties
from oversight.web.audit import audit
from oversight.web.auth import ADMIN_ROLES, Principal, get_ctx, require_roles
from oversight.web.models import ApiToken, PendingChange
from oversight.web.params import DbId
from oversight.web.revocation import end_rights

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
    pending_change: dict[str, Any] | None = None  # set when the token waits for a second person


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


@router.post("/users", response_model=UserOut, status_code=201, responses={202: {"description": "pending"}})
def add_user(body: UserIn, request: Request, who: Principal = Depends(admin_only)) -> Any:
    with get_ctx(request).db.session() as s:
        if s.scalar(select(User).where(User.username == body.username)) is not None:
            raise HTTPException(409, f"user '{body.username}' already exists")
        if body.role in duties.GUARDED_ROLES:
            payload = {
                "username": body.username,
                "role": body.role,
                "hash": auth.hash_password(body.password),
            }
            change = duties.propose(
                s,
                who,
                "user.create",
                body.username,
                [f"a new account with the {body.role} role"],
                {},
                {"username": body.username, "role": body.role},
                payload,
            )
            return JSONResponse(duties.pending_answer(change), status_code=202)
        try:
            user = auth.create_user(s, body.username, body.password, body.role)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from None
        audit(s, who, "user.create", "user", body.username, detail={"role": body.role})
        return _out(user)


@duties.applier("user.create")
async def _create_approved(ctx: Any, change: Any, who: Principal) -> dict[str, Any]:
    p = change.payload
    with ctx.db.session() as s:
        if s.scalar(select(User).where(User.username == p["username"])) is not None:
            raise ValueError(f"user '{p['username']}' already exists")
        s.add(User(username=p["username"], password_hash=p["hash"], role=p["role"], active=True))
        audit(s, who, "user.create", "user", p["username"], detail={"role": p["role"], "change": change.id})
    return {"username": p["username"], "role": p["role"]}


def _patch_reasons(user: User, body: UserPatch, who: Principal) -> list[str]:
    out = []
    if body.role is not None and duties.grants_more(user.role, body.role):
        out.append(f"role {user.role} -> {body.role}")
    if body.password is not None and user.username != who.username:
        out.append(f"password reset of another user ({user.role})")
    return out


def _apply_patch(
    s: Any, user: User, role: str | None, active: bool | None, hash: str | None, who: Principal
) -> dict[str, object]:
    demoting = (role not in (None, "admin")) or active is False
    if user.role == "admin" and demoting and _active_admins(s) <= 1:
        raise HTTPException(409, "this is the last active admin")
    changes: dict[str, object] = {}
    if role is not None and role != user.role:
        changes["role"] = {"before": user.role, "after": role}
        user.role = role
        auth.revoke_sessions(s, user)  # new rights take effect at next login
    if active is not None and active != user.active:
        changes["active"] = {"before": user.active, "after": active}
        user.active = active
        if not active:
            auth.revoke_sessions(s, user)
    if hash is not None:
        changes["password"] = "reset"
        user.password_hash = hash
        auth.revoke_sessions(s, user)
    if "role" in changes or "active" in changes:
        changes["ended"] = end_rights(s, user, who)
    return changes


@router.patch("/users/{username}", response_model=UserOut, responses={202: {"description": "pending"}})
def update_user(
    username: str, body: UserPatch, request: Request, who: Principal = Depends(admin_only)
) -> Any:
    with get_ctx(request).db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, "no such user")
        hash = auth.hash_password(body.password) if body.password is not None else None
        reasons = _patch_reasons(user, body, who)
        if reasons:
            after = {"role": body.role, "active": body.active, "password": "reset" if hash else None}
            payload = {"role": body.role, "active": body.active, "hash": hash}
            before = {"role": user.role, "active": user.active}
            change = duties.propose(s, who, "user.update", username, reasons, before, after, payload)
            return JSONResponse(duties.pending_answer(change), status_code=202)
        changes = _apply_patch(s, user, body.role, body.active, hash, who)
        audit(s, who, "user.update", "user", username, detail=changes)
        return _out(user)


@duties.applier("user.update")
async def _update_approved(ctx: Any, change: Any, who: Principal) -> dict[str, Any]:
    p = change.payload
    with ctx.db.session() as s:
        user = s.scalar(select(User).where(User.username == change.target))
        if user is None:
            raise ValueError(f"user '{change.target}' no longer exists")
        changes = _apply_patch(s, user, p.get("role"), p.get("active"), p.get("hash"), who)
        audit(s, who, "user.update", "user", change.target, detail=changes | {"change": change.id})
    return {"username": change.target, "changed": sorted(changes)}


@router.post("/users/{username}/logout-all", status_code=204)
def logout_user_everywhere(username: str, request: Request, who: Principal = Depends(admin_only)) -> Response:
    with get_ctx(request).db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise HTTPException(404, "no such user")
        auth.revoke_sessions(s, user)
        audit(s, who, "user.logout_all", "user", username)
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


@router.post("/tokens", response_model=NewToken, status_code=201, responses={202: {"description": "pending"}})
def add_token(body: TokenIn, request: Request, who: Principal = Depends(admin_only)) -> Any:
    """Create an API token for an integration. The secret is in this response only."""
    with get_ctx(request).db.session() as s:
        row, secret = auth.create_api_token(s, body.name, body.role, who.username)
        audit(s, who, "token.create", "api_token", row.id, detail={"name": body.name, "role": body.role})
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
    with get_ctx(request).db.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise HTTPException(404, "no such token")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit(s, who, "token.revoke", "api_token", token_id)
        waiting = select(PendingChange).where(
            PendingChange.kind == "token.activate",
            PendingChange.target == str(token_id),
            PendingChange.status == "pending",
        )
        for change in s.scalars(waiting):  # a token revoked while it waits is never activated
            change.status, change.decided_by, change.decided_at = "rejected", who.username, utcnow()
            audit(s, who, "change.reject", "pending_change", change.id, detail={"reason": "token revoked"})
    return Response(status_code=204)
