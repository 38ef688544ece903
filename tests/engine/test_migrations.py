"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.models import Base
from engine.platform.migrate import upgrade
from engine.workflow.database import create_db_engine
from tests.conftest import ON_POSTGRES, POSTGRES_URL


def _differences(url: str) -> list:
    db = create_db_engine(url)
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    db.dispose()
    return diff


def test_migrations_match_the_models(tmp_path, _postgres_schema):
    url = POSTGRES_URL if ON_POSTGRES else f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    assert _differences(url) == []
