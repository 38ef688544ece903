"""The script engine: scripts and expressions in the sandbox, service tasks dispatched to the
platform's operators, errors of model code named by their element."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.workflow.adapter.parsing import shorten
from engine.workflow.clock import Clock
from engine.workflow.errors import EngineError, ModelError
from engine.workflow.sandbox import SCRIPT_FILENAME, RestrictedEnvironment

SpiffTask = Any  # a SpiffWorkflow task


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
        except BaseException as err:  # noqa: BLE001 - any failure of model code becomes a named model error
            raise _model_error(task, err, f"Expression {shorten(expression)!r} in") from None

    def execute(self, task: SpiffTask, script: str, external_context: Any = None) -> Any:
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except BaseException as err:  # noqa: BLE001 - any failure of model code becomes a named model error
            raise _model_error(task, err, "Script in") from None

    def call_service(self, task: SpiffTask, operation_name: str = "", operation_params: Any = None,
                     **kwargs: Any) -> str:
        # Spiff's own call_service has a broken error path; ours names the missing operator.
        handler = self.services.get(operation_name)
        if handler is None:
            raise ModelError(f"Unknown service operator {operation_name!r} in {task.task_spec.bpmn_id}")
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        return json.dumps(handler(task, params))


def _model_error(task: SpiffTask, error: BaseException, what: str) -> BaseException:
    """The error to raise for a failure while running model code: the engine's own errors named by the
    element, the model's failures as a ModelError; a real request to stop (not from model code) as is."""
    activity = task.task_spec.bpmn_id
    if isinstance(error, EngineError):
        error.context.setdefault("activity", activity)
        return error
    if not raised_by_model_code(error):
        return error
    return ModelError(f"{what} {activity} failed: {type(error).__name__}: {shorten(str(error))}", activity=activity)
