"""Which optional backends a benchmark can use on this install, and how a part that fails is kept
apart: a missing driver or a server that is down becomes a ``skipped`` note in the JSON, an error
in one part an ``error`` entry, and every other part's figures are still printed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the given URL"


def postgres_unavailable(admin_url: str, timeout_s: int = 3) -> str | None:
    """Why PostgreSQL cannot be benchmarked here (driver not installed, server not reachable), or
    None when a connection to ``admin_url`` works."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return f"PostgreSQL skipped: driver psycopg not installed (pip install 'psycopg[binary]'): {exc}"
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, connect_args={"connect_timeout": timeout_s})
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        where = _shown(admin_url)
        return f"PostgreSQL skipped: not reachable at {where}: {type(exc).__name__}: {first}"[:400]
    finally:
        engine.dispose()
    return None


def guarded(name: str, part: Callable[[], Any]) -> Any:
    """Run one benchmark part; an exception becomes ``{"error": ...}`` instead of losing the rest."""
    try:
        return part()
    except Exception as exc:
        log.exception("benchmark part %s failed", name)
        return {"error": f"{type(exc).__name__}: {exc}"[:400]}
