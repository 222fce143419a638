"""Single sign-on through OpenID Connect: authorization code flow with PKCE, roles from groups.

The provider proves who someone is; Oversight decides what they may do. The provider's groups
claim maps to one role through ``site.security.oidc.role_map`` (the first listed group the user
has wins); someone in no mapped group gets nothing. Accounts are linked by (issuer, subject),
never by a name the provider chooses, so a provider cannot take over a local account.

Invariant: a callback is accepted only with the state of a login this browser started in the
last ten minutes (bound by an HttpOnly cookie), that login's PKCE verifier, and an ID token
signed with the issuer's published keys for this client, carrying that login's nonce.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from oversight.config.schema import OidcSettings
from oversight.i18n import N_, Message, TextError
from oversight.store.models import User
from oversight.web.models import OidcLink

STATE_COOKIE = "ov_oidc"
PENDING_TTL_S = 600.0
META_TTL_S = 3600.0
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]


class OidcError(TextError):
    """A sign-in that must not succeed; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str | Message, /, status: int = 400, **params: Any):
        super().__init__(message, **params)
        self.status = status


@dataclass(frozen=True)
class Pending:
    nonce: str
    verifier: str
    redirect_uri: str
    created: float


@dataclass(frozen=True)
class Identity:
    subject: str
    username: str
    role: str
    groups: tuple[str, ...]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class OidcClient:
    """One provider: discovery and keys (cached), pending logins (in memory, bounded)."""

    def __init__(self, cfg: OidcSettings, http: httpx.Client | None = None):
        self.cfg = cfg
        self.http = http or httpx.Client(timeout=10)
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._meta: tuple[float, dict[str, Any], KeySet] | None = None

    def metadata(self, refresh: bool = False) -> tuple[dict[str, Any], KeySet]:
        with self._lock:
            cached = self._meta
        if cached is not None and not refresh and time.monotonic() - cached[0] < META_TTL_S:
            return cached[1], cached[2]
        url = self.cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            meta = self.http.get(url).raise_for_status().json()
            keys = KeySet.import_key_set(self.http.get(meta["jwks_uri"]).raise_for_status().json())
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise OidcError(
                N_("the identity provider is unreachable or misconfigured ({exc})"), 502, exc=exc
            ) from None
        if meta.get("issuer") != self.cfg.issuer:
            raise OidcError(N_("the provider's discovery document names another issuer"), 502)
        with self._lock:
            self._meta = (time.monotonic(), meta, keys)
        return meta, keys

    def start(self, redirect_uri: str) -> tuple[str, str]:
        """Begin a login: returns (the provider URL to send the browser to, the state)."""
        meta, _ = self.metadata()
        state, nonce, verifier = (
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(48),
        )
        now = time.monotonic()
        with self._lock:
            for k in [k for k, p in self._pending.items() if now - p.created > PENDING_TTL_S]:
                del self._pending[k]
            if len(self._pending) > 10_000:  # bound memory against a flood of started logins
                self._pending.pop(next(iter(self._pending)))
            self._pending[state] = Pending(nonce, verifier, redirect_uri, now)
        query = {
            "response_type": "code",
            "client_id": self.cfg.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.cfg.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
        }
        return f"{meta['authorization_endpoint']}?{urlencode(query)}", state

    def finish(self, state: str, cookie_state: str | None, code: str) -> Identity:
        """Check the callback, redeem the code and verify the ID token; returns who signed in."""
        if not cookie_state or not secrets.compare_digest(state, cookie_state):
            raise OidcError(N_("this sign-in was not started by this browser"))
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.created > PENDING_TTL_S:
            raise OidcError(N_("this sign-in expired or was already used; start again"))
        meta, keys = self.metadata()
        auth = (self.cfg.client_id, self.cfg.client_secret or "")
        body = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.verifier,
        }
        try:
            tokens = self.http.post(meta["token_endpoint"], data=body, auth=auth).raise_for_status().json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(N_("the provider refused the code ({exc})"), 401, exc=exc) from None
        claims = self._verify(str(tokens.get("id_token", "")), keys, pending.nonce)
        return self.identity(claims)

    def _verify(self, id_token: str, keys: KeySet, nonce: str) -> dict[str, Any]:
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.cfg.issuer},
                aud={"essential": True, "value": self.cfg.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(
                N_("the ID token is not valid ({kind})"), 401, kind=exc.__class__.__name__
            ) from None
        return dict(token.claims)

    def identity(self, claims: dict[str, Any]) -> Identity:
        raw = claims.get(self.cfg.groups_claim) or []
        groups = tuple(str(g) for g in (raw if isinstance(raw, list) else [raw]))
        role = next((r for g, r in self.cfg.role_map.items() if g in groups), None)
        if role is None:
            raise OidcError(N_("your account at the identity provider has no Oversight role"), 403)
        name = str(claims.get(self.cfg.username_claim) or claims["sub"])
        username = re.sub(r"[^A-Za-z0-9_.@-]", "", name)[:56] or "user"
        return Identity(str(claims["sub"]), username, role, groups)


NO_PASSWORD = "!oidc"  # not an argon2 hash: password logins to a single-sign-on account always fail


def link_account(session: Session, issuer: str, who: Identity) -> tuple[User, str | None]:
    """The local account of (issuer, subject), created on first sign-in; its role follows the
    provider's groups. Returns (user, previous role when it changed)."""
    link = session.get(OidcLink, (issuer, who.subject))
    if link is not None:
        user = session.get(User, link.user_id)
        if user is None:
            raise OidcError(N_("the linked account is gone"), 403)
        if not user.active:
            raise OidcError(N_("this account is disabled"), 403)
        before = user.role if user.role != who.role else None
        user.role = who.role
        return user, before
    name, n = who.username, 1
    while session.scalar(select(User.id).where(User.username == name)) is not None:
        n += 1
        name = f"{who.username}-{n}"
    user = User(username=name, password_hash=NO_PASSWORD, role=who.role, active=True)
    session.add(user)
    session.flush()
    session.add(OidcLink(issuer=issuer, subject=who.subject, user_id=user.id))
    return user, None
