"""The script environment Spiff runs BPMN scripts and expressions in, within budgets.

Every script and expression is compiled in restricted mode (engine.workflow.sandbox.compiler), sees only a
whitelist of builtins, the guards and the helpers the engine provides, and runs within budgets:
code with loops or functions runs under a tracer that counts its lines (the line budget) and
looks at the CPU-time budget every few lines; straight-line code needs no tracer, and code that
names no guard needs no budget. What the code leaves in task data is checked for size and code
(functions, iterators) before it is kept.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from itertools import filterfalse
from types import FrameType, ModuleType
from typing import Any

from RestrictedPython import safe_builtins
from RestrictedPython.Eval import default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox import budget, sizes
from engine.workflow.sandbox.budget import (
    CPU_SECONDS,
    MAX_INT_BITS,
    MAX_SEQUENCE_LENGTH,
    MEMORY_BUDGET_BYTES,
    SCALARS,
    Limits,
)
from engine.workflow.sandbox.builtins import GUARDED_BUILTINS
from engine.workflow.sandbox.compiler import GUARD_GLOBALS, SCRIPT_FILENAME, _Compiled, _compiled
from engine.workflow.sandbox.static import BASE_EXCEPTIONS

_LINES_PER_CLOCK_LOOK = 16

# The functions the restricted bytecode calls (`_getattr_`, `_eq_`...): names BPMN code cannot
# write. They live with the builtins, so that a scope is a small copy; task data that happens to
# use one of these names cannot shadow it (see RestrictedEnvironment._scope).
_GUARD_FUNCTIONS: dict[str, Any] = {
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    **GUARD_GLOBALS,
}
_GUARD_NAMES = frozenset(_GUARD_FUNCTIONS)

_BUILTINS: dict[str, Any] = {
    **{name: value for name, value in safe_builtins.items() if name not in BASE_EXCEPTIONS},
    **GUARDED_BUILTINS,
    **_GUARD_FUNCTIONS,
}

_GUARDS: dict[str, Any] = {"__builtins__": _BUILTINS}


def _tracer(line_budget: int) -> Callable[[FrameType, str, Any], Any]:
    """Stops BPMN code after `line_budget` interpreted lines, and looks at the CPU-time budget
    every few lines. Only the code's own frames (and functions it defines) are traced: the
    engine's helpers and anything Python runs meanwhile (a garbage-collector callback, say)
    neither spend the budget nor receive the exception."""
    remaining = line_budget
    until_clock = _LINES_PER_CLOCK_LOOK
    refusal = f"BPMN code ran past its step budget of {line_budget:,} lines (endless loop?)"

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal remaining, until_clock, refusal
        if event == "line":
            remaining -= 1
            if remaining < 0:
                raise ScriptSecurityError(refusal)
            until_clock -= 1
            if not until_clock:
                until_clock = _LINES_PER_CLOCK_LOOK
                try:
                    budget.current().tick()
                except ScriptSecurityError as err:
                    remaining, refusal = -1, str(err)  # every later line fails too
                    raise
        return trace

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:  # every new frame, the guards' too
        return trace if frame.f_code.co_filename == SCRIPT_FILENAME else None

    return on_call


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff script environment that evaluates and executes only restricted code, within budgets."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]], line_budget: int = 10_000, *,
                 cpu_seconds: float = CPU_SECONDS, max_sequence_length: int = MAX_SEQUENCE_LENGTH,
                 memory_budget: int = MEMORY_BUDGET_BYTES, max_int_bits: int = MAX_INT_BITS) -> None:
        super().__init__({**_GUARDS, **helpers})
        self.helper_names = frozenset(helpers)
        self.line_budget = line_budget
        self.limits = Limits(max_sequence_length, max_int_bits, memory_budget, cpu_seconds)
        self._evaluation: tuple[Limits, None] = (self.limits, None)
        self._reserved = frozenset(self.globals) | _GUARD_NAMES

    def _run(self, compiled: _Compiled, scope: dict[str, Any], source: str, data: dict[str, Any] | None = None) -> Any:
        if not compiled.guarded:  # e.g. `decision == "approve"`: nothing to count
            return eval(compiled.code, scope, data)  # noqa: S307 - restricted bytecode, guarded globals
        state = budget.state
        previous, state.evaluation = state.evaluation, self._evaluation
        try:
            if not compiled.traced:
                return eval(compiled.code, scope, data)  # noqa: S307 - restricted bytecode, guarded globals
            tracing = sys.gettrace()
            sys.settrace(_tracer(self.line_budget))
            try:
                return eval(compiled.code, scope)  # noqa: S307 - restricted bytecode, guarded globals
            finally:
                sys.settrace(tracing)
        except ScriptSecurityError as err:
            if err.source is None:
                err.source = err.context["source"] = source
            raise
        except Exception as err:
            sizes.check_raised(err, source)
            raise
        finally:
            state.evaluation = previous

    def _scope(self, context: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
        """Task data and external context overlaid by the sandbox's globals (and guards: a name of
        the data that is also a guard's means the guard)."""
        scope = self.globals.copy()  # cloning the larger dict and adding the data is faster
        scope.update(context)
        scope.update(external)
        if len(scope) != len(self.globals) + len(context) + len(external) or not _GUARD_NAMES.isdisjoint(scope):
            scope = {**context, **external, **self.globals}
            scope.update((name, _GUARD_FUNCTIONS[name]) for name in _GUARD_NAMES.intersection(scope))
        return scope

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        compiled = _compiled(expression, "eval")
        if compiled.flat and not external_context and self._reserved.isdisjoint(context):
            # Names resolve as in a merged scope (task data first, then the globals): no copy.
            result = self._run(compiled, self.globals, expression, context)
        else:
            result = self._run(compiled, self._scope(context, external_context or {}), expression)
        if type(result) not in SCALARS:
            if sizes.is_code(result):
                raise ScriptSecurityError("A BPMN expression must give data, not a function or an iterator",
                                          source=expression)
            sizes.check_output(result, self.limits)
        return result

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        compiled = _compiled(script, "exec")
        clash = self.helper_names.intersection(context)
        if clash:
            raise ScriptSecurityError(f"Task data overwrites engine helpers: {sorted(clash)}", source=script)
        external = external_context or {}
        scope = self._scope(context, external)
        self._run(compiled, scope, script)
        for key in filterfalse(self._reserved.__contains__, scope):
            if key in external:
                continue
            value = scope[key]
            if type(value) not in SCALARS:
                if sizes.is_code(value) or isinstance(value, ModuleType):
                    continue  # the script's own functions stay behind
                sizes.check_output(value, self.limits)
            context[key] = value
        for key in [k for k in context if k not in scope]:
            del context[key]
        for value in external.values():  # data objects the script may have changed in place
            if type(value) not in SCALARS:
                sizes.check_output(value, self.limits)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        raise ScriptSecurityError("Service tasks are dispatched by the engine, not by scripts")
