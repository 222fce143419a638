"""Shared fixtures. The database fixture runs on SQLite by default and on PostgreSQL when
OVERSIGHT_TEST_DB=postgres (CI runs the suite both ways). Each test session gets its own
PostgreSQL database so parallel runs never see each other's rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import oversight.events.models  # noqa: F401  (every table on Base.metadata, emptied per test)
import oversight.incidents.models  # noqa: F401
import oversight.privacy.models  # noqa: F401
import oversight.store.health  # noqa: F401
import oversight.web.console_models  # noqa: F401
import oversight.web.models  # noqa: F401
from oversight.store.base import Base
from oversight.store.db import Database, scratch_postgres

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets"
PG_ADMIN_URL = os.environ.get("OVERSIGHT_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def backend() -> str:
    return os.environ.get("OVERSIGHT_TEST_DB", "sqlite")


def asset(rel: str) -> Path:
    """Path to a file under ../shared/assets, or skip the test cleanly when it is absent."""
    p = ASSETS / rel
    if not p.exists():
        pytest.skip(f"test asset not present: {p}")
    return p


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend() == "postgres":
        with scratch_postgres(PG_ADMIN_URL, "oversight_t") as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'oversight.db'}"


@pytest.fixture(scope="session")
def migrated_db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    """A migrated database, emptied before each test."""
    with migrated_db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield migrated_db


# Fixtures through which a test reaches the backend under test. On the PostgreSQL run a test that
# uses none of them (and is not marked as choosing its backend itself) would only repeat its SQLite
# run, so it is left out: the video, browser-free privacy and config tests run once. So is a test
# marked ``one_backend``: it needs a database, but what it measures does not depend on which.
BACKEND_FIXTURES = {"db_url", "private_db"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Let live encodes that tests left idling out end before the interpreter does: a daemon thread
    still inside OpenCV or ONNX Runtime at exit aborts the process (exit 134 after a green run)."""
    import threading

    for t in threading.enumerate():
        if t.name.startswith("h264-"):
            t.join(15)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if backend() != "postgres":
        return
    keep, drop = [], []
    for item in items:
        uses_backend = BACKEND_FIXTURES & set(getattr(item, "fixturenames", ()))
        marked = item.get_closest_marker("postgres") or item.get_closest_marker("both_backends")
        once = item.get_closest_marker("one_backend")
        (keep if (uses_backend or marked) and not once else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
