"""Alembic environment: the URL comes from the caller (engine.platform.migrate) or DATABASE_URL."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from engine.models import Base
from engine.workflow.database import create_db_engine

config = context.config
target_metadata = Base.metadata


def _migrate(connection: sa.Connection) -> None:
    """Run the pending migrations on `connection`.

    On SQLite a batch migration rebuilds a table (copy, drop, rename); with foreign keys enforced, dropping a
    table other rows refer to fails (or would cascade). They are off while the migrations run (the pragma
    only takes effect outside a transaction), every reference is checked before the commit, then on again.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"The migration left rows referring to nothing: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL to the database to migrate")
    engine = create_db_engine(url)
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


run_migrations_online()
