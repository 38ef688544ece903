"""Migrating a running workflow onto another version of its model (SpiffWorkflow.bpmn.util.diff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.workflow.adapter.inspection import all_tasks, spec_properties
from engine.workflow.adapter.parsing import (
    ClockedDurationTimerEventDefinition,
    ClockedTimeDateEventDefinition,
    ParsedModel,
    shorten,
)
from engine.workflow.adapter.state import extend_registry, serializer, serializer_lock
from engine.workflow.errors import EngineError, ModelError

SpiffTask = Any  # a SpiffWorkflow task


# Elements are aligned by BPMN id (then by position); callers see plain data only.

_ACTIVE = TaskState.READY | TaskState.WAITING
_Part = tuple[Any, Any, Any, Any]  # (workflow or subprocess, its SpecDiff, its WorkflowDiff, new spec)


@dataclass(frozen=True)
class ActiveTask:
    """A ready, waiting or started task of a workflow and what migrating would do to it."""

    spiff_id: str
    bpmn_id: str
    name: str
    kind: str  # user_task | timer | event | task
    state: str  # ready | waiting | started
    outcome: str  # kept (same element) | reset (its element changed) | removed (no such element)
    changes: tuple[str, ...]  # the attributes of its element that differ
    target_bpmn_id: str | None
    target_name: str | None
    target_lane: str | None
    target_properties: dict[str, str]


@dataclass(frozen=True)
class MigrationBlocker:
    """Why a workflow cannot move: `code` is active_task_removed, finished_task_removed,
    subprocess_removed or incompatible_model; `element` the BPMN element concerned."""

    code: str
    element: str
    message: str


@dataclass(frozen=True)
class WorkflowChanges:
    """What moving a workflow onto another model changes, element by element."""

    active: tuple[ActiveTask, ...]
    changed_elements: dict[str, tuple[str, ...]]  # BPMN id -> attributes that differ
    added_elements: tuple[str, ...]
    removed_elements: tuple[str, ...]
    blockers: tuple[MigrationBlocker, ...]

    @property
    def possible(self) -> bool:
        return not self.blockers


# The diff compares task specs through the registry: unregistered, our clocked timers would be
# compared by class and name only, and a changed timer expression would go unnoticed.
def _register_clocked_timers(registry: Any) -> None:
    for clocked in (ClockedTimeDateEventDefinition, ClockedDurationTimerEventDefinition):
        TimerConditionalEventDefinitionConverter(clocked, registry)


extend_registry(_register_clocked_timers)


def _diff_parts(workflow: BpmnWorkflow, model: ParsedModel) -> list[_Part]:
    owners = [(workflow, model.spec)] + [(sp, model.subprocess_specs.get(sp.spec.name))
                                         for sp in workflow.subprocesses.values()]
    with serializer_lock:  # the registry converts differently while another thread encodes
        spec_diffs = [SpecDiff(serializer.registry, owner.spec, spec) if spec else None for owner, spec in owners]
    return [(owner, spec_diff, WorkflowDiff(owner, spec_diff) if spec_diff else None, spec)
            for (owner, spec), spec_diff in zip(owners, spec_diffs, strict=True)]


def _kind(task_spec: Any) -> str:
    if getattr(task_spec, "manual", False):
        return "user_task"
    definition = getattr(task_spec, "event_definition", None)
    return "task" if definition is None else "timer" if isinstance(definition, TimerEventDefinition) else "event"


def _dropped_by_reset(task: SpiffTask) -> bool:
    """Whether a ready or waiting ancestor's reset takes this (predicted) task away."""
    ancestor = task.parent
    while ancestor is not None:
        if ancestor.state & _ACTIVE:
            return True
        ancestor = ancestor.parent
    return False


def _active_task(task: SpiffTask, spec_diff: Any, workflow_diff: Any, gone: set[Any]) -> ActiveTask:
    spec, target = task.task_spec, workflow_diff.alignment.get(task)
    changes = tuple(spec_diff.changed.get(spec, ()))
    outcome = "removed" if task in gone else "reset" if changes else "kept"
    target_id = getattr(target, "bpmn_id", None)
    return ActiveTask(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, _kind(spec),
                      TaskState.get_name(task.state).lower(), outcome, changes, target_id,
                      getattr(target, "bpmn_name", None) or target_id, getattr(target, "lane", None),
                      spec_properties(target) if target is not None else {})


