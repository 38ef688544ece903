"""Parsing BPMN: a hardened XML parser, the spec, timers on the engine's clock, every piece of
model code compiled in the sandbox at deploy time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser

from engine.workflow.adapter.decisions import add_decisions, guard_business_rule_tasks
from engine.workflow.errors import ModelError, ScriptSecurityError
from engine.workflow.sandbox import compile_expression, compile_script

SpiffTask = Any  # a SpiffWorkflow task


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
    # The process element's own spiffworkflow:properties (e.g. `en.name`).
    properties: dict[str, str] = field(default_factory=dict)


def parse_model(xml: str, process_id: str | None = None, decisions: Mapping[str, str] | None = None) -> ParsedModel:
    """Validate a BPMN document and build the spec of `process_id` (or its only executable process).

    `decisions` maps decision ids to the DMN documents deployed with the model; a business rule task
    calling a decision that is not among them is refused.
    """
    root = parse_xml_safely(xml)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        add_decisions(parser, {name: parse_xml_safely(text) for name, text in (decisions or {}).items()})
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
        guard_business_rule_tasks(each)
    node = parser.get_process_parser(process_id).node
    name = node.get("name") or process_id
    return ParsedModel(process_id, name, spec, subprocess_specs, _process_properties(node))


_SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _process_properties(node: Any) -> dict[str, str]:
    path = f"{{{_BPMN_NS}}}extensionElements/{{{_SPIFF_NS}}}properties/{{{_SPIFF_NS}}}property"
    return {prop.get("name"): prop.get("value", "") for prop in node.findall(path) if prop.get("name")}


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
                raise ModelError(f"Timer {my_task.task_spec.bpmn_id} gave {shorten(repr(expression))}, "
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
        raise ModelError(f"Timer {task.task_spec.bpmn_id} gave {shorten(repr(value))}, which is not an "
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
    for attribute in ("script", "prescript", "postscript"):
        if isinstance(getattr(task_spec, attribute, None), str):
            found.append(("script", getattr(task_spec, attribute)))
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



def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
