"""Loading an official holiday schedule and moving the provisional deadlines it settles."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from engine.workflow.calendar_store import store_official_year
from engine.workflow.journal import record_audit
from engine.workflow.models import ProcessInstance, TimerRow
from engine.workflow.runtime import Engine
from engine.workflow.working_days import check_whole_year, parse_schedule_csv


@dataclass
class ScheduleLoad:
    year: int
    rules: int
    instances_recomputed: int
    timers_moved: int

def load_official_schedule(
    engine: Engine, csv_text: str, source: str, actor: str,
    progress: Callable[[int, int], None] | None = None, *, partial: bool = False,
) -> ScheduleLoad:
    """Store a year's official schedule, then recompute every provisional timer of running instances.

    The schedule is committed first: if recomputation stops half-way, running it again (or loading
    the same file again) finishes the job, because only still-provisional timers are revisited.
    A file that cannot be a whole year's schedule is refused (ImplausibleSchedule) unless `partial`.
    """
    year, rules = parse_schedule_csv(csv_text)
    if not partial:  # a part of a year only on purpose (`flask calendar load --partial`)
        check_whole_year(year, rules)
    with engine.transaction() as session:
        store_official_year(session, year, rules, source, actor, engine.clock)
        record_audit(session, engine.clock.now(), actor, "calendar_loaded",
                     detail={"year": year, "rules": len(rules), "source": source})
    engine.calendars.invalidate()  # committed: this process's deadlines use the new year from now on
    instances, moved = recompute_provisional_deadlines(engine, actor, progress)
    return ScheduleLoad(year, len(rules), instances, moved)

def recompute_provisional_deadlines(
    engine: Engine, actor: str, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Re-evaluate the timers of every running instance that still has a provisional one."""
    with engine.transaction() as session:
        instance_ids = list(session.scalars(
            sa.select(TimerRow.instance_id).distinct()
            .join(ProcessInstance, ProcessInstance.id == TimerRow.instance_id)
            .where(TimerRow.state == "waiting", TimerRow.provisional.is_(True), ProcessInstance.status == "running")
            .order_by(TimerRow.instance_id)))
    moved_total = 0
    for done, instance_id in enumerate(instance_ids, start=1):
        moved_total += engine.retrying(functools.partial(_recompute_one, engine, actor, instance_id))
        if progress is not None:
            progress(done, len(instance_ids))
    return len(instance_ids), moved_total


def _recompute_one(engine: Engine, actor: str, instance_id: int) -> int:
    """One case's timers again, holding its lock (a step or the sweep on it waits, then sees the result)."""
    with engine.transaction() as session:
        instance = engine.lock_instance(session, instance_id)
        if instance is None or instance.status != "running":
            return 0  # finished (or gone) since the candidates were listed
        operation = engine.open(session, instance)
        moved = operation.recompute_timers()
        operation.save(actor)
        record_audit(session, engine.clock.now(), actor, "deadlines_recomputed",
                     instance_id=instance_id, application_id=operation.context.case_id,
                     detail={"timers_moved": moved})
        return moved
