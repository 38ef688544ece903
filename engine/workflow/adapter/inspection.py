"""Reading and moving a running workflow: its ready tasks, waiting timers, properties, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.workflow.adapter.parsing import ParsedModel

SpiffTask = Any  # a SpiffWorkflow task


def all_tasks(workflow: BpmnWorkflow) -> list[SpiffTask]:
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.tasks.values())
    return tasks


def ready_user_tasks(workflow: BpmnWorkflow) -> list[SpiffTask]:
    # One pass over the task dict: cheaper than Spiff's tree iterator, which the engine calls often.
    return [t for t in all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual]


def waiting_timers(workflow: BpmnWorkflow) -> list[tuple[SpiffTask, datetime]]:
    """Every waiting timer with its due instant (evaluating the expression if not yet done)."""
    found = []
    for task in all_tasks(workflow):
        if task.state != TaskState.WAITING:
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = task._get_internal_data("event_value")
        if value is None:
            definition.has_fired(task)
            value = task._get_internal_data("event_value")
        due = TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
        if due is not None:
            found.append((task, due.astimezone(UTC)))
    return found


def reset_timer(task: SpiffTask) -> datetime:
    """Re-evaluate a waiting timer's expression (after the calendar changed); return the new due."""
    task.internal_data.pop("event_value", None)
    task.internal_data.pop("event_fired", None)
    task.task_spec.event_definition.has_fired(task)
    return TimerEventDefinition.get_datetime(task._get_internal_data("event_value"))


def run_due_timers(workflow: BpmnWorkflow) -> None:
    workflow.refresh_timers()
    workflow.do_engine_steps()


def complete_user_task(workflow: BpmnWorkflow, task: SpiffTask, data: dict[str, Any]) -> None:
    task.set_data(**data)
    task.run()
    workflow.do_engine_steps()


def send_message(workflow: BpmnWorkflow, name: str, payload: Any = None) -> bool:
    """Deliver a message; return False if nothing in the workflow waits for it."""
    caught = workflow.event_manager.catch(BpmnEvent(MessageEventDefinition(name), payload), internal=False)
    workflow.do_engine_steps()
    return bool(caught)


def task_properties(task: SpiffTask) -> dict[str, str]:
    return spec_properties(task.task_spec)


def spec_properties(task_spec: Any) -> dict[str, str]:
    """The spiffworkflow:properties of a task spec (docs/MODELING.md says which the engine reads)."""
    return dict((getattr(task_spec, "extensions", None) or {}).get("properties", {}))


def service_operators(model: ParsedModel) -> list[tuple[str, str]]:
    """(BPMN id, operator name) of every service task of a model and its subprocesses."""
    return [(task_spec.bpmn_id, task_spec.operation_name)
            for spec in [model.spec, *model.subprocess_specs.values()]
            for task_spec in spec.task_specs.values()
            if getattr(task_spec, "operation_name", None) and getattr(task_spec, "bpmn_id", None)]


def user_task_properties(model: ParsedModel) -> list[tuple[str, dict[str, str]]]:
    """(BPMN id, properties) of every user (manual) task of a model and its subprocesses."""
    found = []
    for spec in [model.spec, *model.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "manual", False) and getattr(task_spec, "bpmn_id", None):
                found.append((task_spec.bpmn_id, spec_properties(task_spec)))
    return found


def start_event_properties(model: ParsedModel) -> dict[str, str]:
    """The properties of the top-level process's start event (who may start it, its form)."""
    for task_spec in model.spec.task_specs.values():
        if task_spec.__class__.__name__ == "StartEvent" and getattr(task_spec, "bpmn_id", None):
            return spec_properties(task_spec)
    return {}


def commitment_names(model: ParsedModel) -> dict[str, dict[str, str]]:
    """What a model calls its commitments: {commitment: {"zh": commitmentName, "en": en.commitmentName}},
    from the timers that declare a name (a commitment without one is named by the platform, or not)."""
    found: dict[str, dict[str, str]] = {}
    for spec in [model.spec, *model.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            properties = spec_properties(task_spec)
            commitment, name = properties.get("commitment"), properties.get("commitmentName")
            if commitment and name:
                found.setdefault(commitment, {"zh": name, "en": properties.get("en.commitmentName") or name})
    return found


def element_properties(model: ParsedModel, bpmn_id: str) -> dict[str, str]:
    """The spiffworkflow:properties of one element of a model (empty if it has none)."""
    for spec in [model.spec, *model.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == bpmn_id:
                return spec_properties(task_spec)
    return {}


def documentation_of_element(model: ParsedModel, bpmn_id: str) -> str | None:
    """The documentation the model gives an element, if any."""
    for spec in [model.spec, *model.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == bpmn_id:
                return getattr(task_spec, "documentation", None) or None
    return None


def fired_timer_of(task: SpiffTask) -> tuple[str, datetime, dict[str, str]]:
    """The boundary timer whose branch led to `task`: its Spiff id, due time and properties."""
    ancestor = task.parent
    while ancestor is not None:
        definition = getattr(ancestor.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            value = ancestor._get_internal_data("event_value")
            return str(ancestor.id), TimerEventDefinition.get_datetime(value), task_properties(ancestor)
        ancestor = ancestor.parent
    raise LookupError(f"{task.task_spec.bpmn_id} is not downstream of a timer")


def task_bpmn_id(task: SpiffTask) -> str:
    return str(task.task_spec.bpmn_id)


def task_id(task: SpiffTask) -> str:
    """A task's own id in its workflow (kept in the projections as `spiff_task_id`)."""
    return str(task.id)


def task_name(task: SpiffTask) -> str:
    return str(task.task_spec.bpmn_name or task.task_spec.bpmn_id)


def task_lane(task: SpiffTask) -> str | None:
    lane = task.task_spec.lane
    return str(lane) if lane is not None else None


def attached_event_ids(task: SpiffTask) -> list[str]:
    """The ids of the events attached to a task's boundary (its siblings under Spiff's split)."""
    parent = task.parent
    return [str(sibling.id) for sibling in parent.children] if parent is not None else []


def task_completed(workflow: BpmnWorkflow, spiff_task_id: str) -> bool:
    task = find_task(workflow, spiff_task_id)
    return task is not None and task.state == TaskState.COMPLETED


def find_task(workflow: BpmnWorkflow, spiff_task_id: str) -> SpiffTask | None:
    try:
        return workflow.get_task_from_id(UUID(spiff_task_id))
    except Exception:  # noqa: BLE001 - a malformed or unknown id is simply no task
        return None


def is_ready_user_task(task: SpiffTask) -> bool:
    return bool(task.state == TaskState.READY and task.task_spec.manual)


def tasks_with_property(workflow: BpmnWorkflow, name: str, value: str) -> list[tuple[SpiffTask, str]]:
    """Tasks whose spec has property `name` = `value`, with their state's name (READY, COMPLETED…)."""
    return [(task, TaskState.get_name(task.state)) for task in all_tasks(workflow)
            if spec_properties(task.task_spec).get(name) == value]


def end_event_id(workflow: BpmnWorkflow) -> str | None:
    """The BPMN id of the end event the top-level process finished on, if it finished."""
    if not workflow.completed:
        return None
    ends = [
        t for t in workflow.tasks.values()
        if t.state == TaskState.COMPLETED and t.task_spec.__class__.__name__ == "EndEvent"
    ]
    ends.sort(key=lambda t: t.last_state_change)
    return ends[-1].task_spec.bpmn_id if ends else None
