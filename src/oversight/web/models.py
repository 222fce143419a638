"""Tables of the web app: browser sessions, API tokens, TOTP second factors and changes pending a
second person.

Only hashes of session and token secrets are stored; a TOTP seed must be recoverable (the server
recomputes codes from it), so it is stored encrypted (``web.totp``) in a table no API returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from oversight.store.base import Base, UTCDateTime, utcnow


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; we keep its SHA-256."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")


class ApiToken(Base):
    """A bearer token for an integration, scoped to one role. Shown once, stored hashed."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UserTotp(Base):
    """A user's TOTP seed. Unconfirmed until the first correct code; ``last_step`` blocks replay."""

    __tablename__ = "user_totp"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(255))  # "nacl:" + base64 of the encrypted seed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class OidcLink(Base):
    """A local account signed in through an OpenID Connect provider, keyed by (issuer, subject):
    never by a user name the provider could choose, so no provider can take over a local account."""

    __tablename__ = "oidc_links"
    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginFailure(Base):
    """Failed logins per account, client or (account, client), shared by a site's web servers."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    fails: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[float] = mapped_column(Float)  # wall-clock seconds of the last failure


class PendingChange(Base):
    """A change that could expose people, waiting for a second person (``oversight.web.duties``).

    ``before``/``after`` are what the audit log records; ``payload`` is what applying needs (never a
    plain secret: passwords are stored as their argon2 hash, tokens by id)."""

    __tablename__ = "pending_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # why it needs a second person
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class EndedSession(Base):
    """A browser session an administrator ended (disabled the account, changed its role, reset its
    password or second factor, or logged it out everywhere). The session row is deleted at once so
    nothing can use it; this tombstone, keyed by the same token hash, lets the login page say why,
    once, after the browser is bounced there. Tombstones older than ``ENDED_KEEP`` are removed."""

    __tablename__ = "ended_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # a key of web.auth.END_REASONS
    ended_by: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PushSubscription(Base):
    """A browser of a user subscribed to Web Push (the ``PushSubscription`` the browser's push
    service issued): where to send and the keys to encrypt for it. Removed when the user turns it
    off, the account's sessions all end, or the push service answers 404/410."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256: endpoints are long
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(128))  # the browser's P-256 key, base64url
    auth: Mapped[str] = mapped_column(String(64))  # the 16-byte auth secret, base64url
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the app's language then
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
