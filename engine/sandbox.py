"""A restricted environment for BPMN scripts and expressions.

SpiffWorkflow's default environment is plain eval/exec, so a model could run any code. Here
every script and expression is compiled with RestrictedPython (no imports, no names or
attributes starting with an underscore, guarded item and attribute writes), sees only a
whitelist of builtins and the helpers the engine provides, and runs under a line budget so
that an endless loop stops. Huge powers (``10**10**10``) are refused at compile time because
a single C-level operation cannot be interrupted.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import CodeType, FrameType, ModuleType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.errors import ScriptSecurityError

MAX_POWER_EXPONENT = 64

_SAFE_EXTRA_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in ("all", "any", "dict", "enumerate", "list", "max", "min", "sum", "sorted", "reversed", "map", "filter")
}

_BUILTINS = {**safe_builtins, **_SAFE_EXTRA_BUILTINS}

_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
}

_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": lambda x, y: x + y,
    "-=": lambda x, y: x - y,
    "*=": lambda x, y: x * y,
    "/=": lambda x, y: x / y,
    "//=": lambda x, y: x // y,
    "%=": lambda x, y: x % y,
}

_RESERVED = frozenset(_GUARDS)


def _refuse_imports_and_huge_powers(source: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return  # RestrictedPython reports syntax errors with a better message
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ScriptSecurityError("Imports are not allowed in BPMN scripts", source=source)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if not (isinstance(exponent, ast.Constant) and isinstance(exponent.value, int)
                    and abs(exponent.value) <= MAX_POWER_EXPONENT):
                raise ScriptSecurityError(
                    f"Power with an exponent other than a constant up to {MAX_POWER_EXPONENT} is not allowed",
                    source=source,
                )


# The file name of compiled BPMN code: the line budget counts lines in frames of this file only.
SCRIPT_FILENAME = "<bpmn script>"


def _compile(source: str, compiler: Callable[..., Any]) -> CodeType:
    _refuse_imports_and_huge_powers(source)
    result = compiler(source, filename=SCRIPT_FILENAME)
    if result.errors or result.code is None:
        raise ScriptSecurityError("; ".join(result.errors) or "cannot compile", source=source)
    return result.code


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> CodeType:
    """Compile an expression in restricted mode, or raise ScriptSecurityError."""
    return _compile(source, compile_restricted_eval)


@lru_cache(maxsize=2048)
def compile_script(source: str) -> CodeType:
    """Compile a script in restricted mode, or raise ScriptSecurityError."""
    return _compile(source, compile_restricted_exec)


class _LineBudget:
    """Stops a script after `budget` interpreted lines (an endless loop, a runaway recursion).

    Only the script's own frames (and functions it defines) are traced: the engine's helpers and
    anything Python runs meanwhile (a garbage-collector callback, say) neither spend the budget nor
    receive the exception.
    """

    def __init__(self, budget: int, source: str) -> None:
        self.remaining = budget
        self.source = source

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            return self if frame.f_code.co_filename == SCRIPT_FILENAME else None
        if event == "line":
            self.remaining -= 1
            if self.remaining < 0:
                raise ScriptSecurityError("Script ran past its step budget (endless loop?)", source=self.source)
        return self


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff script environment that evaluates and executes only restricted code."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]], line_budget: int = 10_000) -> None:
        super().__init__({**_GUARDS, **helpers})
        self.helper_names = frozenset(helpers)
        self.line_budget = line_budget

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = compile_expression(expression)
        scope = {**context, **(external_context or {}), **self.globals}
        return eval(code, scope)  # noqa: S307 - restricted bytecode, guarded globals

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        code = compile_script(script)
        clash = self.helper_names.intersection(context)
        if clash:
            raise ScriptSecurityError(f"Task data overwrites engine helpers: {sorted(clash)}", source=script)
        scope = {**context, **(external_context or {}), **self.globals}
        previous = sys.gettrace()
        sys.settrace(_LineBudget(self.line_budget, script))
        try:
            exec(code, scope)  # noqa: S102 - restricted bytecode, guarded globals
        finally:
            sys.settrace(previous)
        for key, value in scope.items():
            if key in _RESERVED or key in self.globals or key in (external_context or {}):
                continue
            if callable(value) or isinstance(value, ModuleType):
                continue
            context[key] = value
        for key in [k for k in context if k not in scope]:
            del context[key]
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        raise ScriptSecurityError("Service tasks are dispatched by the engine, not by scripts")
