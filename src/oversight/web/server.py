"""Run the web app in-process with uvicorn (``oversight serve`` and ``oversight demo`` call this)."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import uvicorn

from oversight.web.app import create_app
from oversight.web.auth import ensure_bootstrap
from oversight.web.context import AppContext

log = logging.getLogger(__name__)


def login_hint(ctx: AppContext, base_url: str) -> str:
    """What to print at start: the URL, and the one-time bootstrap link while there are no users."""
    secret = ensure_bootstrap(ctx)
    if secret is None:
        return f"Oversight is at {base_url}  (log in with your account; add one with `oversight users add`)"
    return (
        f"Oversight is at {base_url}\n"
        f"No accounts yet. Create the first admin (one-time link, works once):\n"
        f"  {base_url}/#/bootstrap?secret={secret}\n"
        f"or run: oversight users add NAME --role admin"
    )


def make_server(
    ctx: AppContext, host: str = "127.0.0.1", port: int = 8000, **uvicorn_options: Any
) -> uvicorn.Server:
    app = create_app(ctx)
    trusted = ctx.cfg.site.security.trusted_proxies  # X-Forwarded-* believed only from these
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=uvicorn_options.pop("log_level", "warning"),
        ws="websockets-sansio",
        # live video is H.264: deflating it per message burns CPU per viewer and saves nothing
        ws_per_message_deflate=uvicorn_options.pop("ws_per_message_deflate", False),
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) or None,
        timeout_graceful_shutdown=uvicorn_options.pop("timeout_graceful_shutdown", 2),
        **uvicorn_options,
    )
    return uvicorn.Server(config)


def serve(ctx: AppContext, host: str = "127.0.0.1", port: int = 8000, **uvicorn_options: Any) -> None:
    """Serve until interrupted (blocks). Prints the URL and, on a fresh site, the bootstrap link."""
    server = make_server(ctx, host, port, **uvicorn_options)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(login_hint(ctx, f"http://{shown}:{port}"), flush=True)
    server.run()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class BackgroundServer:
    """uvicorn in a thread, for tests, the bench and the demo: ``with BackgroundServer(ctx) as url:``."""

    def __init__(self, ctx: AppContext, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.server = make_server(ctx, host, self.port)
        self.thread = threading.Thread(target=self.server.run, name="oversight-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        import time

        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
