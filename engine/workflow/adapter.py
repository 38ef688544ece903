"""Everything that touches SpiffWorkflow: parsing, the script engine, timers and serializing.

Nothing outside engine/ sees a SpiffWorkflow object. Specs are parsed once per model hash and
shared; an instance's state is serialized without its spec (the spec is referenced by the
definition it started on), which halves the cost of every step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import Lock
from types import TracebackType
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.workflow.clock import Clock
from engine.workflow.errors import EngineError, ModelError, ScriptSecurityError
from engine.workflow.sandbox import SCRIPT_FILENAME, RestrictedEnvironment, compile_expression, compile_script

Workflow = BpmnWorkflow
SpiffTask = Any

# A hardened parser: no DTDs, no entity expansion, no network (XXE and billion laughs).
_SAFE_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)


def parse_xml_safely(xml: str | bytes) -> Any:
    """Parse XML refusing DOCTYPEs and entities; raise ModelError with the line on bad input."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, _SAFE_XML_PARSER)
    except etree.XMLSyntaxError as err:
        raise ModelError(f"The file is not well-formed XML: {err.msg} (line {err.lineno})") from None
    if root.getroottree().docinfo.doctype:
        raise ModelError("DOCTYPE declarations are not allowed in BPMN files")
    return root


@dataclass(frozen=True)
class ParsedModel:
    """A parsed, validated process: its spec and the specs of its subprocesses."""

    process_id: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]


def parse_model(xml: str, process_id: str | None = None) -> ParsedModel:
    """Validate a BPMN document and build the spec of `process_id` (or its only executable process)."""
    root = parse_xml_safely(xml)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(root, filename="model.bpmn")
        ids = parser.get_process_ids()
        if process_id is None:
            executable = [pid for pid in ids if parser.get_process_parser(pid).process_executable]
            if len(executable) != 1:
                raise ModelError(f"Expected exactly one executable process, found {len(executable)}")
            process_id = executable[0]
        if process_id not in ids:
            raise ModelError(f"The file has no process with id {process_id!r}")
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as err:
        line = getattr(err, "line_number", None)
        where = f" (line {line})" if line else ""
        raise ModelError(f"The model is not valid BPMN: {err}{where}") from None
    for each in [spec, *subprocess_specs.values()]:
        _use_engine_clock_for_timers(each)
        _compile_all_code(each)
    name = parser.get_process_parser(process_id).node.get("name") or process_id
    return ParsedModel(process_id, name, spec, subprocess_specs)


