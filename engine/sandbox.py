"""A restricted environment for BPMN scripts and expressions.

SpiffWorkflow's default environment is plain eval/exec, so a model could run any code. Here
every script and expression is compiled with RestrictedPython (no imports, no names or
attributes starting with an underscore, guarded item and attribute writes), sees only a
whitelist of builtins and the helpers the engine provides, and runs within budgets:

- code with loops or functions runs under a tracer that counts its lines (the line budget) and
  looks at the CPU-time budget every few lines; straight-line code needs no tracer;
- work that a tracer cannot interrupt because it is a single C-level call (`*`, `+`, `**`, `<<`,
  `%`, f-string fields, comparisons, `range`, padding and copying) goes through the guards of
  engine.sandbox_guards, which refuse a result too large before computing it and charge what
  they let through to a memory budget.

What is visible in the source is refused when the model is deployed: huge constant powers,
repetitions and widths, imports, BaseException classes, top-level return/yield, and sources too
long or too deeply nested to compile safely.
"""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import CodeType, FrameType, ModuleType
from typing import Any, NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import sandbox_guards as guards
from engine.errors import ScriptSecurityError
from engine.sandbox_guards import CPU_SECONDS, MAX_INT_BITS, MAX_SEQUENCE_LENGTH, MEMORY_BUDGET_BYTES, Limits

MAX_SOURCE_LENGTH = 20_000  # characters of one script or expression
MAX_NESTING_DEPTH = 100  # levels of the syntax tree (the compiler recurses over it)
_LINES_PER_CLOCK_LOOK = 16
_SCALARS = guards.SCALARS

# The file name of compiled BPMN code: the budgets count lines in frames of this file only.
SCRIPT_FILENAME = "<bpmn script>"

# Only Exception subclasses may be raised by models: these stop a process.
_BASE_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit",
                              "BaseExceptionGroup"})

_BUILTINS: dict[str, Any] = {
    **{name: value for name, value in safe_builtins.items() if name not in _BASE_EXCEPTIONS},
    **guards.GUARDED_BUILTINS,
}

_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    **guards.GUARD_GLOBALS,
}

_GUARDED_OPERATORS = {ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_",
                      ast.Mod: "_mod_"}


def _call(guard: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(guard, ast.Load()), args=args, keywords=[])
    copy_locations(call, where)
    return call


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.operand, ast.Constant)
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and all(_is_literal(elt) for elt in node.elts)


class _GuardingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: the operators that can grow a value, f-string fields,
    operands of comparisons that may scan a large object and non-literal keys of dict and set
    literals go through guards; every `except` block first re-raises the sandbox's refusals."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        guard = _GUARDED_OPERATORS.get(type(node.op))
        return node if guard is None else _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        spec = node.format_spec or ast.Constant("")
        node.value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        node.conversion, node.format_spec = -1, None
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        node = self.node_contents_visit(node)
        operands = [node.left, *node.comparators]
        literal = [_is_literal(operand) for operand in operands]
        costly = [False] * len(operands)
        for i, op in enumerate(node.ops):
            if isinstance(op, (ast.In, ast.NotIn)):  # the container is scanned or the needle hashed
                costly[i + 1] = not literal[i + 1]
                costly[i] = costly[i] or not literal[i] and not isinstance(operands[i + 1], (ast.Tuple, ast.List))
            elif not isinstance(op, (ast.Is, ast.IsNot)) and not literal[i] and not literal[i + 1]:
                costly[i] = costly[i + 1] = True  # against a literal, a comparison stops at once
        guarded = [_call("_operand_", [operand], operand) if cost else operand
                   for operand, cost in zip(operands, costly, strict=True)]
        node.left, node.comparators = guarded[0], guarded[1:]
        return node

    def visit_Set(self, node: ast.Set) -> ast.AST:
        node = self.node_contents_visit(node)
        node.elts = [elt if _is_literal(elt) else _call("_operand_", [elt], elt) for elt in node.elts]
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        node = self.node_contents_visit(node)
        node.keys = [key if key is None or _is_literal(key) else _call("_operand_", [key], key) for key in node.keys]
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = super().visit_ExceptHandler(node)
        check = ast.Expr(_call("_reraise_refusal_", [], node))
        copy_locations(check, node)
        node.body.insert(0, check)
        return node


