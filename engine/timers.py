"""The timer sweep: find instances with due timers in the projection and fire them, once each.

On PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP LOCKED` on the instance rows, so any
number of worker processes can sweep at once: an instance locked by one is skipped by the
others, and its timers are no longer `waiting` when the lock is released. On SQLite the whole transaction
holds the write lock (BEGIN IMMEDIATE), so sweeps simply take turns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.database import is_postgresql
from engine.models import ProcessInstance, TimerRow
from engine.runtime import Engine

log = logging.getLogger(__name__)
SWEEP_ACTOR = "system:timer"


@dataclass
class SweepResult:
    claimed: int = 0  # timers fired
    instances: int = 0
    failed: int = 0


def claim_due_instances(session: Session, engine: Engine, limit: int) -> list[ProcessInstance]:
    """Lock up to `limit` instances that have a timer due by the engine's clock.

    Claiming the instance rather than the timer row means one worker owns all of an instance's
    due timers (Spiff fires them together), so two workers never touch the same timer rows.
    """
    now = engine.clock.now()
    due = sa.select(TimerRow.instance_id).where(TimerRow.state == "waiting", TimerRow.due_at <= now)
    query = (
        sa.select(ProcessInstance)
        .where(ProcessInstance.id.in_(due), ProcessInstance.status == "running")
        .order_by(ProcessInstance.id)
        .limit(limit)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _due_timers(session: Session, instance_id: int, engine: Engine) -> list[TimerRow]:
    return list(session.scalars(sa.select(TimerRow).where(
        TimerRow.instance_id == instance_id, TimerRow.state == "waiting", TimerRow.due_at <= engine.clock.now()
    )))


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
        if result.instances + result.failed < batch_size:
            break
    return total


def _sweep_one_batch(engine: Engine, batch_size: int) -> SweepResult:
    result = SweepResult()
    with engine.transaction() as session:
        instances = claim_due_instances(session, engine, batch_size)
        for instance in instances:
            due = _due_timers(session, instance.id, engine)
            # A savepoint per instance: one broken model must not stop the others' timers.
            savepoint = session.begin_nested()
            try:
                operation = engine.open(session, instance)
                operation.fire_due_timers()
                operation.save(SWEEP_ACTOR)
                savepoint.commit()
                result.claimed += len(due)
                result.instances += 1
            except sa.exc.DBAPIError:
                raise  # the database's trouble (a lost connection): retry the whole batch later
            except Exception as err:  # noqa: BLE001 - a broken model or a bug must not block every timer
                savepoint.rollback()
                session.info["engine_pending_live"].pop(instance.id, None)
                result.failed += 1
                log.error("Timers of instance %s could not fire: %s", instance.id, err, exc_info=True)
                _park_failed_timers(session, due)
    return result


def _park_failed_timers(session: Session, rows: list[TimerRow]) -> None:
    """Mark timers that failed to fire so the sweep does not retry them forever; admins see them."""
    session.execute(sa.update(TimerRow).where(TimerRow.id.in_([row.id for row in rows])).values(state="failed"))