def _changes(parts: list[_Part]) -> WorkflowChanges:
    active: list[ActiveTask] = []
    blockers: list[MigrationBlocker] = []
    changed: dict[str, tuple[str, ...]] = {}
    added: list[str] = []
    removed: list[str] = []
    for owner, spec_diff, workflow_diff, _ in parts:
        if spec_diff is None:
            name = owner.spec.name
            blockers.append(MigrationBlocker("subprocess_removed", name, f"The new model has no process {name}"))
            continue
        changed.update({ts.bpmn_id: tuple(attrs) for ts, attrs in spec_diff.changed.items() if ts.bpmn_id})
        added += [ts.bpmn_id for ts in spec_diff.added if ts.bpmn_id]
        removed += [ts.bpmn_id for ts in spec_diff.removed if ts.bpmn_id]
        gone = set(workflow_diff.removed)
        # BPMN elements before Spiff's own (a boundary event split), so a refusal names what the admin knows.
        for task in sorted(owner.tasks.values(), key=lambda task: task.task_spec.bpmn_id is None):
            element = task.task_spec.bpmn_id or task.task_spec.name
            if task in gone and task.state & TaskState.FINISHED_MASK:
                blockers.append(MigrationBlocker("finished_task_removed", element,
                                                 f"The case has passed {element}, which the new model lacks"))
            elif task in gone and not _dropped_by_reset(task):
                blockers.append(MigrationBlocker("active_task_removed", element,
                                                 f"The case is at {element}, which the new model lacks"))
            if task.state & (_ACTIVE | TaskState.STARTED) and task.task_spec.bpmn_id:
                active.append(_active_task(task, spec_diff, workflow_diff, gone))
    # Where the case is comes first: that is what an admin must act on.
    blockers.sort(key=lambda blocker: blocker.code != "active_task_removed")
    return WorkflowChanges(tuple(active), changed, tuple(added), tuple(removed), tuple(blockers))


def _diff(workflow: BpmnWorkflow, model: ParsedModel) -> tuple[list[_Part] | None, WorkflowChanges]:
    try:
        parts = _diff_parts(workflow, model)
        return parts, _changes(parts)
    except Exception as err:  # noqa: BLE001 - Spiff cannot align the two models: refuse, change nothing
        message = f"The models cannot be aligned ({type(err).__name__}: {shorten(str(err))})"
        return None, WorkflowChanges((), {}, (), (), (MigrationBlocker("incompatible_model", model.process_id,
                                                                       message),))


def diff_instance(workflow: BpmnWorkflow, model: ParsedModel) -> WorkflowChanges:
    """What moving `workflow` onto `model` would change; the workflow is not touched."""
    return _diff(workflow, model)[1]


def migrate_instance(workflow: BpmnWorkflow, model: ParsedModel) -> WorkflowChanges:
    """Move `workflow` onto `model` in place unless something blocks it; return what changes.

    Spiff resets every ready and waiting task onto its new element (children predicted again,
    timers evaluated again with the workflow's script engine). A timer whose element did not
    change then gets its earlier due time back, so that a duration still counts from when it
    began. Nothing is run here: `run_due_timers` fires what is due.
    """
    parts, changes = _diff(workflow, model)
    if parts is None or not changes.possible:
        return changes
    kept = {task.spiff_id for task in changes.active if task.kind == "timer" and task.outcome == "kept"}
    due_before = {task.id: task._get_internal_data("event_value") for task in all_tasks(workflow)
                  if str(task.id) in kept and task.state == TaskState.WAITING}
    try:
        for owner, _, workflow_diff, new_spec in parts:
            migrate_workflow(workflow_diff, owner, new_spec)
        workflow.subprocess_specs = dict(model.subprocess_specs)
    except EngineError:
        raise
    except Exception as err:  # noqa: BLE001 - Spiff could not reset this case's tasks
        raise ModelError(f"The case cannot be moved onto the new model ({type(err).__name__}: "
                         f"{shorten(str(err))})") from None
    for task in all_tasks(workflow):
        if task.id in due_before and due_before[task.id] is not None and task.state == TaskState.WAITING:
            task.internal_data.pop("event_fired", None)
            task._set_internal_data(event_value=due_before[task.id])
    return changes


def timer_dues(workflow: BpmnWorkflow) -> dict[str, datetime]:
    """By Spiff id, the due time of every waiting timer and of every timer due but not yet run."""
    dues = {}
    for task in all_tasks(workflow):
        value = task._get_internal_data("event_value")
        if task.state & _ACTIVE and isinstance(value, str) and _kind(task.task_spec) == "timer":
            dues[str(task.id)] = TimerEventDefinition.get_datetime(value).astimezone(UTC)
    return dues
