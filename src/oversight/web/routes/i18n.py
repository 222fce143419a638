"""The browser's message catalogue and each user's language: the UI's language is chosen here.

The catalogue is public (the log-in page is translated too). Its language is, in order: ``?locale=``,
the logged-in user's stored preference, the browser's Accept-Language, English.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from oversight import i18n
from oversight.i18n import N_
from oversight.store.models import User
from oversight.web.auth import Principal, get_ctx, require, resolve_principal
from oversight.web.context import AppContext
from oversight.web.errors import http_error

router = APIRouter(prefix="/api/i18n", tags=["i18n"])


class Preference(BaseModel):
    locale: str | None = Field(None, max_length=16, description="es, es_AR, es_EC, en; null: the browser's")


class PreferenceOut(BaseModel):
    preference: str | None
    locale: str
    available: list[str]


def stored_preference(conn: HTTPConnection, user_id: int | None) -> str | None:
    """The user's stored language (a request's or a WebSocket's user), None to follow the browser."""
    if user_id is None:
        return None
    ctx: AppContext = conn.app.state.ctx
    with ctx.db.session() as s:
        user = s.get(User, user_id)
        return user.locale if user is not None else None


def request_locale(request: Request, principal: Principal | None) -> str:
    """The language to answer this request in: the user's preference, else Accept-Language."""
    pref = stored_preference(request, principal.user_id) if principal else None
    return i18n.negotiate(request.headers.get("accept-language"), pref)


@router.get("/catalog")
def catalog(request: Request, locale: str | None = Query(None, max_length=16)) -> dict[str, object]:
    ctx = get_ctx(request)
    if not i18n.normalize(locale):
        try:
            principal = resolve_principal(ctx, request, "GET")
        except HTTPException:
            principal = None
        locale = request_locale(request, principal)
    out = i18n.catalog_json(str(locale))
    out["timezone"] = ctx.cfg.site.timezone
    return out


@router.get("/preference", response_model=PreferenceOut)
def get_preference(request: Request, who: Principal = Depends(require("session.self"))) -> PreferenceOut:
    pref = stored_preference(request, who.user_id)
    return PreferenceOut(preference=pref, locale=request_locale(request, who), available=list(i18n.LOCALES))


@router.put("/preference", response_model=PreferenceOut)
def set_preference(
    body: Preference, request: Request, who: Principal = Depends(require("session.self"))
) -> PreferenceOut:
    """Store the user's language (null: follow the browser). API tokens have no user to store it on."""
    if who.user_id is None:
        raise http_error(400, N_("API tokens have no language preference"))
    locale = i18n.normalize(body.locale) if body.locale else None
    if body.locale and locale is None:
        raise http_error(
            422,
            N_("unknown language {locale!r}; available: {choices}"),
            locale=body.locale,
            choices=", ".join(i18n.LOCALES),
        )
    with get_ctx(request).db.session() as s:
        user = s.get(User, who.user_id)
        if user is not None:
            user.locale = locale
    return PreferenceOut(preference=locale, locale=request_locale(request, who), available=list(i18n.LOCALES))
