"""The only package that knows SpiffWorkflow: parsing, the script engine, a workflow's state and
timers, reading a running workflow, and migrating it to another version. Nothing outside it sees a
SpiffWorkflow class; callers pass workflows and tasks through as opaque values.

Specs are parsed once per model hash and shared; an instance's state is serialized without its
spec (the spec is referenced by the definition it started on), which halves the cost of a step.
"""

from typing import Any

from engine.workflow.adapter.decisions import called_decisions, decision_id
from engine.workflow.adapter.diff import (
    ActiveTask,
    MigrationBlocker,
    WorkflowChanges,
    diff_instance,
    migrate_instance,
    timer_dues,
)
from engine.workflow.adapter.inspection import (
    attached_event_ids,
    commitment_names,
    complete_user_task,
    documentation_of_element,
    element_properties,
    end_event_id,
    find_task,
    fired_timer_of,
    is_ready_user_task,
    ready_user_tasks,
    reset_timer,
    run_due_timers,
    send_message,
    service_operators,
    spec_properties,
    start_event_properties,
    task_bpmn_id,
    task_completed,
    task_id,
    task_lane,
    task_name,
    task_properties,
    tasks_with_property,
    user_task_properties,
    waiting_timers,
)
from engine.workflow.adapter.parsing import ParsedModel, parse_model, parse_xml_safely
from engine.workflow.adapter.scripting import EngineScriptEngine, ServiceHandler, raised_by_model_code
from engine.workflow.adapter.state import dump_state, load_state, new_workflow, task_data

SpiffTask = Any  # a SpiffWorkflow task, passed through opaque

__all__ = [
    "ActiveTask", "attached_event_ids", "called_decisions", "commitment_names", "decision_id",
    "complete_user_task", "diff_instance", "documentation_of_element",
    "dump_state", "element_properties", "end_event_id", "EngineScriptEngine", "find_task", "fired_timer_of",
    "is_ready_user_task", "load_state", "migrate_instance", "MigrationBlocker", "new_workflow", "parse_model",
    "parse_xml_safely", "ParsedModel", "raised_by_model_code", "ready_user_tasks", "reset_timer", "run_due_timers",
    "send_message", "service_operators", "ServiceHandler", "spec_properties", "SpiffTask",
    "start_event_properties", "task_bpmn_id", "task_completed", "task_id", "task_lane", "task_name",
    "task_data", "task_properties", "tasks_with_property", "timer_dues", "user_task_properties", "waiting_timers",
    "WorkflowChanges",
]
