"""A workflow's state as JSON without its spec (the spec comes from the definition), and new workflows."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from threading import Lock
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.workflow.adapter.parsing import ParsedModel, shorten
from engine.workflow.adapter.scripting import EngineScriptEngine
from engine.workflow.errors import ModelError

SpiffTask = Any  # a SpiffWorkflow task


class _SpecByReferenceConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; the spec is passed back in on restore."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], model: ParsedModel | None = None) -> BpmnWorkflow:
        if model is None:
            raise ModelError("A spec is needed to restore a workflow")
        workflow = self.target_class(model.spec, model.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry_extensions: list[Callable[[Any], None]] = []


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecByReferenceConverter
    built = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    for extension in _registry_extensions:
        extension(built.registry)
    return built


def extend_registry(extension: Callable[[Any], None]) -> None:
    """Register more converters (e.g. diff.py's clocked timers) on every serializer, present and future."""
    _registry_extensions.append(extension)
    extension(serializer.registry)
    own = getattr(_per_thread, "serializer", None)
    if own is not None:
        extension(own.registry)


# The registry flips a mode flag while it encodes, so a serializer is never shared between threads:
# each thread dumps and restores states with its own (no process-wide lock on the hot path). This
# one is for spec diffs only (diff.py adds its converters to it and holds `serializer_lock`).
serializer = _build_serializer()
serializer_lock = Lock()
_per_thread = threading.local()


def _serializer() -> BpmnWorkflowSerializer:
    own: BpmnWorkflowSerializer | None = getattr(_per_thread, "serializer", None)
    if own is None:
        own = _per_thread.serializer = _build_serializer()
    return own


def dump_state(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's state (without the spec) to JSON."""
    try:
        return _serializer().serialize_json(workflow)
    except Exception as err:  # noqa: BLE001 - data a script left behind that JSON cannot hold
        raise ModelError(f"The process data cannot be saved ({type(err).__name__}: {shorten(str(err))}); "
                         "scripts may leave only text, numbers, booleans, lists and dictionaries") from None


def load_state(state: str, model: ParsedModel, script_engine: EngineScriptEngine) -> BpmnWorkflow:
    """Restore a workflow from `dump_state` output and attach the script engine."""
    dct = json.loads(state)
    own = _serializer()
    own.migrate(dct)
    workflow = own.registry.restore(dct, model=model)
    workflow.script_engine = script_engine
    return workflow


def new_workflow(model: ParsedModel, script_engine: EngineScriptEngine, data: dict[str, Any]) -> BpmnWorkflow:
    """Start a workflow with initial data and run it to its first wait state."""
    workflow = BpmnWorkflow(model.spec, model.subprocess_specs, script_engine=script_engine)
    workflow.task_tree.data.update(data)
    start = workflow.get_tasks(state=TaskState.READY)
    for task in start:
        task.data.update(data)
    workflow.do_engine_steps()
    return workflow


def task_data(state: str, spiff_task_id: str) -> dict[str, Any]:
    """The data a task of a saved workflow sees, read from `dump_state` output without restoring the
    workflow: the root's data with each ancestor's changes (SpiffWorkflow stores deltas) applied."""
    tasks = json.loads(state).get("tasks", {})
    chain: list[dict[str, Any]] = []
    task = tasks.get(spiff_task_id)
    while isinstance(task, dict) and len(chain) < 10_000:  # a bound keeps a damaged state harmless
        chain.append(task)
        task = tasks.get(task.get("parent") or "")
    data: dict[str, Any] = {}
    for node in reversed(chain):
        delta = node.get("delta") or {}
        if not delta or node.get("parent") is None:
            data = dict(node.get("data") or {})
            continue
        data.update(delta.get("updates") or {})
        for key in delta.get("deletions") or []:
            data.pop(key, None)
    restored = _serializer().registry.restore(data) if data else {}
    return restored if isinstance(restored, dict) else {}
