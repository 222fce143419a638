"""Helpers for the web tests: a site with synthetic cameras, users per role, logged-in clients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from oversight.config.loader import load_config
from oversight.events.bus import EventBus
from oversight.store.db import Database
from oversight.store.models import ROLES
from oversight.web.app import create_app
from oversight.web.auth import create_api_token, create_user
from oversight.web.context import AppContext
from oversight.web.synthetic import SyntheticRuntime

PASSWORD = "correct horse battery"


def site_yaml(tmp: Path, cameras: int = 2) -> Path:
    cams = [
        {
            "id": f"cam{i}",
            "name": f"Camera {i}",
            "purpose": "traffic safety on the square",
            "streams": {"record": str(tmp / f"cam{i}.mp4")},
            "location": {"lat": 52.37 + i * 0.001, "lon": 4.89 + i * 0.001, "x": 0.2 + 0.1 * i, "y": 0.5},
            "detect": {"width": 320, "height": 180, "detector": "none"},
            "rules": [
                {
                    "id": "door",
                    "type": "zone",
                    "purpose": "closed area",
                    "polygon": [[0, 0], [100, 0], [100, 100]],
                }
            ],
        }
        for i in range(cameras)
    ]
    path = tmp / "site.yaml"
    data = {
        "site": {"name": "Test site", "timezone": "Europe/Amsterdam", "data_dir": str(tmp / "var")},
        "cameras": cams,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_ctx(db: Database, tmp: Path, cameras: int = 2, runtime: bool = True, **kw: Any) -> AppContext:
    path = site_yaml(tmp, cameras)
    cfg = load_config(path)
    rt = SyntheticRuntime(cfg) if runtime else None
    if rt is not None:
        rt.start()
    return AppContext(
        cfg=cfg, db=db, bus=EventBus(), runtime=rt, config_path=path, cache_dir=tmp / "cache", **kw
    )


def add_users(db: Database, roles: tuple[str, ...] = ROLES) -> None:
    with db.session() as s:
        for role in roles:
            create_user(s, role, PASSWORD, role)


def tokens(db: Database, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
    out = {}
    with db.session() as s:
        for role in roles:
            _, secret = create_api_token(s, f"t-{role}", role, "test")
            out[role] = secret
    return out


def client(ctx: AppContext) -> TestClient:
    return TestClient(create_app(ctx), base_url="http://testserver")


def login(c: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in; returns the CSRF header to send on writes."""
    r = c.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf"]}


def plaza_site(tmp: Path, streets: list[str], purpose: str) -> AppContext:
    """A Jujuy site of synthetic cameras named after squares (the Spanish-language browser tests)."""
    cams = [
        {
            "id": f"cam{i}",
            "name": f"Plaza {n}",
            "purpose": purpose,
            "streams": {"record": str(tmp / f"cam{i}.mp4")},
            "location": {"lat": -24.18 + i * 0.001, "lon": -65.3 + i * 0.001},
            "detect": {"width": 320, "height": 180, "detector": "none"},
        }
        for i, n in enumerate(streets)
    ]
    site = {
        "name": "Centro de monitoreo",
        "timezone": "America/Argentina/Jujuy",
        "data_dir": str(tmp / "var"),
    }
    path = tmp / "site.yaml"
    path.write_text(yaml.safe_dump({"site": site, "cameras": cams}, sort_keys=False))
    cfg = load_config(path)
    rt = SyntheticRuntime(cfg)
    rt.start()
    return AppContext(cfg=cfg, db=None, bus=EventBus(), runtime=rt, config_path=path, cache_dir=tmp / "c")  # type: ignore[arg-type]
