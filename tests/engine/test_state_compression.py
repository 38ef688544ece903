"""Migration 0022: on PostgreSQL a case's saved workflow state is compressed with lz4, not pglz (pglz cost
the sweep about a quarter of its time per case, in the PostgreSQL backend). Runs against the machine's
PostgreSQL in both suites: SQLite stores the state as it is and has nothing to check."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.platform.migrate import upgrade
from tests.conftest import rows, scratch_postgres_database

SCRATCH = f"state_compression_{os.getpid()}"


@pytest.fixture
def database_url():
    """A scratch PostgreSQL database brought to the head revision (the engine and parties fixtures use it)."""
    with scratch_postgres_database(SCRATCH) as url:
        upgrade(url)
        yield url


def test_a_saved_state_is_stored_with_lz4_and_read_back(engine, parties, submit):
    [(method,)] = rows(engine, sa.text(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = 'process_instance'::regclass "
        "AND attname = 'state'"))
    assert method == "l"
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)  # restored from the stored state, saved again
    stored = rows(engine, sa.text("SELECT pg_column_compression(state), octet_length(state), pg_column_size(state) "
                                  "FROM process_instance"))
    assert stored and all(compression == "lz4" for compression, _, _ in stored)
    assert all(size < length / 2 for _, length, size in stored)  # compressed, not merely stored out of line
