"""The timer sweep: claim due timers from the projection and fire them, each exactly once.

On PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of worker
processes can sweep at once: a row locked by one is skipped by the others, and a timer that
was fired is no longer `waiting` when the lock is released. On SQLite the whole transaction
holds the write lock (BEGIN IMMEDIATE), so sweeps simply take turns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.database import is_postgresql
from engine.errors import EngineError
from engine.models import ProcessInstance, TimerRow
from engine.runtime import Engine

log = logging.getLogger(__name__)
SWEEP_ACTOR = "system:timer"


@dataclass
class SweepResult:
    claimed: int = 0
    instances: int = 0
    failed: int = 0


def claim_due_timers(session: Session, engine: Engine, limit: int) -> list[TimerRow]:
    """Lock up to `limit` waiting timers that are due by the engine's clock."""
    query = (
        sa.select(TimerRow)
        .where(TimerRow.state == "waiting", TimerRow.due_at <= engine.clock.now())
        .order_by(TimerRow.due_at, TimerRow.id)
        .limit(limit)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def sweep_due_timers(engine: Engine, batch_size: int = 100, max_batches: int | None = None) -> SweepResult:
    """Fire every due timer, a batch per transaction; return what was done."""
    total = SweepResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        result = _sweep_one_batch(engine, batch_size)
        batches += 1
        total.claimed += result.claimed
        total.instances += result.instances
        total.failed += result.failed
        if result.claimed < batch_size:
            break
    return total


def _sweep_one_batch(engine: Engine, batch_size: int) -> SweepResult:
    result = SweepResult()
    with engine.transaction() as session:
        claimed = claim_due_timers(session, engine, batch_size)
        result.claimed = len(claimed)
        instance_ids = sorted({row.instance_id for row in claimed})
        for instance_id in instance_ids:
            # A savepoint per instance: one broken model must not stop the others' timers.
            savepoint = session.begin_nested()
            try:
                instance = session.get(ProcessInstance, instance_id)
                operation = engine.open(session, instance)
                operation.fire_due_timers()
                operation.save(SWEEP_ACTOR)
                savepoint.commit()
                result.instances += 1
            except EngineError as err:
                savepoint.rollback()
                result.failed += 1
                log.error("Timer of instance %s could not fire: %s", instance_id, err)
                _park_failed_timers(session, [row for row in claimed if row.instance_id == instance_id])
    return result


def _park_failed_timers(session: Session, rows: list[TimerRow]) -> None:
    """Mark timers that failed to fire so the sweep does not retry them forever; admins see them."""
    for row in rows:
        session.execute(sa.update(TimerRow).where(TimerRow.id == row.id).values(state="failed"))
