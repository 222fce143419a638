"""Bounded work per request: an oversized body is refused with 413, announced or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from oversight.web.limits import MAX_BODY
from web_support import add_users, client, make_ctx


@pytest.fixture
def ctx(db, tmp_path):  # type: ignore[no-untyped-def]
    c = make_ctx(db, tmp_path, runtime=False)
    add_users(db, ("operator",))
    return c


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * size
        sent += size


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/events/1/ack", "/api/no-such-route"])
def test_an_announced_oversized_body_is_refused(ctx: Any, path: str) -> None:
    r = client(ctx).post(
        path, content=b"{" + b" " * MAX_BODY + b"}", headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_a_streamed_oversized_body_is_refused(ctx: Any) -> None:
    r = client(ctx).post(
        "/api/auth/login", content=_chunks(4 * MAX_BODY), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_normal_bodies_still_work(ctx: Any) -> None:
    from web_support import PASSWORD

    c = client(ctx)
    assert c.post("/api/auth/login", json={"username": "operator", "password": PASSWORD}).status_code == 200
    small = c.post(
        "/api/auth/login", content=_chunks(128 * 1024), headers={"content-type": "application/json"}
    )
    assert small.status_code == 422  # read in full, then refused as bad JSON, not as too large
