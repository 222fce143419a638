"""Persistence: SQLAlchemy 2 models, Alembic migrations, SQLite (WAL) by default, PostgreSQL by URL."""

from oversight.store.db import Database

__all__ = ["Database"]