class _Compiled(NamedTuple):
    code: CodeType
    traced: bool  # has loops or functions, so needs the line/CPU tracer
    guarded: bool  # names a guard or a guarded builtin, so needs a budget
    flat: bool  # an expression with no nested scope and no `:=`: may read task data in place


_BUDGET_NAMES = frozenset(guards.GUARD_GLOBALS) | frozenset(guards.GUARDED_BUILTINS)


def _names_a_guard(code: CodeType) -> bool:
    return not _BUDGET_NAMES.isdisjoint(code.co_names) or any(
        _names_a_guard(const) for const in code.co_consts if isinstance(const, CodeType))


_LOOPS = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda,
          ast.FunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_IN_TRY_FINALLY = 2  # a third state of "in a function"
_OUTSIDE_FUNCTIONS = {ast.Return: "return", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Await: "await"}


def _inspect(tree: ast.AST) -> tuple[bool, bool]:
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
        if kind is ast.Name and node.id in _BASE_EXCEPTIONS:  # type: ignore[attr-defined]
            raise ScriptSecurityError(f"{node.id} is not available in BPMN code; raise an Exception")  # type: ignore[attr-defined]
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
        elif kind is ast.Try and node.finalbody and in_function:  # type: ignore[attr-defined]
            in_function = _IN_TRY_FINALLY
        stack.extend((child, depth + 1, in_function) for child in ast.iter_child_nodes(node))
    previous = guards.enter(guards.DEFAULT_LIMITS)  # one budget for all constant parts of the code
    try:
        constants: dict[int, Any] = {}
        for node in computations:
            _constant(node, constants)
    finally:
        guards.leave(previous)
    return traced, binds


_UNKNOWN = object()
_STATIC_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: guards.guarded_add, ast.Mult: guards.guarded_mul, ast.Pow: guards.guarded_pow,
    ast.LShift: guards.guarded_lshift, ast.Mod: guards.guarded_mod, ast.Sub: operator.sub,
    ast.FloorDiv: operator.floordiv, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_, ast.BitXor: operator.xor, ast.USub: operator.neg, ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_STATIC_CALLS = {name: guards.GUARDED_BUILTINS[name] for name in ("range", "pow", "bytes", "bytearray", "round")}
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
    if operation is None:
        return _UNKNOWN
    operands = [value(node.operand)] if isinstance(node, ast.UnaryOp) else [value(node.left), value(node.right)]
    return _UNKNOWN if _UNKNOWN in operands else operation(*operands)


def _evaluate_fstring(node: ast.JoinedStr, value: Callable[[ast.AST], Any]) -> Any:
    parts = []
    for part in node.values:  # every width is checked, even after an unknown field
        if not isinstance(part, ast.FormattedValue):
            parts.append(value(part))
            continue
        spec, field = "" if part.format_spec is None else value(part.format_spec), value(part.value)
        if spec is not _UNKNOWN:
            guards.guarded_format("", -1, spec)  # the width alone may be too large
        known = spec is not _UNKNOWN and field is not _UNKNOWN
        parts.append(guards.guarded_format(field, part.conversion, spec) if known else _UNKNOWN)
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
    if isinstance(node.func, ast.Name) and node.func.id in _STATIC_CALLS:
        return _STATIC_CALLS[node.func.id](*args, **kwargs)
    if isinstance(node.func, ast.Attribute) and node.func.attr in guards.GROWING_METHODS:
        receiver = value(node.func.value)
        if receiver is not _UNKNOWN:
            return guards.guarded_getattr(receiver, node.func.attr)(*args, **kwargs)
    return _UNKNOWN


