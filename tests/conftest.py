"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from config import TestingConfig
from engine.loans import services
from engine.loans.actors import ENTERPRISE, OFFICER, Actor
from engine.models import Base, Enterprise, Institution, LoanProduct
from engine.platform import access
from engine.platform.bootstrap import build_engine, prepare
from engine.platform.personal_data import install_from_settings
from engine.workflow.clock import ControlledClock
from engine.workflow.database import create_db_engine
from engine.workflow.runtime import Engine

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith("postgresql")
# The PostgreSQL server of tests that need one whatever the suite runs on (the machine's own on SQLite runs).
POSTGRES_SERVER_URL = POSTGRES_URL if ON_POSTGRES else "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_postgres_database(name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database `name` on POSTGRES_SERVER_URL's server; its URL; dropped afterwards."""
    server = create_db_engine(POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


CST = datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo


@pytest.fixture(autouse=True, scope="session")
def _personal_data_keys():
    """The keyring the testing config derives (create_app installs the same one)."""
    install_from_settings("", "", TestingConfig.personal_data_fallback_secret())


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """Hash test passwords with one PBKDF2 round instead of scrypt (test_password_hashing checks the real one)."""
    monkeypatch.setattr(access, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1")


def cst(text: str) -> datetime:
    """An instant written in Beijing time, e.g. cst('2026-09-30 10:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


@pytest.fixture(scope="session")
def _postgres_schema() -> str | None:
    if not ON_POSTGRES:
        return None
    db = create_db_engine(POSTGRES_URL)
    with db.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    from engine.platform.migrate import upgrade

    upgrade(POSTGRES_URL)
    db.dispose()
    return POSTGRES_URL


def _empty_postgres(url: str) -> None:
    """Empty every table and restart every sequence, as TRUNCATE ... RESTART IDENTITY did, in one statement.

    Rows are deleted with triggers off (the append-only ledgers' and the foreign keys'): a TRUNCATE of the forty
    tables took about 0.2 s a test, most of the per-test cost on PostgreSQL."""
    deletes = " ".join(f'DELETE FROM "{table.name}";' for table in reversed(Base.metadata.sorted_tables))
    db = create_db_engine(url)
    with db.begin() as conn:
        conn.exec_driver_sql(
            "DO $$ BEGIN PERFORM set_config('session_replication_role', 'replica', true); " + deletes +
            " PERFORM setval(c.oid, 1, false) FROM pg_class c"
            " WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace; END $$")
    db.dispose()


@pytest.fixture
def database_url(tmp_path, _postgres_schema) -> str:
    if _postgres_schema:
        _empty_postgres(_postgres_schema)
        return _postgres_schema
    url = f"sqlite:///{tmp_path / 'test.db'}"
    db = create_db_engine(url)
    Base.metadata.create_all(db)
    db.dispose()
    return url


@pytest.fixture
def cli_database_url(tmp_path, _postgres_schema) -> str:
    """An empty database for the CLI's own `init-db` (SQLite: a new file; PostgreSQL: emptied tables)."""
    if _postgres_schema:
        _empty_postgres(_postgres_schema)
        return _postgres_schema
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def clock() -> ControlledClock:
    return ControlledClock(cst("2026-09-30 10:00"))


@pytest.fixture
def engine(database_url, clock) -> Engine:
    engine = build_engine(database_url, clock)
    prepare(engine)
    yield engine
    engine.session_factory.kw["bind"].dispose()


@dataclass
class Parties:
    enterprise: Actor
    other_enterprise: Actor
    officer_a: Actor
    officer_b: Actor
    bank_a_id: int
    bank_b_id: int
    product_a_id: int
    product_b_id: int


@pytest.fixture
def parties(engine) -> Parties:
    with engine.transaction() as session:
        bank_a, bank_b = Institution(code="A", name="Bank A"), Institution(code="B", name="Bank B")
        ent, other = (Enterprise(name="Ent", credit_code="91430100MA4L000001"),
                      Enterprise(name="Other", credit_code="91430100MA4L000002"))
        session.add_all([bank_a, bank_b, ent, other])
        session.flush()
        product_a = LoanProduct(institution_id=bank_a.id, code="PA", name="Product A")
        product_b = LoanProduct(institution_id=bank_b.id, code="PB", name="Product B")
        session.add_all([product_a, product_b])
        session.flush()
        return Parties(
            enterprise=Actor("ent-user", ENTERPRISE, enterprise_id=ent.id),
            other_enterprise=Actor("other-user", ENTERPRISE, enterprise_id=other.id),
            officer_a=Actor("officer-a", OFFICER, institution_id=bank_a.id),
            officer_b=Actor("officer-b", OFFICER, institution_id=bank_b.id),
            bank_a_id=bank_a.id, bank_b_id=bank_b.id, product_a_id=product_a.id, product_b_id=product_b.id,
        )


def application_input(parties: Parties, now: datetime, **overrides) -> dict:
    data = {
        "institution_id": parties.bank_a_id, "product_id": parties.product_a_id, "amount": "500000.00",
        "term_months": 12, "purpose": "Working capital",
        "authorization": {
            "scope": "Enterprise credit report, this application only", "granted_by": "ent-user",
            "granted_at": now.isoformat(), "expires_at": (now + timedelta(days=90)).isoformat(),
        },
    }
    data.update(overrides)
    return data


@pytest.fixture
def submit(engine, parties, clock):
    """Submit an application to bank A now; return its id."""
    def _submit(**overrides) -> int:
        return services.submit(engine, parties.enterprise, application_input(parties, clock.now(), **overrides)).id
    return _submit


APPROVAL = {"amount": Decimal("400000.00"), "annual_rate": Decimal("3.85"), "term_months": 12}


def rows(engine: Engine, query) -> list:
    with engine.transaction() as session:
        return list(session.execute(query).all())


def scalar(engine: Engine, query):
    with engine.transaction() as session:
        return session.scalar(query)


__all__ = ["APPROVAL", "application_input", "cst", "rows", "scalar", "sa"]
