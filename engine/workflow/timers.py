"""The timer sweep: find instances with due timers in the projection and fire them, once each.

On PostgreSQL the claim is `SELECT ... FOR UPDATE SKIP LOCKED` on the instance rows, so any
number of worker processes can sweep at once: an instance locked by one is skipped by the
others, and its timers are no longer `waiting` when the lock is released. On SQLite the whole transaction
holds the write lock (BEGIN IMMEDIATE), so sweeps simply take turns.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.adapter import raised_by_model_code
from engine.workflow.binding import InstanceContext
from engine.workflow.database import is_postgresql
from engine.workflow.incidents import fire_case, fire_in_savepoint, retry_due_incidents
from engine.workflow.journal import deferred_journal
from engine.workflow.models import ProcessInstance, TimerRow
from engine.workflow.runtime import Engine

SWEEP_ACTOR = "system:timer"


@dataclass
class SweepResult:
    claimed: int = 0  # timers fired
    instances: int = 0
    failed: int = 0  # cases parked as incidents
    skipped: int = 0  # claimed, but swept by another worker meanwhile
    rows: int = 0  # due timer rows the batch's claim read


@dataclass(frozen=True)
class Claim:
    """Instances locked for a sweep batch, and how many due timer rows the claim read to find them."""

    instances: list[ProcessInstance]
    rows: int


def claim_due_instances(session: Session, engine: Engine, limit: int) -> Claim:
    """Lock the instances of up to `limit` timers due by the engine's clock, earliest first.

    Claiming the instance rather than the timer row means one worker owns all of an instance's
    due timers (Spiff fires them together), so two workers never touch the same timer rows. The
    claim walks the waiting timers through their (state, due_at) index, so its cost follows the batch,
    not the number of cases swept before; on PostgreSQL an instance another worker holds is skipped.
    What the claim read is rechecked after the lock (`due_timers_of`).
    """
    query = _CLAIM_FOR_UPDATE if is_postgresql(session) else _CLAIM
    rows = session.scalars(query, {"now": engine.clock.now(), "limit": limit}).all()
    instances = list({instance.id: instance for instance in rows}.values())  # two due timers, one case
    return Claim(instances, len(rows))


_CLAIM = (
    sa.select(ProcessInstance).join(TimerRow, TimerRow.instance_id == ProcessInstance.id)
    .where(TimerRow.state == "waiting", TimerRow.due_at <= sa.bindparam("now"), ProcessInstance.status == "running")
    .order_by(TimerRow.due_at).limit(sa.bindparam("limit"))  # (state, due_at): the index gives the order
)
_CLAIM_FOR_UPDATE = _CLAIM.with_for_update(skip_locked=True, of=ProcessInstance)


@dataclass(frozen=True)
class DueTimers:
    """A claimed case's due timers, read after its lock (so what another worker fired is not there)."""

    ids: list[int]
    provisional: dict[str, bool]  # spiff task id -> whether its deadline is provisional


def due_timers_of(session: Session, instance_ids: list[int], now: datetime) -> dict[int, DueTimers]:
    """The due timers of locked instances, in one statement."""
    due: dict[int, DueTimers] = {}
    if not instance_ids:
        return due
    for instance_id, timer_id, spiff_task_id, provisional in session.connection().execute(
            _DUE_TIMERS, {"instance_ids": instance_ids, "now": now}):
        timers = due.setdefault(instance_id, DueTimers([], {}))
        timers.ids.append(timer_id)
        timers.provisional[spiff_task_id] = bool(provisional)
    return due


_TIMER = TimerRow.__table__
_DUE_TIMERS = sa.select(_TIMER.c.instance_id, _TIMER.c.id, _TIMER.c.spiff_task_id, _TIMER.c.provisional).where(
    _TIMER.c.instance_id.in_(sa.bindparam("instance_ids", expanding=True)), _TIMER.c.state == "waiting",
    _TIMER.c.due_at <= sa.bindparam("now"))


def contexts_of(session: Session, engine: Engine, instances: list[ProcessInstance]) -> dict[int, InstanceContext]:
    """The contexts of many instances, each process's binding asked once for all of its instances."""
    by_key: dict[str, list[ProcessInstance]] = {}
    for instance in instances:
        by_key.setdefault(engine.definition(session, instance.definition_id).key, []).append(instance)
    contexts: dict[int, InstanceContext] = {}
    for key, group in by_key.items():
        contexts.update(engine.binding_of(key).contexts(session, group))
    return contexts


class _NeedsIsolation(Exception):
    """A case of the batch failed in its model: roll the batch back and run it again case by case."""


def sweep_due_timers(engine: Engine, batch_size: int = 100, max_batches: int | None = None) -> SweepResult:
    """Retry incidents whose time has come, then fire every due timer, a batch per transaction.

    A batch first runs its cases side by side, their audit events and messages written together at its
    end; if a case's model fails, the batch is rolled back and run again with a savepoint per case, so
    the failing case is parked (an incident) and the others fire.
    """
    retry_due_incidents(engine, SWEEP_ACTOR)
    total = SweepResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        try:
            result = engine.retrying(lambda: _sweep_one_batch(engine, batch_size, isolated=False))
        except _NeedsIsolation:
            result = engine.retrying(lambda: _sweep_one_batch(engine, batch_size, isolated=True))
        batches += 1
        total.claimed += result.claimed
        total.instances += result.instances
        total.failed += result.failed
        total.skipped += result.skipped
        total.rows += result.rows
        if result.rows < batch_size:  # the claim found fewer due timers than it asked for: none left
            break
    return total


def _sweep_one_batch(engine: Engine, batch_size: int, isolated: bool) -> SweepResult:
    result = SweepResult()
    with engine.transaction() as session, (nullcontext() if isolated else deferred_journal(session)):
        claim = claim_due_instances(session, engine, batch_size)
        instances, result.rows = claim.instances, claim.rows
        # Checked again under the lock: another worker may have swept a case since the claim's query ran.
        due = due_timers_of(session, [instance.id for instance in instances], engine.clock.now())
        contexts = contexts_of(session, engine, [instance for instance in instances if instance.id in due])
        for instance in instances:
            timers = due.get(instance.id)
            if timers is None:
                result.skipped += 1
                continue
            if isolated:  # a savepoint per case: a broken or hostile model parks its own case only
                if fire_in_savepoint(session, engine, instance, timers.ids, SWEEP_ACTOR,
                                     contexts[instance.id], timers.provisional) is not None:
                    result.failed += 1
                    continue
            else:
                _fire_side_by_side(session, engine, instance, contexts[instance.id], timers)
            result.claimed += len(timers.ids)
            result.instances += 1
    return result


def _fire_side_by_side(session: Session, engine: Engine, instance: ProcessInstance, context: InstanceContext,
                       timers: DueTimers) -> None:
    if engine.on_case is not None:
        engine.on_case(instance.id)
    try:
        fire_case(session, engine, instance, SWEEP_ACTOR, context, timers.provisional)
    except sa.exc.DBAPIError:
        raise
    except BaseException as error:  # noqa: BLE001 - sorted out below: the model's failures only
        if raised_by_model_code(error):
            raise _NeedsIsolation(instance.id) from None
        raise
    finally:
        if engine.on_case is not None:
            engine.on_case(None)
