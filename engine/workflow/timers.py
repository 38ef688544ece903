"""The timer sweep: find instances with due timers in the projection and fire them, once each.

On PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP LOCKED` on the instance rows, so any
number of worker processes can sweep at once: an instance locked by one is skipped by the
others, and its timers are no longer `waiting` when the lock is released. On SQLite the whole transaction
holds the write lock (BEGIN IMMEDIATE), so sweeps simply take turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.database import is_postgresql
from engine.workflow.incidents import fire_in_savepoint, retry_due_incidents
from engine.workflow.models import ProcessInstance, TimerRow
from engine.workflow.runtime import Engine

SWEEP_ACTOR = "system:timer"


@dataclass
class SweepResult:
    claimed: int = 0  # timers fired
    instances: int = 0
    failed: int = 0  # cases parked as incidents
    skipped: int = 0  # claimed, but swept by another worker meanwhile


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


def _due_timers(session: Session, instance_id: int, engine: Engine) -> list[int]:
    return list(session.scalars(sa.select(TimerRow.id).where(
        TimerRow.instance_id == instance_id, TimerRow.state == "waiting", TimerRow.due_at <= engine.clock.now()
    )))


def sweep_due_timers(engine: Engine, batch_size: int = 100, max_batches: int | None = None) -> SweepResult:
    """Retry incidents whose time has come, then fire every due timer, a batch per transaction."""
    retry_due_incidents(engine, SWEEP_ACTOR)
    total = SweepResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        result = engine.retrying(lambda: _sweep_one_batch(engine, batch_size))
        batches += 1
        total.claimed += result.claimed
        total.instances += result.instances
        total.failed += result.failed
        if result.instances + result.failed + result.skipped < batch_size:
            break
    return total


def _sweep_one_batch(engine: Engine, batch_size: int) -> SweepResult:
    result = SweepResult()
    with engine.transaction() as session:
        for instance in claim_due_instances(session, engine, batch_size):
            # Checked again under the lock: another worker may have swept it since the claim's query ran.
            due = _due_timers(session, instance.id, engine)
            if not due:
                result.skipped += 1
                continue
            # A savepoint per case: a broken or hostile model parks its own case (an incident) only.
            if fire_in_savepoint(session, engine, instance, due, SWEEP_ACTOR) is None:
                result.claimed += len(due)
                result.instances += 1
            else:
                result.failed += 1
    return result
