"""Keep the `task` and `timer` tables in step with a workflow after each operation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine import spiff_adapter as spiff
from engine.models import TaskRow, TimerRow

if TYPE_CHECKING:
    from engine.runtime import InstanceOperation


def _finished_state(workflow: Any, spiff_task_id: str, done: str) -> str:
    task = workflow.get_task_from_id(UUID(spiff_task_id))
    return done if task is not None and task.state == TaskState.COMPLETED else "cancelled"


def _deadline_of(user_task: Any, timers: dict[str, tuple[Any, datetime]]) -> datetime | None:
    """The due time of the deadline timer attached to a user task, if any."""
    parent = user_task.parent
    for sibling in parent.children if parent is not None else []:
        entry = timers.get(str(sibling.id))
        if entry and spiff.task_properties(sibling).get("timerKind") == "deadline":
            return entry[1]
    return None


def sync_projections(operation: InstanceOperation, actor: str) -> None:
    session, workflow, instance = operation.session, operation.workflow, operation.instance
    now = operation.now
    timers = {str(task.id): (task, due) for task, due in spiff.waiting_timers(workflow)}

    timer_rows = {
        row.spiff_task_id: row
        for row in session.scalars(
            sa.select(TimerRow).where(TimerRow.instance_id == instance.id, TimerRow.state == "waiting")
        )
    }
    for spiff_id, row in timer_rows.items():
        if spiff_id in timers:
            due = timers[spiff_id][1]
            row.due_at = due
            row.provisional = operation.provisional_dues.get(due.isoformat(), row.provisional)
            continue
        row.state = _finished_state(workflow, spiff_id, "fired")
        row.fired_at = now if row.state == "fired" else None
    for spiff_id, (task, due) in timers.items():
        if spiff_id in timer_rows:
            continue
        properties = spiff.task_properties(task)
        session.add(TimerRow(
            instance_id=instance.id, spiff_task_id=spiff_id, bpmn_id=task.task_spec.bpmn_id,
            kind=properties.get("timerKind"), sla_kind=properties.get("slaKind"), due_at=due,
            provisional=operation.provisional_dues.get(due.isoformat(), False), state="waiting",
        ))

    ready = {str(task.id): task for task in spiff.ready_user_tasks(workflow)}
    task_rows = {
        row.spiff_task_id: row
        for row in session.scalars(
            sa.select(TaskRow).where(TaskRow.instance_id == instance.id, TaskRow.state == "open")
        )
    }
    for spiff_id, row in task_rows.items():
        if spiff_id in ready:
            due = _deadline_of(ready[spiff_id], timers)
            if due is not None:
                row.due_at = due
                row.due_provisional = operation.provisional_dues.get(due.isoformat(), row.due_provisional)
            continue
        row.state = _finished_state(workflow, spiff_id, "completed")
        row.completed_at = now
        row.completed_by = actor if row.state == "completed" else None
    for spiff_id, task in ready.items():
        if spiff_id in task_rows:
            continue
        due = _deadline_of(task, timers)
        session.add(TaskRow(
            instance_id=instance.id, application_id=operation.context.application_id, spiff_task_id=spiff_id,
            bpmn_id=task.task_spec.bpmn_id, name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            lane=task.task_spec.lane, institution_id=operation.context.institution_id, state="open",
            created_at=now, due_at=due,
            due_provisional=operation.provisional_dues.get(due.isoformat(), False) if due else False,
        ))