def _compile(source: str, mode: str) -> _Compiled:
    if not isinstance(source, str):
        raise ScriptSecurityError("BPMN code must be text")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ScriptSecurityError(f"BPMN code is longer than {MAX_SOURCE_LENGTH:,} characters", source=source[:200])
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as err:
        where = f"Line {err.lineno}: " if err.lineno else ""
        raise ScriptSecurityError(f"{where}SyntaxError: {err.msg}", source=source) from None
    except (RecursionError, MemoryError) as err:
        raise ScriptSecurityError(f"BPMN code is nested too deeply to parse ({type(err).__name__})",
                                  source=source) from None
    except ValueError as err:  # e.g. a null character, on some Python versions
        raise ScriptSecurityError(f"BPMN code cannot be parsed: {err}", source=source) from None
    traced, binds = _inspect(tree)
    flat = mode == "eval" and not traced and not binds
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(tree, filename=SCRIPT_FILENAME, policy=_GuardingTransformer)
    except Exception as err:  # noqa: BLE001 - whatever the compiler raises, the model is refused, not the caller
        raise ScriptSecurityError(f"BPMN code cannot be compiled: {type(err).__name__}: {err}", source=source) from None
    if result.errors or result.code is None:
        raise ScriptSecurityError("; ".join(result.errors) or "cannot compile", source=source)
    return _Compiled(result.code, traced, traced or _names_a_guard(result.code), flat)


@lru_cache(maxsize=2048)
def _compiled(source: str, mode: str) -> _Compiled:
    return _compile(source, mode)


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> CodeType:
    """Compile an expression in restricted mode, or raise ScriptSecurityError."""
    return _compiled(source, "eval").code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> CodeType:
    """Compile a script in restricted mode, or raise ScriptSecurityError."""
    return _compiled(source, "exec").code


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
                    guards.current().tick()
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
        self._reserved = frozenset(self.globals)

    def _run(self, compiled: _Compiled, scope: dict[str, Any], source: str, data: dict[str, Any] | None = None) -> Any:
        if not compiled.guarded:  # e.g. `decision == "approve"`: nothing to count
            return eval(compiled.code, scope, data)  # noqa: S307 - restricted bytecode, guarded globals
        state = guards.state
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
        finally:
            state.evaluation = previous

    def _scope(self, context: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
        """Task data and external context overlaid by the sandbox's globals."""
        scope = self.globals.copy()  # cloning the larger dict and adding the data is faster
        scope.update(context)
        scope.update(external)
        if len(scope) != len(self.globals) + len(context) + len(external):  # a name taken twice
            scope = {**context, **external, **self.globals}
        return scope

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        compiled = _compiled(expression, "eval")
        if compiled.flat and not external_context and self._reserved.isdisjoint(context):
            # Names resolve as in a merged scope (task data first, then the globals): no copy.
            result = self._run(compiled, self.globals, expression, context)
        else:
            result = self._run(compiled, self._scope(context, external_context or {}), expression)
        if type(result) not in _SCALARS:
            if guards.is_code(result):
                raise ScriptSecurityError("A BPMN expression must give data, not a function or an iterator",
                                          source=expression)
            guards.check_output(result, self.limits)
        return result

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        compiled = _compiled(script, "exec")
        clash = self.helper_names.intersection(context)
        if clash:
            raise ScriptSecurityError(f"Task data overwrites engine helpers: {sorted(clash)}", source=script)
        external = external_context or {}
        scope = self._scope(context, external)
        self._run(compiled, scope, script)
        names = self.globals
        for key, value in scope.items():
            if key in names or key in external:
                continue
            if type(value) not in _SCALARS:
                if guards.is_code(value) or isinstance(value, ModuleType):
                    continue  # the script's own functions stay behind
                guards.check_output(value, self.limits)
            context[key] = value
        for key in [k for k in context if k not in scope]:
            del context[key]
        for value in external.values():  # data objects the script may have changed in place
            if type(value) not in _SCALARS:
                guards.check_output(value, self.limits)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> str:
        raise ScriptSecurityError("Service tasks are dispatched by the engine, not by scripts")
