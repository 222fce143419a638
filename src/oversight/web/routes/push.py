"""HTTP API of Web Push: the installation's VAPID public key, this person's subscriptions (one per
browser), and a test notice to their own devices. What is sent when is ``oversight.web.push``.

Only people logged in subscribe (an API token has no phone); a subscription belongs to the person
who made it, and an endpoint subscribed again by someone else on the same browser moves to them.
Endpoints must be https (every browser's push service is), so the server posts nowhere else.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from oversight import i18n
from oversight.i18n import N_
from oversight.web.audit import audit
from oversight.web.auth import Principal, get_ctx, require
from oversight.web.context import AppContext
from oversight.web.errors import http_error
from oversight.web.models import PushSubscription
from oversight.web.push import Notice, PushSender, endpoint_hash, public_key

router = APIRouter(prefix="/api/push", tags=["push"])
SUBSCRIBERS = require("push.subscribe")


def _b64(value: str, size: int, what: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64url") from None
    if len(raw) != size:
        raise ValueError(f"{what} must be {size} bytes")
    return value.rstrip("=")


class Keys(BaseModel):
    p256dh: str = Field(max_length=128)
    auth: str = Field(max_length=64)

    @field_validator("p256dh")
    @classmethod
    def _point(cls, v: str) -> str:
        return _b64(v, 65, "p256dh")  # an uncompressed P-256 point

    @field_validator("auth")
    @classmethod
    def _secret(cls, v: str) -> str:
        return _b64(v, 16, "auth")


class SubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the browser, plus the app's language."""

    endpoint: str = Field(min_length=12, max_length=2048)
    keys: Keys
    expirationTime: float | None = None  # noqa: N815 - the browser's name
    locale: str | None = Field(None, max_length=16)

    @field_validator("endpoint")
    @classmethod
    def _https(cls, v: str) -> str:
        u = urlsplit(v)
        if u.scheme != "https" or not u.hostname or u.username or u.password:
            raise ValueError("a push endpoint is an https URL without credentials")
        return v


class EndpointIn(BaseModel):
    endpoint: str = Field(min_length=12, max_length=2048)


def _person(who: Principal) -> int:
    if who.via != "session" or who.user_id is None:
        raise http_error(403, N_("notifications are for people logged in, not API tokens"))
    return who.user_id


def sender(ctx: AppContext) -> PushSender:
    """The installation's sender (set by the composition root), else one made on first use."""
    found = ctx.extras.get("push_sender")
    if found is None:
        found = ctx.extras["push_sender"] = PushSender(ctx.db, ctx.cfg)
    return found


@router.get("/key")
def vapid_public_key(request: Request, who: Principal = Depends(SUBSCRIBERS)) -> dict[str, str]:
    return {"public_key": public_key(sender(get_ctx(request)).key)}


@router.get("/subscriptions")
def my_subscriptions(request: Request, who: Principal = Depends(SUBSCRIBERS)) -> list[dict[str, Any]]:
    """This person's subscribed browsers: the push service's host and when, never the keys."""
    user_id = _person(who)
    with get_ctx(request).db.session() as s:
        rows = s.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id)).all()
        return [
            {
                "id": r.id,
                "service": urlsplit(r.endpoint).hostname,
                "locale": r.locale,
                "created_at": r.created_at.isoformat(),
                "last_sent_at": r.last_sent_at.isoformat() if r.last_sent_at else None,
            }
            for r in rows
        ]


@router.post("/subscriptions", status_code=201)
def subscribe(
    body: SubscriptionIn, request: Request, who: Principal = Depends(SUBSCRIBERS)
) -> dict[str, Any]:
    user_id = _person(who)
    key = endpoint_hash(body.endpoint)
    with get_ctx(request).db.session() as s:
        row = s.scalars(select(PushSubscription).where(PushSubscription.endpoint_hash == key)).first()
        if row is None:
            row = PushSubscription(endpoint_hash=key, endpoint=body.endpoint)
            s.add(row)
        row.user_id, row.p256dh, row.auth = user_id, body.keys.p256dh, body.keys.auth
        row.locale = i18n.normalize(body.locale)
        s.flush()
        audit(
            s,
            who,
            "push.subscribe",
            "push_subscription",
            row.id,
            detail={"service": urlsplit(body.endpoint).hostname},
        )
        return {"id": row.id}


@router.delete("/subscriptions", status_code=204)
def unsubscribe(body: EndpointIn, request: Request, who: Principal = Depends(SUBSCRIBERS)) -> Response:
    user_id = _person(who)
    with get_ctx(request).db.session() as s:
        row = s.scalars(
            select(PushSubscription).where(
                PushSubscription.endpoint_hash == endpoint_hash(body.endpoint),
                PushSubscription.user_id == user_id,
            )
        ).first()
        if row is not None:
            audit(s, who, "push.unsubscribe", "push_subscription", row.id)
            s.delete(row)
    return Response(status_code=204)


@router.post("/test")
def test_notice(request: Request, who: Principal = Depends(SUBSCRIBERS)) -> dict[str, int]:
    """A notice to this person's own devices, to see that notifications arrive."""
    user_id = _person(who)
    notice = Notice(
        "test", N_("Notifications from Oversight reach this device"), "/", "push.subscribe", tag="test"
    )
    return {"sent": sender(get_ctx(request)).deliver(notice, only_user=user_id)}
