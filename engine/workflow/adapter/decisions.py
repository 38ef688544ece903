"""Decision tables (DMN) for business rule tasks: which decisions a model calls, adding them to the
parser, every cell compiled in the sandbox at deploy time, and failures of a table reported as the
model's errors (named by the task and the table's row) instead of SpiffWorkflow's exceptions."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask

from engine.workflow.errors import EngineError, ModelError, ScriptSecurityError
from engine.workflow.sandbox import compile_expression

SpiffTask = Any  # a SpiffWorkflow task

_SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# A table's cells are short expressions; a file is one decision table.
MAX_RULES = 500
# What SpiffWorkflow's DMN engine substitutes for `?` outside quotes (see DMNEngine.evaluate).
_QUESTION_MARK = re.compile(r'(\?)(?=(?:[^\'"]|[\'"][^\'"]*[\'"])*$)')


def called_decisions(root: Any) -> set[str]:
    """The decision ids the business rule tasks of a parsed BPMN document call."""
    path = f".//{{{_BPMN_NS}}}businessRuleTask//{{{_SPIFF_NS}}}calledDecisionId"
    return {(node.text or "").strip() for node in root.iterfind(path) if (node.text or "").strip()}


def decision_id(root: Any) -> str:
    """The id of the one decision a parsed DMN document holds, or a ModelError."""
    decisions = [node for node in root if isinstance(node.tag, str) and node.tag.endswith("}decision")]
    if len(decisions) != 1 or not decisions[0].get("id"):
        raise ModelError(f"A DMN file must hold exactly one decision with an id (found {len(decisions)})")
    return str(decisions[0].get("id"))


def add_decisions(parser: Any, decisions: Mapping[str, Any]) -> None:
    """Give the parser the DMN documents (parsed XML roots) deployed with a model, by decision id."""
    for name, root in decisions.items():
        found = decision_id(root)
        if found != name:
            raise ModelError(f"The decision table deployed as {name!r} holds the decision {found!r}")
        parser.add_dmn_xml(root, filename=f"{name}.dmn")


class DecisionFailed(ModelError, SpiffWorkflowException):
    """A decision table failed on a case: the model's error (a ModelError), shaped so that SpiffWorkflow's
    business rule task passes it through instead of wrapping it."""


class GuardedDecisionEngine(DMNEngine):
    """SpiffWorkflow's DMN engine for one table, whose failures are the model's errors naming the task."""

    def __init__(self, decision_table: Any, activity: str) -> None:
        super().__init__(decision_table)
        self.activity = activity

    def result(self, task: SpiffTask) -> Any:
        try:
            return super().result(task)
        except EngineError as err:
            raise DecisionFailed(f"Decision table of {self.activity} failed: {err.message}",
                                 **{**err.context, "activity": self.activity}) from None
        except SpiffWorkflowException as err:
            notes = "; ".join(getattr(err, "notes", []) or [])
            cause = getattr(err, "error", None) or err
            message = f"Decision table of {self.activity} failed: {cause}" + (f" ({notes})" if notes else "")
            raise DecisionFailed(message, activity=self.activity) from None
        except Exception as err:  # noqa: BLE001 - a broken table is the model's error
            raise DecisionFailed(f"Decision table of {self.activity} failed: {type(err).__name__}: {err}",
                                 activity=self.activity) from None


def guard_business_rule_tasks(spec: Any) -> None:
    """Compile every cell of every table the spec's business rule tasks use, and make their failures
    model errors. Raises ModelError naming the task, the row and the cell on code the sandbox refuses."""
    for task_spec in spec.task_specs.values():
        if not isinstance(task_spec, BusinessRuleTask):
            continue
        table = task_spec.dmnEngine.decision_table
        where = getattr(task_spec, "bpmn_id", None) or task_spec.name
        if len(table.rules) > MAX_RULES:
            raise ModelError(f"{where}: a decision table may have at most {MAX_RULES} rules", activity=where)
        for source, row in _cells(table):
            try:
                compile_expression(source)
            except ScriptSecurityError as err:
                raise ModelError(f"{where}: decision table row {row}: {err}", activity=where) from None
        task_spec.dmnEngine = GuardedDecisionEngine(table, where)


def _cells(table: Any) -> list[tuple[str, int]]:
    """Every expression the DMN engine will evaluate for a table, as it will build it, with its row."""
    found: list[tuple[str, int]] = []
    for rule in table.rules:
        for entry in rule.inputEntries:
            input_expression = entry.input.expression
            if input_expression:
                found.append((input_expression, rule.row_number))
            for match in entry.lhs:
                if match is None:
                    continue
                substituted = _QUESTION_MARK.sub("dmninputexpr", match)
                if "dmninputexpr" in substituted:
                    found.append((substituted, rule.row_number))
                else:
                    found.append((_comparison(input_expression or "None", match), rule.row_number))
        for entry in rule.outputEntries:
            if getattr(entry, "text", None):
                found.append((entry.text, rule.row_number))
    return found


def _comparison(input_expression: str, match: str) -> str:
    """What the DMN engine evaluates for a cell: equality, or the input followed by an operator."""
    try:
        ast.parse(match)
        return f"({input_expression}) == ({match})"
    except SyntaxError:
        return f"{input_expression} {match}"
