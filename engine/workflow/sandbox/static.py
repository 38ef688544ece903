"""What BPMN code shows before it runs: refused when the model is deployed.

The syntax tree is walked once (iteratively: a deep tree must not exhaust the stack) for imports,
BaseException classes, `return`/`yield` outside functions, `yield` inside try/finally and nesting
too deep to compile; and the constant parts of the code (`10 ** 10 ** 10`, `'x'.ljust(10**9)`,
`f'{1:>3000000000}'`) are worked out through the same guards as at run time, so that what would
certainly be refused at run time is refused at deploy.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any, cast

from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox.budget import DEFAULT_LIMITS, MAX_SEQUENCE_LENGTH, enter, leave
from engine.workflow.sandbox.builtins import GROWING_METHODS, GUARDED_BUILTINS, guarded_getattr
from engine.workflow.sandbox.operators import (
    guarded_add,
    guarded_format,
    guarded_lshift,
    guarded_mod,
    guarded_mul,
    guarded_pow,
)

MAX_NESTING_DEPTH = 100  # levels of the syntax tree (the compiler recurses over it)

# Only Exception subclasses may be raised by models: these stop a process.
BASE_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
                             "BaseExceptionGroup"})

_LOOPS = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda,
          ast.FunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_IN_TRY_FINALLY = 2  # a third state of "in a function"
_OUTSIDE_FUNCTIONS = {ast.Return: "return", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Await: "await"}


def inspect_tree(tree: ast.AST) -> tuple[bool, bool]:
    """Refuse what is visible without running the code; say whether it has loops or functions
    (so needs the tracer) and whether it binds names with `:=`."""
    traced = binds = False
    computations: list[ast.AST] = []
    stack: list[tuple[ast.AST, int, int]] = [(tree, 0, False)]
    while stack:  # iterative, and before anything recursive: a deep tree must not exhaust our stack
        node, depth, in_function = stack.pop()
        if depth > MAX_NESTING_DEPTH:
            raise ScriptSecurityError(f"BPMN code may not be nested more than {MAX_NESTING_DEPTH} levels deep")
        kind = type(node)
        if kind in (ast.Import, ast.ImportFrom):
            raise ScriptSecurityError("Imports are not allowed in BPMN scripts")
        if isinstance(node, ast.Name) and node.id in BASE_EXCEPTIONS:
            raise ScriptSecurityError(f"{node.id} is not available in BPMN code; raise an Exception")
        if kind in _OUTSIDE_FUNCTIONS and not in_function:
            raise ScriptSecurityError(f"'{_OUTSIDE_FUNCTIONS[kind]}' outside a function")
        if kind in (ast.Yield, ast.YieldFrom) and in_function == _IN_TRY_FINALLY:
            # A generator left suspended there runs its finally block when collected: later, untraced.
            raise ScriptSecurityError("'yield' inside try/finally is not allowed in BPMN code")
        traced, binds = traced or isinstance(node, _LOOPS), binds or kind is ast.NamedExpr
        if kind in (ast.BinOp, ast.Call, ast.JoinedStr):
            computations.append(node)
        if isinstance(node, _FUNCTIONS):
            in_function = True
        elif isinstance(node, ast.Try) and node.finalbody and in_function:
            in_function = _IN_TRY_FINALLY
        stack.extend((child, depth + 1, in_function) for child in ast.iter_child_nodes(node))
    previous = enter(DEFAULT_LIMITS)  # one budget for all constant parts of the code
    try:
        constants: dict[int, Any] = {}
        for node in computations:
            _constant(node, constants)
    finally:
        leave(previous)
    return traced, binds


_UNKNOWN = object()
_STATIC_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: guarded_add, ast.Mult: guarded_mul, ast.Pow: guarded_pow,
    ast.LShift: guarded_lshift, ast.Mod: guarded_mod, ast.Sub: operator.sub,
    ast.FloorDiv: operator.floordiv, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_, ast.BitXor: operator.xor, ast.USub: operator.neg, ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_STATIC_CALLS = {name: GUARDED_BUILTINS[name] for name in ("range", "pow", "bytes", "bytearray", "round")}
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "to_bytes"})


def _constant(node: ast.AST, known: dict[int, Any]) -> Any:
    """The value of a constant part of the code, worked out through the same guards as at run time
    (with the default limits), so that `10 ** 10 ** 10` or `'x'.ljust(10**9)` is refused at deploy;
    _UNKNOWN for anything else."""
    if id(node) not in known:
        try:
            known[id(node)] = _evaluate(node, lambda child: _constant(child, known))
        except ScriptSecurityError:
            raise
        except Exception:  # noqa: BLE001 - e.g. 1/0 or 'a' * 'b': the error at run time is the model's
            known[id(node)] = _UNKNOWN
    return known[id(node)]


def _evaluate(node: ast.AST, value: Callable[[ast.AST], Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return _evaluate_fstring(node, value)
    if isinstance(node, ast.Call):
        return _evaluate_call(node, value)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [value(element) for element in node.elts]
        return _UNKNOWN if _UNKNOWN in items else tuple(items) if isinstance(node, ast.Tuple) else items
    operation = _STATIC_OPERATORS.get(type(getattr(node, "op", None)))
    if operation is not None and isinstance(node, ast.UnaryOp):
        operands = [value(node.operand)]
    elif operation is not None and isinstance(node, ast.BinOp):
        operands = [value(node.left), value(node.right)]
    else:
        return _UNKNOWN
    return _UNKNOWN if _UNKNOWN in operands else operation(*operands)


def _evaluate_fstring(node: ast.JoinedStr, value: Callable[[ast.AST], Any]) -> Any:
    parts = []
    for part in node.values:  # every width is checked, even after an unknown field
        if not isinstance(part, ast.FormattedValue):
            parts.append(value(part))
            continue
        spec, field = "" if part.format_spec is None else value(part.format_spec), value(part.value)
        if spec is not _UNKNOWN:
            guarded_format("", -1, spec)  # the width alone may be too large
        known = spec is not _UNKNOWN and field is not _UNKNOWN
        parts.append(guarded_format(field, part.conversion, spec) if known else _UNKNOWN)
    return _UNKNOWN if _UNKNOWN in parts else "".join(parts)


def _evaluate_call(node: ast.Call, value: Callable[[ast.AST], Any]) -> Any:
    args = [value(arg) for arg in node.args]
    if isinstance(node.func, ast.Attribute) and node.func.attr in _WIDTH_METHODS and args \
            and isinstance(args[0], int) and args[0] > MAX_SEQUENCE_LENGTH:  # whatever it is called on
        raise ScriptSecurityError(f"{node.func.attr}() would make more than {MAX_SEQUENCE_LENGTH:,} elements; "
                                  "BPMN code may not")
    kwargs = {keyword.arg: value(keyword.value) for keyword in node.keywords}
    if _UNKNOWN in args or _UNKNOWN in kwargs.values() or None in kwargs:
        return _UNKNOWN
    named = cast("dict[str, Any]", kwargs)  # no `**mapping` (a None key): mypy cannot see that from `in`
    if isinstance(node.func, ast.Name) and node.func.id in _STATIC_CALLS:
        return _STATIC_CALLS[node.func.id](*args, **named)
    if isinstance(node.func, ast.Attribute) and node.func.attr in GROWING_METHODS:
        receiver = value(node.func.value)
        if receiver is not _UNKNOWN:
            return guarded_getattr(receiver, node.func.attr)(*args, **named)
    return _UNKNOWN
