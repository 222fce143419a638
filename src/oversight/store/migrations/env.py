"""Alembic environment: runs on the connection ``Database.migrate`` hands over."""

from alembic import context
from sqlalchemy import create_engine

from oversight.store.base import Base

# Only the tables whose models are imported are on the metadata; the migrations themselves are
# explicit, so nothing here depends on that. (For autogenerate, import the feature models first.)
config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is None:
        engine = create_engine(config.attributes["connection_url"])
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