class ClockedTimeDateEventDefinition(TimeDateEventDefinition):
    """A timeDate timer that compares with the engine's clock instead of the system clock."""

    def has_fired(self, my_task: SpiffTask) -> bool:
        value = my_task._get_internal_data("event_value")
        if value is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            _timer_instant(my_task, value)  # refuse a value that is no instant before keeping it
            my_task._set_internal_data(event_value=value)
        if _timer_instant(my_task, value) <= my_task.workflow.script_engine.now():
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedDurationTimerEventDefinition(DurationTimerEventDefinition):
    """A timeDuration timer counted on the engine's clock."""

    def has_fired(self, my_task: SpiffTask) -> bool:
        value = my_task._get_internal_data("event_value")
        now = my_task.workflow.script_engine.now()
        if value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            try:
                duration = TimerEventDefinition.parse_iso_duration(expression)
                value = (now + TimerEventDefinition.get_timedelta_from_start(duration, now)).isoformat()
            except Exception as err:  # noqa: BLE001 - whatever the model's expression gave
                raise ModelError(f"Timer {my_task.task_spec.bpmn_id} gave {_shorten(repr(expression))}, "
                                 f"which is not an ISO-8601 duration ({type(err).__name__})",
                                 activity=my_task.task_spec.bpmn_id) from None
            my_task._set_internal_data(event_value=value)
        if TimerEventDefinition.get_datetime(value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


def _timer_instant(task: SpiffTask, value: Any) -> datetime:
    """The instant a timeDate expression gave, or a ModelError naming the timer."""
    try:
        instant = TimerEventDefinition.parse_time_or_duration(value)
        if not isinstance(instant, datetime) or instant.tzinfo is None:
            raise ValueError("not an instant with an offset")
        return instant
    except Exception as err:  # noqa: BLE001 - whatever the model's expression gave
        raise ModelError(f"Timer {task.task_spec.bpmn_id} gave {_shorten(repr(value))}, which is not an "
                         f"ISO-8601 instant with an offset ({type(err).__name__})",
                         activity=task.task_spec.bpmn_id) from None


_CLOCKED = {
    TimeDateEventDefinition: ClockedTimeDateEventDefinition,
    DurationTimerEventDefinition: ClockedDurationTimerEventDefinition,
}


def _use_engine_clock_for_timers(spec: Any) -> None:
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        clocked = _CLOCKED.get(type(definition))
        if definition is not None and clocked is not None:
            task_spec.event_definition = clocked(
                definition.name, definition.expression, description=definition.description
            )


def _code_of(task_spec: Any) -> list[tuple[str, str]]:
    """Every (kind, source) a task spec will run: scripts, conditions, timer and parameter expressions."""
    found = []
    if isinstance(getattr(task_spec, "script", None), str):
        found.append(("script", task_spec.script))
    for condition, _ in getattr(task_spec, "cond_task_specs", []) or []:
        if condition is not None:
            found.append(("expression", condition.args[0]))
    expression = getattr(getattr(task_spec, "event_definition", None), "expression", None)
    if isinstance(expression, str):
        found.append(("expression", expression))
    for param in (getattr(task_spec, "operation_params", None) or {}).values():
        found.append(("expression", param["value"]))
    return found


def _compile_all_code(spec: Any) -> None:
    """Refuse at deploy time what the sandbox would refuse at run time (and plain syntax errors)."""
    for task_spec in spec.task_specs.values():
        for kind, source in _code_of(task_spec):
            try:
                (compile_script if kind == "script" else compile_expression)(source)
            except ScriptSecurityError as err:
                where = getattr(task_spec, "bpmn_id", None) or task_spec.name
                raise ModelError(f"{where}: {err}") from None


ServiceHandler = Callable[[SpiffTask, dict[str, Any]], Any]


def raised_by_model_code(error: BaseException) -> bool:
    """Whether an error is the model's doing: any Exception, or a SystemExit/KeyboardInterrupt
    raised inside a BPMN script. The same BaseException raised anywhere else is a real request to
    stop the process and must go through."""
    if isinstance(error, Exception):
        return True
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME:
            return True
        tb = tb.tb_next
    return False


class EngineScriptEngine(PythonScriptEngine):
    """Runs scripts in the sandbox, tells timers the time, dispatches service tasks."""

    def __init__(
        self,
        helpers: Mapping[str, Callable[..., Any]],
        clock: Clock,
        services: Mapping[str, ServiceHandler],
        line_budget: int = 10_000,
        limits: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(environment=RestrictedEnvironment(helpers, line_budget, **(limits or {})))
        self.clock = clock
        self.services = services

    def now(self) -> datetime:
        return self.clock.now()

    def evaluate(self, task: SpiffTask, expression: str, external_context: Any = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except EngineError as err:
            err.context.setdefault("activity", task.task_spec.bpmn_id)
            raise
        except BaseException as err:  # noqa: BLE001 - any failure of model code becomes a named model error
            if not raised_by_model_code(err):
                raise
            raise ModelError(f"Expression {_shorten(expression)!r} in {task.task_spec.bpmn_id} failed: "
                             f"{type(err).__name__}: {_shorten(str(err))}", activity=task.task_spec.bpmn_id) from None

    def execute(self, task: SpiffTask, script: str, external_context: Any = None) -> Any:
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except EngineError as err:
            err.context.setdefault("activity", task.task_spec.bpmn_id)
            raise
        except BaseException as err:  # noqa: BLE001 - any failure of model code becomes a named model error
            if not raised_by_model_code(err):
                raise
            raise ModelError(f"Script in {task.task_spec.bpmn_id} failed: {type(err).__name__}: "
                             f"{_shorten(str(err))}", activity=task.task_spec.bpmn_id) from None

    def call_service(self, task: SpiffTask, operation_name: str = "", operation_params: Any = None,
                     **kwargs: Any) -> str:
        # Spiff's own call_service has a broken error path; ours names the missing operator.
        handler = self.services.get(operation_name)
        if handler is None:
            raise ModelError(f"Unknown service operator {operation_name!r} in {task.task_spec.bpmn_id}")
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        return json.dumps(handler(task, params))


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


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


def _build_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _SpecByReferenceConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


_serializer = _build_serializer()
_serializer_lock = Lock()


def dump_state(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's state (without the spec) to JSON."""
    # The registry flips a mode flag while encoding, so one dump at a time per process.
    try:
        with _serializer_lock:
            return _serializer.serialize_json(workflow)
    except Exception as err:  # noqa: BLE001 - data a script left behind that JSON cannot hold
        raise ModelError(f"The process data cannot be saved ({type(err).__name__}: {_shorten(str(err))}); "
                         "scripts may leave only text, numbers, booleans, lists and dictionaries") from None


def load_state(state: str, model: ParsedModel, script_engine: EngineScriptEngine) -> BpmnWorkflow:
    """Restore a workflow from `dump_state` output and attach the script engine."""
    dct = json.loads(state)
    _serializer.migrate(dct)
    workflow = _serializer.registry.restore(dct, model=model)
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


def _all_tasks(workflow: BpmnWorkflow) -> list[SpiffTask]:
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.tasks.values())
    return tasks


def ready_user_tasks(workflow: BpmnWorkflow) -> list[SpiffTask]:
    # One pass over the task dict: cheaper than Spiff's tree iterator, which the engine calls often.
    return [t for t in _all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual]


def waiting_timers(workflow: BpmnWorkflow) -> list[tuple[SpiffTask, datetime]]:
    """Every waiting timer with its due instant (evaluating the expression if not yet done)."""
    found = []
    for task in _all_tasks(workflow):
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


def spec_documentation(model: ParsedModel, bpmn_id: str) -> str | None:
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
    return [(task, TaskState.get_name(task.state)) for task in _all_tasks(workflow)
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


# Migrating a running workflow onto another version of its model (SpiffWorkflow.bpmn.util.diff).
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
for _clocked in (ClockedTimeDateEventDefinition, ClockedDurationTimerEventDefinition):
    TimerConditionalEventDefinitionConverter(_clocked, _serializer.registry)


def _diff_parts(workflow: BpmnWorkflow, model: ParsedModel) -> list[_Part]:
    owners = [(workflow, model.spec)] + [(sp, model.subprocess_specs.get(sp.spec.name))
                                         for sp in workflow.subprocesses.values()]
    with _serializer_lock:  # the registry converts differently while another thread encodes
        spec_diffs = [SpecDiff(_serializer.registry, owner.spec, spec) if spec else None for owner, spec in owners]
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
        message = f"The models cannot be aligned ({type(err).__name__}: {_shorten(str(err))})"
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
    due_before = {task.id: task._get_internal_data("event_value") for task in _all_tasks(workflow)
                  if str(task.id) in kept and task.state == TaskState.WAITING}
    try:
        for owner, _, workflow_diff, new_spec in parts:
            migrate_workflow(workflow_diff, owner, new_spec)
        workflow.subprocess_specs = dict(model.subprocess_specs)
    except EngineError:
        raise
    except Exception as err:  # noqa: BLE001 - Spiff could not reset this case's tasks
        raise ModelError(f"The case cannot be moved onto the new model ({type(err).__name__}: "
                         f"{_shorten(str(err))})") from None
    for task in _all_tasks(workflow):
        if task.id in due_before and due_before[task.id] is not None and task.state == TaskState.WAITING:
            task.internal_data.pop("event_fired", None)
            task._set_internal_data(event_value=due_before[task.id])
    return changes


def timer_dues(workflow: BpmnWorkflow) -> dict[str, datetime]:
    """By Spiff id, the due time of every waiting timer and of every timer due but not yet run."""
    dues = {}
    for task in _all_tasks(workflow):
        value = task._get_internal_data("event_value")
        if task.state & _ACTIVE and isinstance(value, str) and _kind(task.task_spec) == "timer":
            dues[str(task.id)] = TimerEventDefinition.get_datetime(value).astimezone(UTC)
    return dues
