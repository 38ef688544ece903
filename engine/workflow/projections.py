"""Keep the `task` and `timer` tables in step with a workflow after each operation.

The projections are updated by difference: the operation notes which user tasks were ready
and which timers were waiting when it opened the workflow (which is exactly what the tables
say, since both were written in the same transaction last time), and after running writes
only what changed, with Core statements and no reads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from engine.workflow import adapter as spiff
from engine.workflow.journal import is_deferred, write_or_defer
from engine.workflow.models import TaskRow, TimerRow, table_of

if TYPE_CHECKING:
    from engine.workflow.runtime import InstanceOperation


@dataclass
class Snapshot:
    """Ready user tasks and waiting timers of a workflow at one moment."""

    tasks: dict[str, Any]  # spiff id -> task
    timers: dict[str, tuple[Any, datetime]]  # spiff id -> (task, due)
    task_dues: dict[str, datetime | None]

    @classmethod
    def of(cls, workflow: Any) -> Snapshot:
        if workflow is None:
            return cls({}, {}, {})
        timers = {spiff.task_id(task): (task, due) for task, due in spiff.waiting_timers(workflow)}
        tasks = {spiff.task_id(task): task for task in spiff.ready_user_tasks(workflow)}
        return cls(tasks, timers, {tid: _deadline_of(task, timers) for tid, task in tasks.items()})


def _deadline_timer(user_task: Any, timers: dict[str, tuple[Any, datetime]]) -> tuple[Any, datetime] | None:
    """The deadline timer attached to a user task, with its due time, if it has one waiting."""
    for event_id in spiff.attached_event_ids(user_task):
        entry = timers.get(event_id)
        if entry and spiff.task_properties(entry[0]).get("timerKind") == "deadline":
            return entry
    return None


def _deadline_of(user_task: Any, timers: dict[str, tuple[Any, datetime]]) -> datetime | None:
    found = _deadline_timer(user_task, timers)
    return found[1] if found else None


def commitment_of(timer_task: Any) -> str | None:
    """Which commitment a timer measures (`commitment`, or its older name `slaKind`)."""
    properties = spiff.task_properties(timer_task)
    return properties.get("commitment") or properties.get("slaKind")


def _commitment_of_task(user_task: Any, timers: dict[str, tuple[Any, datetime]]) -> str | None:
    found = _deadline_timer(user_task, timers)
    return commitment_of(found[0]) if found else None


def _completed(workflow: Any, spiff_task_id: str) -> bool:
    return spiff.task_completed(workflow, spiff_task_id)


_TIMER = table_of(TimerRow)
_TASK = table_of(TaskRow)
# Statements built once; executed with parameter lists on the session's connection (Core, no ORM).
_TIMER_STATE = sa.update(_TIMER).where(
    _TIMER.c.instance_id == sa.bindparam("iid"), _TIMER.c.spiff_task_id == sa.bindparam("sid")
).values(state=sa.bindparam("new_state"), fired_at=sa.bindparam("new_fired_at"))
_TIMER_DUE = sa.update(_TIMER).where(
    _TIMER.c.instance_id == sa.bindparam("iid"), _TIMER.c.spiff_task_id == sa.bindparam("sid")
).values(due_at=sa.bindparam("new_due"), provisional=sa.bindparam("new_provisional"))
_TASK_STATE = sa.update(_TASK).where(
    _TASK.c.instance_id == sa.bindparam("iid"), _TASK.c.spiff_task_id == sa.bindparam("sid")
).values(state=sa.bindparam("new_state"), completed_at=sa.bindparam("new_completed_at"),
         completed_by=sa.bindparam("new_completed_by"))
_INSERT_TIMER = sa.insert(_TIMER)
_INSERT_TASK = sa.insert(_TASK)
_CLOSED_TIMER = ("state", "fired_at")
_CLOSED_TASK = ("state", "completed_at", "completed_by")


@functools.cache
def _upsert(dialect_name: str, table: sa.Table, closing: tuple[str, ...]) -> sa.Insert:
    """New rows and rows being closed in one statement: a closed row exists (it is in the snapshot the
    operation opened with), so of its values only `closing` are written."""
    statement = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    return statement.on_conflict_do_update(index_elements=[table.c.instance_id, table.c.spiff_task_id],
                                           set_={name: statement.excluded[name] for name in closing})


_TASK_DUE = sa.update(_TASK).where(
    _TASK.c.instance_id == sa.bindparam("iid"), _TASK.c.spiff_task_id == sa.bindparam("sid")
).values(due_at=sa.bindparam("new_due"), due_provisional=sa.bindparam("new_provisional"))


def sync_projections(operation: InstanceOperation, before: Snapshot, actor: str) -> Snapshot:
    """Write the difference between `before` and the workflow now; return the new snapshot."""
    workflow, iid = operation.workflow, operation.instance.id
    now, provisional = operation.now, operation.provisional_dues
    connection = operation.session.connection()
    after = Snapshot.of(workflow)

    closed_timers = [(tid, task, due, _completed(workflow, tid))
                     for tid, (task, due) in before.timers.items() if tid not in after.timers]
    timer_dues = [
        {"iid": iid, "sid": tid, "new_due": due, "new_provisional": provisional.get(due.isoformat(), False)}
        for tid, (_, due) in after.timers.items()
        if tid in before.timers and (before.timers[tid][1] != due or due.isoformat() in provisional)
    ]
    new_timers = [_timer_row(iid, tid, task, due, provisional.get(due.isoformat(), False), "waiting", None)
                  for tid, (task, due) in after.timers.items() if tid not in before.timers]
    closed_tasks = [(tid, task, _completed(workflow, tid)) for tid in before.tasks if tid not in after.tasks
                    for task in (before.tasks[tid],)]
    task_dues = [
        {"iid": iid, "sid": tid, "new_due": due, "new_provisional": provisional.get(due.isoformat(), False)}
        for tid, due in after.task_dues.items()
        if tid in before.tasks and due is not None
        and (before.task_dues.get(tid) != due or due.isoformat() in provisional)
    ]
    new_tasks = [_task_row(operation, tid, task, after.task_dues[tid], after.timers, "open")
                 for tid, task in after.tasks.items() if tid not in before.tasks]
    session, dialect = operation.session, connection.dialect.name
    if closed_timers and new_timers and not is_deferred(session):  # a step: closed and new in one statement
        connection.execute(_upsert(dialect, _TIMER, _CLOSED_TIMER), new_timers + [
            _timer_row(iid, tid, task, due, False, "fired" if done else "cancelled", now if done else None)
            for tid, task, due, done in closed_timers])
        new_timers = []
    elif closed_timers:
        # Fired and cancelled timers are read by no later work of a sweep's batch: written with the batch's.
        write_or_defer(session, _TIMER_STATE, [
            {"iid": iid, "sid": tid, "new_state": "fired" if done else "cancelled",
             "new_fired_at": now if done else None} for tid, _, _, done in closed_timers])
    if closed_tasks and new_tasks:  # closed and new in one statement
        connection.execute(_upsert(dialect, _TASK, _CLOSED_TASK), new_tasks + [
            {**_task_row(operation, tid, task, before.task_dues.get(tid), before.timers,
                         "completed" if done else "cancelled"),
             "completed_at": now, "completed_by": actor if done else None}
            for tid, task, done in closed_tasks])
        task_states, new_tasks = [], []
    else:
        task_states = [{"iid": iid, "sid": tid, "new_state": "completed" if done else "cancelled",
                        "new_completed_at": now, "new_completed_by": actor if done else None}
                       for tid, _, done in closed_tasks]
    for statement, params in ((_TIMER_DUE, timer_dues), (_INSERT_TIMER, new_timers), (_TASK_STATE, task_states),
                              (_TASK_DUE, task_dues), (_INSERT_TASK, new_tasks)):
        if params:
            connection.execute(statement, params)
    return after


def _timer_row(iid: int, tid: str, task: Any, due: datetime, provisional: bool, state: str,
               fired_at: datetime | None) -> dict[str, Any]:
    return {"instance_id": iid, "spiff_task_id": tid, "bpmn_id": spiff.task_bpmn_id(task),
            "kind": spiff.task_properties(task).get("timerKind"), "sla_kind": commitment_of(task), "due_at": due,
            "provisional": provisional, "state": state, "fired_at": fired_at}


def _task_row(operation: InstanceOperation, tid: str, task: Any, due: datetime | None,
              timers: dict[str, tuple[Any, datetime]], state: str) -> dict[str, Any]:
    properties, context = spiff.task_properties(task), operation.context
    return {"instance_id": operation.instance.id, "application_id": context.case_id, "spiff_task_id": tid,
            "bpmn_id": spiff.task_bpmn_id(task), "name": spiff.task_name(task), "lane": spiff.task_lane(task),
            "institution_id": context.tenant_id, "assignee": None,
            "claimed_at": None, "role": properties.get("role"), "form_key": properties.get("form"),
            "api_step": properties.get("apiStep"), "commitment": _commitment_of_task(task, timers),
            "state": state, "created_at": operation.now, "due_at": due, "completed_at": None, "completed_by": None,
            "due_provisional": operation.provisional_dues.get(due.isoformat(), False) if due else False}
