"""Log in and out, who am I, change my password, and the one-time first-admin bootstrap."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from oversight.store.models import User
from oversight.web import auth
from oversight.web.auth import ALL_ROLES, Principal, get_ctx, require_roles
from oversight.web.context import AppContext

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _throttle(ctx: AppContext) -> auth.LoginThrottle:
    found = ctx.extras.get("login_throttle")
    if found is None:
        found = ctx.extras.setdefault("login_throttle", auth.LoginThrottle())
    assert isinstance(found, auth.LoginThrottle)
    return found


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Bootstrap(BaseModel):
    secret: str = Field(min_length=1, max_length=256)
    username: str = Field(pattern=auth.USERNAME_PATTERN)
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=1024)


class PasswordChange(BaseModel):
    current: str = Field(min_length=1, max_length=1024)
    new: str = Field(min_length=auth.MIN_PASSWORD, max_length=1024)


class Me(BaseModel):
    username: str
    role: str
    via: str
    csrf: str | None = None


class AuthState(BaseModel):
    needs_bootstrap: bool
    site: str
    timezone: str


def _secure(ctx: AppContext, request: Request) -> bool:
    if ctx.secure_cookies is not None:
        return ctx.secure_cookies
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _set_cookies(response: Response, ctx: AppContext, request: Request, token: str, csrf: str) -> None:
    secure = _secure(ctx, request)
    max_age = int(auth.SESSION_TTL.total_seconds())
    response.set_cookie(
        auth.SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/"
    )
    response.set_cookie(
        auth.CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure, path="/"
    )


@router.get("/state", response_model=AuthState)
def state(request: Request) -> AuthState:
    """Public: whether the first admin still has to be created, and the site's name and time zone."""
    ctx = get_ctx(request)
    return AuthState(
        needs_bootstrap=auth.ensure_bootstrap(ctx) is not None,
        site=ctx.cfg.site.name,
        timezone=ctx.cfg.site.timezone,
    )


@router.post("/login", response_model=Me)
def login(body: Credentials, request: Request, response: Response) -> Me:
    ctx = get_ctx(request)
    ip = auth.client_ip(request)
    throttle = _throttle(ctx)
    wait = throttle.retry_after(body.username, ip)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many failed attempts; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    with ctx.db.session() as s:
        user = auth.authenticate(s, body.username, body.password)
        if user is None:
            throttle.failed(body.username, ip)
            _audit_login(ctx, body.username, ip, False)
            raise HTTPException(401, "wrong user name or password")
        throttle.succeeded(body.username, ip)
        _audit_login(ctx, user.username, ip, True, user.role, s)
        token, csrf = auth.start_session(s, user, ip, request.headers.get("user-agent", ""))
        me = Me(username=user.username, role=user.role, via="session", csrf=csrf)
    _set_cookies(response, ctx, request, token, csrf)
    return me


def _audit_login(ctx: AppContext, username: str, ip: str, ok: bool, role: str | None = None,
                 session: object = None) -> None:
    """Every login, success or failure, goes to the privacy audit log when it is installed."""
    try:
        from oversight.privacy.hooks import audit_login
    except ModuleNotFoundError as exc:
        if exc.name not in ("oversight.privacy", "oversight.privacy.hooks"):
            raise
        return
    audit_login(ctx, username, ip, ok, role, session)


@router.post("/bootstrap", response_model=Me)
def bootstrap(body: Bootstrap, request: Request, response: Response) -> Me:
    """Create the first admin with the one-time secret printed at first start. Works once."""
    ctx = get_ctx(request)
    ip = auth.client_ip(request)
    throttle = _throttle(ctx)
    if throttle.retry_after("<bootstrap>", ip) > 0:
        raise HTTPException(429, "too many failed attempts")
    secret = auth.ensure_bootstrap(ctx)
    if secret is None:
        raise HTTPException(409, "an account already exists; log in instead")
    if not hmac.compare_digest(body.secret.encode(), secret.encode()):
        throttle.failed("<bootstrap>", ip)
        raise HTTPException(403, "wrong bootstrap secret")
    with ctx.db.session() as s:
        if auth.user_count(s) > 0:
            raise HTTPException(409, "an account already exists; log in instead")
        user = auth.create_user(s, body.username, body.password, "admin")
        token, csrf = auth.start_session(s, user, ip, request.headers.get("user-agent", ""))
        me = Me(username=user.username, role=user.role, via="session", csrf=csrf)
    ctx.bootstrap_secret = None
    _set_cookies(response, ctx, request, token, csrf)
    return me


@router.get("/me", response_model=Me)
def me(request: Request, who: Principal = Depends(require_roles(*ALL_ROLES))) -> Me:
    return Me(username=who.username, role=who.role, via=who.via, csrf=request.cookies.get(auth.CSRF_COOKIE))


@router.post("/logout", status_code=204)
def logout(
    request: Request, response: Response, who: Principal = Depends(require_roles(*ALL_ROLES))
) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        with get_ctx(request).db.session() as s:
            auth.end_session(s, token)
    out = Response(status_code=204)
    out.delete_cookie(auth.SESSION_COOKIE, path="/")
    out.delete_cookie(auth.CSRF_COOKIE, path="/")
    return out


@router.post("/logout-all", status_code=204)
def logout_all(request: Request, who: Principal = Depends(require_roles(*ALL_ROLES))) -> Response:
    """End every session of the current user, on every device."""
    if who.user_id is None:
        raise HTTPException(400, "API tokens have no sessions; revoke the token instead")
    with get_ctx(request).db.session() as s:
        user = s.get(User, who.user_id)
        if user is not None:
            auth.revoke_sessions(s, user)
    out = Response(status_code=204)
    out.delete_cookie(auth.SESSION_COOKIE, path="/")
    out.delete_cookie(auth.CSRF_COOKIE, path="/")
    return out


@router.post("/password", status_code=204)
def change_password(
    body: PasswordChange, request: Request, who: Principal = Depends(require_roles(*ALL_ROLES))
) -> Response:
    """Change my password; other sessions of mine end (this one stays)."""
    if who.user_id is None:
        raise HTTPException(400, "API tokens have no password")
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        user = s.get(User, who.user_id)
        if user is None or not auth.verify_password(user.password_hash, body.current):
            raise HTTPException(403, "current password is wrong")
        user.password_hash = auth.hash_password(body.new)
        auth.revoke_sessions(s, user)
        token, csrf = auth.start_session(
            s, user, auth.client_ip(request), request.headers.get("user-agent", "")
        )
    out = Response(status_code=204)
    _set_cookies(out, ctx, request, token, csrf)
    return out
