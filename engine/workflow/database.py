"""Database engines and transactions, tuned per backend."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from engine.workflow.errors import TransientConflict

# PostgreSQL gives up on a transaction with these: serialization failure, deadlock, lock timeout.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def create_db_engine(url: str, **kwargs: Any) -> sa.Engine:
    """Create an engine; SQLite gets WAL and one writer at a time (BEGIN IMMEDIATE)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _make_sqlite_transactions_immediate(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _make_sqlite_transactions_immediate(engine: sa.Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, so two
    # operations could read the same state and the loser would fail late with "database is
    # locked". Taking the write lock at BEGIN makes writers queue up and read fresh state.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Read-only work takes no write lock: WAL lets it read beside a writer.
        read_only = connection.get_execution_options().get("read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def is_transient(error: sa.exc.DBAPIError) -> bool:
    """A failure that running the same transaction again may not meet (deadlock, busy SQLite)."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return isinstance(error, sa.exc.OperationalError) and "database is locked" in str(error.orig)


@contextmanager
def transaction(factory: sessionmaker[Session], read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    A deadlock or serialization failure is raised as TransientConflict (a 409 if retries fail).
    """
    session = factory()
    if read_only:
        session.bind = session.get_bind().execution_options(read_only=True)
    try:
        with session.begin():
            yield session
    except sa.exc.DBAPIError as error:
        if is_transient(error):
            raise TransientConflict("The database was busy with a conflicting change; try again") from error
        raise
    finally:
        session.close()


def rows_matched(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through `Session.execute` matched.

    The session types every result as a plain Result; a DML statement's is a CursorResult.
    """
    if not isinstance(result, sa.CursorResult):
        raise TypeError(f"{type(result).__name__} has no rowcount: not the result of an UPDATE or DELETE")
    return result.rowcount


def insert_ignoring_conflicts(session: Session, table: sa.Table, *returning: sa.ColumnElement[Any]) -> sa.Insert:
    """An INSERT that skips a row clashing with a unique constraint (a ledger entry written twice).

    Pass `returning` columns to learn whether the row went in: psycopg reports no rowcount here.
    Built once per dialect, table and returning columns (building one per call costs more than running it).
    """
    return _insert_ignoring_conflicts(session.get_bind().dialect.name, table, returning)


@functools.cache
def _insert_ignoring_conflicts(dialect_name: str, table: sa.Table,
                               returning: tuple[sa.ColumnElement[Any], ...]) -> sa.Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing()
    return statement.returning(*returning) if returning else statement
