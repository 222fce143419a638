"""Log in and out, who am I, change my password, and the one-time first-admin bootstrap."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from nacl.secret import SecretBox
from pydantic import BaseModel, Field, computed_field

from oversight import i18n
from oversight.i18n import N_, Message
from oversight.permissions import permissions_of
from oversight.privacy.hooks import audit_login
from oversight.store.models import User
from oversight.web import auth, totp
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.context import AppContext
from oversight.web.errors import http_error, service_error
from oversight.web.oidc import STATE_COOKIE, OidcClient, OidcError, link_account
from oversight.web.routes.i18n import request_locale
from oversight.web.throttle import DEVICE_COOKIE, Busy, DbCounts

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _throttle(ctx: AppContext) -> auth.LoginThrottle:
    found = ctx.extras.get("login_throttle")
    if found is None:
        where = ctx.cfg.site.security.login_throttle
        if where == "database" or (where == "auto" and ctx.cfg.cluster is not None):
            shared = auth.LoginThrottle(clock=time.time, counts=lambda name: DbCounts(ctx.db, name))
            found = ctx.extras.setdefault("login_throttle", shared)
        else:
            found = ctx.extras.setdefault("login_throttle", auth.LoginThrottle())
    assert isinstance(found, auth.LoginThrottle)
    return found


def _gate(ctx: AppContext) -> auth.HashGate:
    found = ctx.extras.get("login_gate")
    if found is None:
        sec = ctx.cfg.site.security
        found = ctx.extras.setdefault(
            "login_gate", auth.HashGate(sec.login_hash_concurrency, sec.login_hash_queue)
        )
    assert isinstance(found, auth.HashGate)
    return found


def _seed_box(ctx: AppContext) -> SecretBox:
    box = ctx.extras.get("totp_box")
    if not isinstance(box, SecretBox):
        box = ctx.extras["totp_box"] = totp.seed_box(ctx.data_dir)
    return box


def _too_many(wait: float, why: str) -> HTTPException:
    """A 429; ``why`` is a msgid (``N_``), translated with the rest of the sentence."""
    secs = str(int(wait) + 1)
    return http_error(
        429, N_("{why}; try again in {secs} s"), headers={"Retry-After": secs}, why=Message(why), secs=secs
    )


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(None, max_length=16, description="the authenticator app's code")


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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def permissions(self) -> list[str]:
        """The actions of the permission table this role may take: what the UI shows and hides."""
        return permissions_of(self.role)


class AuthState(BaseModel):
    needs_bootstrap: bool
    site: str
    timezone: str
    sso: bool = False  # single sign-on through OpenID Connect is configured


class EndNotice(BaseModel):
    reason: str | None = None  # a key of web.auth.END_REASONS; None: nothing to say
    message: str | None = None
    ended_at: str | None = None


def _secure(ctx: AppContext, request: Request) -> bool:
    if ctx.secure_cookies is not None:
        return ctx.secure_cookies
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _set_cookies(response: Response, ctx: AppContext, request: Request, token: str, csrf: str) -> None:
    secure = _secure(ctx, request)
    max_age = int(auth.session_limits(ctx)[1].total_seconds())
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
        sso=ctx.cfg.site.security.oidc is not None,
    )


@router.get("/ended", response_model=EndNotice)
def ended(request: Request, response: Response) -> EndNotice:
    """Public, once: why an administrator ended this browser's session (the login page shows it
    after the bounce). Audited; the dead cookies are cleared."""
    from oversight.web.audit import audit

    token = request.cookies.get(auth.SESSION_COOKIE)
    if not token:
        return EndNotice()
    with get_ctx(request).db.session() as s:
        row = auth.take_end_notice(s, token)
        if row is None:
            return EndNotice()
        who = Principal(row.username, "", "session", row.user_id, ip=auth.client_ip(request))
        detail = {"reason": row.reason, "ended_by": row.ended_by, "ended_at": row.ended_at.isoformat()}
        audit(s, who, "auth.session_end_shown", "user", row.username, detail=detail)
        out = EndNotice(
            reason=row.reason,
            message=i18n.Translator(request_locale(request, None)).gettext(auth.END_REASONS[row.reason]),
            ended_at=detail["ended_at"],
        )
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    response.delete_cookie(auth.CSRF_COOKIE, path="/")
    return out


@router.post("/login", response_model=Me)
def login(body: Credentials, request: Request, response: Response) -> Me:
    """Progressive delays per account, client and (account, client); never a hard lockout."""
    ctx = get_ctx(request)
    ip = auth.client_ip(request)
    throttle = _throttle(ctx)
    device = request.cookies.get(DEVICE_COOKIE)
    wait = throttle.retry_after(body.username, ip, device)
    if wait > 0:
        raise _too_many(wait, N_("too many failed attempts"))
    try:
        account = auth.check_credentials(ctx.db, body.username, body.password, _gate(ctx))
    except Busy:
        raise _too_many(0, N_("too many logins at once")) from None
    if account is None:
        throttle.failed(body.username, ip, device)
        _audit_login(ctx, body.username.strip()[:64], ip, False)
        raise http_error(401, N_("wrong user name or password"))
    with ctx.db.session() as s:
        factor = totp.second_factor(
            s, ctx.cfg.site.security, _seed_box(ctx), account.id, account.username, account.role, body.totp
        )
    if factor.kind == "wrong":
        throttle.failed(body.username, ip, device)
        _audit_login(ctx, account.username, ip, False, account.role, action="auth.totp_failed")
    if factor.kind not in ("ok", "enrolled"):
        raise HTTPException(401, _totp_detail(factor))
    new_device = throttle.succeeded(body.username, ip)
    with ctx.db.session() as s:
        user = s.get(User, account.id)
        if user is None or not user.active:
            raise http_error(401, N_("wrong user name or password"))
        if factor.kind == "enrolled":
            _audit_login(ctx, user.username, ip, True, user.role, s, action="auth.totp_enrolled")
        _audit_login(ctx, user.username, ip, True, user.role, s)
        token, csrf = auth.start_session(s, user, ip, request.headers.get("user-agent", ""))
        me = Me(username=user.username, role=user.role, via="session", csrf=csrf)
    _set_cookies(response, ctx, request, token, csrf)
    response.set_cookie(
        DEVICE_COOKIE,
        new_device,
        max_age=365 * 86400,
        httponly=True,
        samesite="strict",
        secure=_secure(ctx, request),
        path="/api/auth",
    )
    return me


def _oidc(ctx: AppContext) -> OidcClient:
    cfg = ctx.cfg.site.security.oidc
    if cfg is None:
        raise http_error(404, N_("single sign-on is not configured"))
    found = ctx.extras.get("oidc")
    if not isinstance(found, OidcClient) or found.cfg is not cfg:
        found = ctx.extras["oidc"] = OidcClient(cfg)
    return found


@router.get("/oidc/login")
def oidc_login(request: Request) -> Response:
    """Single sign-on: send the browser to the identity provider (code flow with PKCE)."""
    ctx = get_ctx(request)
    client = _oidc(ctx)
    redirect_uri = client.cfg.redirect_uri or str(request.url_for("oidc_callback"))
    try:
        url, state = client.start(redirect_uri)
    except OidcError as exc:
        raise service_error(exc) from None
    out = RedirectResponse(url, status_code=303)
    out.set_cookie(  # Lax: it must come back on the provider's top-level redirect to the callback
        STATE_COOKIE,
        state,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=_secure(ctx, request),
        path="/api/auth/oidc",
    )
    return out


@router.get("/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    state: str = Query("", max_length=256),
    code: str = Query("", max_length=4096),
    error: str | None = Query(None, max_length=256),
) -> Response:
    """The provider sends the browser back here; a verified identity with a mapped role gets a session."""
    ctx = get_ctx(request)
    client = _oidc(ctx)
    ip = auth.client_ip(request)
    try:
        if error or not code:
            raise OidcError(
                N_("the identity provider did not sign you in ({reason})"), 401, reason=error or "no code"
            )
        who = client.finish(state, request.cookies.get(STATE_COOKIE), code)
    except OidcError as exc:
        _audit_login(ctx, "oidc", ip, False, action="auth.oidc_refused")
        raise service_error(exc) from None
    with ctx.db.session() as s:
        try:
            user, before = link_account(s, client.cfg.issuer, who)
        except OidcError as exc:
            raise service_error(exc) from None
        if before is not None:
            _audit_login(ctx, user.username, ip, True, user.role, s, action="user.role_from_groups")
        _audit_login(ctx, user.username, ip, True, user.role, s)
        token, csrf = auth.start_session(s, user, ip, request.headers.get("user-agent", ""))
    out = RedirectResponse("/", status_code=303)
    _set_cookies(out, ctx, request, token, csrf)
    out.delete_cookie(STATE_COOKIE, path="/api/auth/oidc")
    return out


def _totp_detail(factor: totp.Outcome) -> dict[str, str | None]:
    """A 401 body the login page understands: what the second factor needs next."""
    if factor.kind == "enrol":
        return {
            "totp": "enrol",
            "message": N_(
                "Your role needs a second factor: add this key to an authenticator app, "
                "then log in again with its code."
            ),
            "secret": factor.secret,
            "otpauth_uri": factor.uri,
        }
    wrong = factor.kind == "wrong"
    msg = (
        N_("That code is wrong or was already used.")
        if wrong
        else N_("Enter the code from your authenticator app.")
    )
    return {"totp": "required", "message": msg}


def _audit_login(
    ctx: AppContext,
    username: str,
    ip: str,
    ok: bool,
    role: str | None = None,
    session: object = None,
    action: str | None = None,
) -> None:
    """Every login, success or failure, goes to the privacy audit log."""
    audit_login(ctx, username, ip, ok, role, session, action)


@router.post("/bootstrap", response_model=Me)
def bootstrap(body: Bootstrap, request: Request, response: Response) -> Me:
    """Create the first admin with the one-time secret printed at first start. Works once."""
    ctx = get_ctx(request)
    ip = auth.client_ip(request)
    throttle = _throttle(ctx)
    if throttle.retry_after("<bootstrap>", ip) > 0:
        raise http_error(429, N_("too many failed attempts"))
    secret = auth.ensure_bootstrap(ctx)
    if secret is None:
        raise http_error(409, N_("an account already exists; log in instead"))
    if not hmac.compare_digest(body.secret.encode(), secret.encode()):
        throttle.failed("<bootstrap>", ip)
        raise http_error(403, N_("wrong bootstrap secret"))
    with ctx.db.session() as s:
        if auth.user_count(s) > 0:
            raise http_error(409, N_("an account already exists; log in instead"))
        user = auth.create_user(s, body.username, body.password, "admin")
        token, csrf = auth.start_session(s, user, ip, request.headers.get("user-agent", ""))
        me = Me(username=user.username, role=user.role, via="session", csrf=csrf)
    ctx.bootstrap_secret = None
    _set_cookies(response, ctx, request, token, csrf)
    return me


@router.get("/me", response_model=Me)
def me(request: Request, who: Principal = Depends(require("session.self"))) -> Me:
    return Me(username=who.username, role=who.role, via=who.via, csrf=request.cookies.get(auth.CSRF_COOKIE))


@router.post("/logout", status_code=204)
def logout(
    request: Request, response: Response, who: Principal = Depends(require("session.self"))
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
def logout_all(request: Request, who: Principal = Depends(require("session.self"))) -> Response:
    """End every session of the current user, on every device."""
    if who.user_id is None:
        raise http_error(400, N_("API tokens have no sessions; revoke the token instead"))
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
    body: PasswordChange, request: Request, who: Principal = Depends(require("session.self"))
) -> Response:
    """Change my password; other sessions of mine end (this one stays)."""
    if who.user_id is None:
        raise http_error(400, N_("API tokens have no password"))
    ctx = get_ctx(request)
    with ctx.db.session() as s:
        user = s.get(User, who.user_id)
        stored = user.password_hash if user is not None else None
    try:
        with _gate(ctx).slot():  # the two argon2 runs hold no database session
            ok = stored is not None and auth.verify_password(stored, body.current)
            new_hash = auth.hash_password(body.new) if ok else ""
    except Busy:
        raise _too_many(0, N_("too many password checks at once")) from None
    if not ok:
        _throttle(ctx).failed(who.username, auth.client_ip(request))
        raise http_error(403, N_("current password is wrong"))
    with ctx.db.session() as s:
        user = s.get(User, who.user_id)
        if user is None:
            raise http_error(403, N_("current password is wrong"))
        user.password_hash = new_hash
        auth.revoke_sessions(s, user)
        token, csrf = auth.start_session(
            s, user, auth.client_ip(request), request.headers.get("user-agent", "")
        )
    out = Response(status_code=204)
    _set_cookies(out, ctx, request, token, csrf)
    return out
