"""Single sign-on against a real OpenID Connect provider on loopback (panva/oidc-provider, OpenID
certified, run by Node from tests/oidc): code flow with PKCE, groups mapped to roles, no role for
unmapped groups, no account takeover by name, and a callback that cannot be forged or replayed.

Needs Node and ``npm ci --prefix tests/oidc``; skips cleanly without them."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from oversight.config.schema import OidcSettings
from oversight.privacy import audit
from oversight.web.server import BackgroundServer, free_port
from web_support import PASSWORD, add_users, make_ctx

OIDC_DIR = Path(__file__).parent / "oidc"


@pytest.fixture
def sso(db, tmp_path) -> Iterator[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    node = shutil.which("node")
    if node is None or not (OIDC_DIR / "node_modules" / "oidc-provider").exists():
        pytest.skip("needs node and `npm ci --prefix tests/oidc`")
    web_port, idp_port = free_port(), free_port()
    callback = f"http://127.0.0.1:{web_port}/api/auth/oidc/callback"
    idp = subprocess.Popen(
        [node, "provider.mjs", str(idp_port), callback],
        cwd=OIDC_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert idp.stdout is not None and "READY" in idp.stdout.readline()
        ctx = make_ctx(db, tmp_path, cameras=1, runtime=False)
        ctx.cfg.site.security.oidc = OidcSettings(
            issuer=f"http://127.0.0.1:{idp_port}",
            client_id="oversight",
            client_secret="test-client-secret",
            role_map={"cc-supervisors": "supervisor", "cc-operators": "operator"},
        )
        add_users(db, ("admin",))
        with BackgroundServer(ctx, port=web_port) as url:
            yield url, ctx
    finally:
        idp.terminate()
        idp.wait(10)


def _form(page: str, base: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert action, page[:500]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    return urljoin(base, html.unescape(action.group(1))), fields


def sign_in(browser: httpx.Client, url: str, who: str) -> httpx.Response:
    """What a person does in a browser: start at Oversight, log in and consent at the provider;
    returns Oversight's answer to the callback."""
    r = browser.get(url + "/api/auth/oidc/login")
    for _ in range(12):
        if r.is_redirect:
            target = urljoin(str(r.url), r.headers["location"])
            r = browser.get(target)
            if target.startswith(url + "/api/auth/oidc/callback"):
                return r
            continue
        action, fields = _form(r.text, str(r.url))
        if fields.get("prompt") == "login":  # the provider's sign-in form (then its consent form)
            fields.update(login=who, password="any")
        r = browser.post(action, data=fields)
    raise AssertionError("the sign-in never came back to Oversight")


def test_groups_map_to_roles_and_unmapped_get_nothing(sso: tuple[str, Any]) -> None:
    url, ctx = sso
    with httpx.Client(follow_redirects=False) as alice:
        r = sign_in(alice, url, "alice")
        assert r.status_code == 303 and r.headers["location"] == "/"
        me = alice.get(url + "/api/auth/me").json()
        assert (me["username"], me["role"], me["via"]) == ("alice", "supervisor", "session")
    with httpx.Client(follow_redirects=False) as olaf:
        sign_in(olaf, url, "olaf")
        assert olaf.get(url + "/api/auth/me").json()["role"] == "operator"
    with httpx.Client(follow_redirects=False) as bob:
        r = sign_in(bob, url, "bob")
        assert r.status_code == 403 and "no Oversight role" in r.json()["detail"]
        assert bob.get(url + "/api/auth/me").status_code == 401
    with ctx.db.session() as s:
        acts = [(e.actor, e.action) for e in audit.query(s) if e.action.startswith("auth.")]
    assert acts == [("alice", "auth.login"), ("olaf", "auth.login"), ("oidc", "auth.oidc_refused")]


def test_single_sign_on_cannot_take_over_a_local_account(sso: tuple[str, Any]) -> None:
    url, ctx = sso
    add_users(ctx.db, ("operator",))
    with ctx.db.session() as s:  # a local account that happens to share the provider's user name
        from sqlalchemy import update

        from oversight.store.models import User

        s.execute(update(User).where(User.username == "operator").values(username="alice"))
    with httpx.Client(follow_redirects=False) as b:
        sign_in(b, url, "alice")
        me = b.get(url + "/api/auth/me").json()
    assert me["username"] == "alice-2" and me["role"] == "supervisor"
    with httpx.Client() as local:  # the local alice still logs in with her own password, as herself
        r = local.post(url + "/api/auth/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["role"] == "operator"
    with httpx.Client() as c:  # and the single-sign-on account has no password at all
        r = c.post(url + "/api/auth/login", json={"username": "alice-2", "password": "!oidc"})
        assert r.status_code == 401


def test_callback_cannot_be_forged_or_replayed(sso: tuple[str, Any]) -> None:
    url, _ = sso
    with httpx.Client(follow_redirects=False) as victim:
        r = victim.get(url + "/api/auth/oidc/login")
        location = r.headers["location"]
        state = re.search(r"[?&]state=([^&]+)", location)
        assert state is not None
        # an attacker's browser presents the victim's state: no cookie binds it there
        with httpx.Client(follow_redirects=False) as attacker:
            r = attacker.get(url + "/api/auth/oidc/callback", params={"state": state.group(1), "code": "x"})
            assert r.status_code == 400 and "not started by this browser" in r.json()["detail"]
    with httpx.Client(follow_redirects=False) as b:
        r = sign_in(b, url, "olaf")
        assert r.status_code == 303
        callback = str(r.request.url)
    # whoever captured the callback URL and the state cookie cannot use them again
    state_value = re.search(r"[?&]state=([^&]+)", callback)
    assert state_value is not None
    with httpx.Client(follow_redirects=False) as thief:
        thief.cookies.set("ov_oidc", state_value.group(1), domain="127.0.0.1", path="/api/auth/oidc")
        replay = thief.get(callback)
        assert replay.status_code == 400 and "already used" in replay.json()["detail"]
        assert thief.get(url + "/api/auth/me").status_code == 401


def _token(key: Any, **over: Any) -> str:
    import time as _t

    from joserfc import jwt as _jwt

    now = int(_t.time())
    claims = {"iss": "https://idp.example", "aud": "oversight", "sub": "u1", "nonce": "n1"}
    claims |= {"iat": now, "exp": now + 300, "groups": ["cc-operators"]} | over
    return _jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


@pytest.mark.parametrize(
    ("change", "ok"),
    [
        ({}, True),
        ({"nonce": "other"}, False),  # a token minted for another login
        ({"aud": "someone-else"}, False),  # minted for another client
        ({"iss": "https://evil.example"}, False),
        ({"exp": 1_000_000}, False),  # long expired
        ("other key", False),  # not signed by the issuer's published keys
    ],
)
def test_id_token_checks(change: Any, ok: bool) -> None:
    from joserfc.jwk import KeySet, RSAKey

    from oversight.web.oidc import OidcClient, OidcError

    issuer_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    keys = KeySet([issuer_key])
    client = OidcClient(
        OidcSettings(
            issuer="https://idp.example", client_id="oversight", role_map={"cc-operators": "operator"}
        )
    )
    tok = _token(other) if change == "other key" else _token(issuer_key, **change)
    if ok:
        assert client.identity(client._verify(tok, keys, "n1")).role == "operator"
    else:
        with pytest.raises(OidcError):
            client._verify(tok, keys, "n1")
