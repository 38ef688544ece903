"""Keep the `task` and `timer` tables in step with a workflow after each operation.

The projections are updated by difference: the operation notes which user tasks were ready
and which timers were waiting when it opened the workflow (which is exactly what the tables
say, since both were written in the same transaction last time), and after running writes
only what changed, with Core statements and no reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.workflow import adapter as spiff
from engine.workflow.journal import write_or_defer
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
_TASK_DUE = sa.update(_TASK).where(
    _TASK.c.instance_id == sa.bindparam("iid"), _TASK.c.spiff_task_id == sa.bindparam("sid")
).values(due_at=sa.bindparam("new_due"), due_provisional=sa.bindparam("new_provisional"))


def sync_projections(operation: InstanceOperation, before: Snapshot, actor: str) -> Snapshot:
    """Write the difference between `before` and the workflow now; return the new snapshot."""
    workflow, iid = operation.workflow, operation.instance.id
    now, provisional = operation.now, operation.provisional_dues
    connection = operation.session.connection()
    after = Snapshot.of(workflow)

    timer_states = [
        {"iid": iid, "sid": tid, "new_state": "fired" if done else "cancelled",
         "new_fired_at": now if done else None}
        for tid in before.timers if tid not in after.timers
        for done in (_completed(workflow, tid),)
    ]
    timer_dues = [
        {"iid": iid, "sid": tid, "new_due": due, "new_provisional": provisional.get(due.isoformat(), False)}
        for tid, (_, due) in after.timers.items()
        if tid in before.timers and (before.timers[tid][1] != due or due.isoformat() in provisional)
    ]
    new_timers = [
        {"instance_id": iid, "spiff_task_id": tid, "bpmn_id": spiff.task_bpmn_id(task),
         "kind": spiff.task_properties(task).get("timerKind"),
         "sla_kind": commitment_of(task), "due_at": due,
         "provisional": provisional.get(due.isoformat(), False), "state": "waiting", "fired_at": None}
        for tid, (task, due) in after.timers.items() if tid not in before.timers
    ]
    task_states = [
        {"iid": iid, "sid": tid, "new_state": "completed" if done else "cancelled",
         "new_completed_at": now, "new_completed_by": actor if done else None}
        for tid in before.tasks if tid not in after.tasks
        for done in (_completed(workflow, tid),)
    ]
    task_dues = [
        {"iid": iid, "sid": tid, "new_due": due, "new_provisional": provisional.get(due.isoformat(), False)}
        for tid, due in after.task_dues.items()
        if tid in before.tasks and due is not None
        and (before.task_dues.get(tid) != due or due.isoformat() in provisional)
    ]
    context = operation.context
    new_tasks = [
        {"instance_id": iid, "application_id": context.case_id, "spiff_task_id": tid,
         "bpmn_id": spiff.task_bpmn_id(task), "name": spiff.task_name(task), "lane": spiff.task_lane(task),
         "institution_id": context.tenant_id, "assignee": None,
         "claimed_at": None, "role": properties.get("role"), "form_key": properties.get("form"),
         "api_step": properties.get("apiStep"), "commitment": _commitment_of_task(task, after.timers),
         "state": "open", "created_at": now, "due_at": due, "completed_at": None, "completed_by": None,
         "due_provisional": provisional.get(due.isoformat(), False) if due else False}
        for tid, task in after.tasks.items() if tid not in before.tasks
        for due, properties in ((after.task_dues[tid], spiff.task_properties(task)),)
    ]
    if timer_states:
        # Fired and cancelled timers are read by no later work of a sweep's batch: written with the batch's.
        write_or_defer(operation.session, _TIMER_STATE, timer_states)
    for statement, params in ((_TIMER_DUE, timer_dues), (_INSERT_TIMER, new_timers), (_TASK_STATE, task_states),
                              (_TASK_DUE, task_dues), (_INSERT_TASK, new_tasks)):
        if params:
            connection.execute(statement, params)
    return after
