"""Assemble the engine in one place: database, clock, processes, calendar."""

from __future__ import annotations

from typing import Any

from engine.loans import services as loan_services
from engine.workflow.calendar_store import seed_calendar
from engine.workflow.clock import Clock
from engine.workflow.database import create_db_engine, make_session_factory
from engine.workflow.definitions import seed_shipped_models
from engine.workflow.incidents import RetryPolicy
from engine.workflow.runtime import Engine


def build_engine(database_url: str, clock: Clock | None = None, script_line_budget: int = 10_000,
                 retry_policy: RetryPolicy | None = None, script_limits: dict[str, Any] | None = None,
                 live_cache_size: int = 1_000) -> Engine:
    """Create the engine for a database; nothing is written yet."""
    db = create_db_engine(database_url)
    engine = Engine(make_session_factory(db), clock, script_line_budget, retry_policy, script_limits,
                    live_cache_size)
    loan_services.install(engine)
    return engine


def prepare(engine: Engine, actor: str = "system", seed_models: bool = True) -> None:
    """Seed the calendar and, unless told not to, the shipped models (`init-db`; idempotent)."""
    with engine.transaction() as session:
        seed_calendar(session, engine.clock, actor)
        if seed_models:
            seed_shipped_models(session, engine.clock, engine.operation_names())
