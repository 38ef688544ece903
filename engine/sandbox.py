"""A restricted environment for BPMN scripts and expressions.

SpiffWorkflow's default environment is plain eval/exec, so a model could run any code. Here
every script and expression is compiled with RestrictedPython (no imports, no names or
attributes starting with an underscore, guarded item and attribute writes), sees only a
whitelist of builtins and the helpers the engine provides, and runs within budgets:

- code with loops or functions runs under a tracer that counts its lines (the line budget) and
  looks at the CPU-time budget every few lines; straight-line code needs no tracer;
- work that a tracer cannot interrupt because it is a single C-level call (`*`, `+`, `**`, `<<`,
  `%`, f-string fields, `range`, padding and copying) goes through the guards of
  engine.sandbox_guards, which refuse a result too large before computing it and charge what
  they let through to a memory budget;
- so do comparisons, `in`, hashing (dict and set keys), sorting and set operations, which go over
  a nested container once for every way a part is reachable: a container whose "unfolded" size
  is too large (`x = [x, x]` sixty times) is refused before C code goes into it;
- an exception leaving the code with arguments too large to turn into text is refused.

What is visible in the source is refused when the model is deployed (engine.sandbox_static): huge
constant powers, repetitions and widths, imports, BaseException classes, top-level return/yield,
and sources too long or too deeply nested to compile safely.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import filterfalse
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
from engine.sandbox_static import BASE_EXCEPTIONS, inspect_tree

MAX_SOURCE_LENGTH = 20_000  # characters of one script or expression
_LINES_PER_CLOCK_LOOK = 16
_SCALARS = guards.SCALARS

# The file name of compiled BPMN code: the budgets count lines in frames of this file only.
SCRIPT_FILENAME = "<bpmn script>"

# The functions the restricted bytecode calls (`_getattr_`, `_eq_`...): names BPMN code cannot
# write. They live with the builtins, so that a scope is a small copy; task data that happens to
# use one of these names cannot shadow it (see RestrictedEnvironment._scope).
_GUARD_FUNCTIONS: dict[str, Any] = {
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    **guards.GUARD_GLOBALS,
}
_GUARD_NAMES = frozenset(_GUARD_FUNCTIONS)

_BUILTINS: dict[str, Any] = {
    **{name: value for name, value in safe_builtins.items() if name not in BASE_EXCEPTIONS},
    **guards.GUARDED_BUILTINS,
    **_GUARD_FUNCTIONS,
}

_GUARDS: dict[str, Any] = {"__builtins__": _BUILTINS}

_GUARDED_OPERATORS = {ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_",
                      ast.Mod: "_mod_", ast.Sub: "_sub_", ast.BitAnd: "_and_", ast.BitOr: "_or_", ast.BitXor: "_xor_"}
_SET_OPERATORS = frozenset({"_sub_", "_and_", "_or_", "_xor_"})  # guarded for dict views only
_GUARDED_COMPARISONS = {ast.Eq: "_eq_", ast.NotEq: "_ne_", ast.Lt: "_lt_", ast.LtE: "_le_", ast.Gt: "_gt_",
                        ast.GtE: "_ge_", ast.In: "_in_", ast.NotIn: "_in_"}


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


def _is_scalar(node: ast.AST) -> bool:
    return _is_literal(node) and not isinstance(node, (ast.Tuple, ast.List, ast.Set))


def _key(node: ast.expr) -> ast.expr:
    """A dict key or set member: hashed."""
    if isinstance(node, ast.Starred):  # {*items}
        node.value = _call("_keys_", [node.value], node.value)
        return node
    return node if _is_literal(node) else _call("_key_", [node], node)


class _GuardingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: the operators that can grow a value (or make a set of a
    dict view), f-string fields, comparisons that may go over a large or nested object, and keys
    hashed by dict and set literals, comprehensions and item assignments go through guards; every
    `except` block first re-raises the sandbox's refusals."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        guard = _GUARDED_OPERATORS.get(type(node.op))
        if guard is None or guard in _SET_OPERATORS and (_is_scalar(node.left) or _is_scalar(node.right)):
            return node  # `limit - 200`: no set is made of a number
        return _call(guard, [node.left, node.right], node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = self.node_contents_visit(node)
        spec = node.format_spec or ast.Constant("")
        node.value = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        node.conversion, node.format_spec = -1, None
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        node = self.node_contents_visit(node)
        if len(node.ops) == 1:  # `a < b`: one guard sees both operands
            op, left, right = node.ops[0], node.left, node.comparators[0]
            if isinstance(op, (ast.In, ast.NotIn)):
                if _is_literal(right) and isinstance(right, (ast.Tuple, ast.List, ast.Constant)):
                    return node  # compared with a few literals: never more than they hold
            elif isinstance(op, (ast.Is, ast.IsNot)) or _is_literal(left) or _is_literal(right):
                return node  # against a literal, a comparison stops at once
            guarded: ast.expr = _call(_GUARDED_COMPARISONS[type(op)], [left, right], node)
            if isinstance(op, ast.NotIn):
                guarded = ast.UnaryOp(ast.Not(), guarded)
                copy_locations(guarded, node)
            return guarded
        # A chain (`a < b < c`) evaluates each operand once: each is guarded alone.
        operands = [node.left, *node.comparators]
        literal = [_is_literal(operand) for operand in operands]
        wrappers: list[str | None] = [None] * len(operands)
        for i, op in enumerate(node.ops):
            if isinstance(op, (ast.In, ast.NotIn)):  # the container is scanned or the needle hashed
                if not literal[i + 1]:
                    wrappers[i + 1] = "_haystack_"
                if not literal[i] and not isinstance(operands[i + 1], (ast.Tuple, ast.List, ast.Constant)):
                    wrappers[i] = wrappers[i] or "_operand_"
            elif not isinstance(op, (ast.Is, ast.IsNot)) and not literal[i] and not literal[i + 1]:
                wrappers[i], wrappers[i + 1] = wrappers[i] or "_operand_", wrappers[i + 1] or "_operand_"
        guarded_operands = [operand if guard is None else _call(guard, [operand], operand)
                            for operand, guard in zip(operands, wrappers, strict=True)]
        node.left, node.comparators = guarded_operands[0], guarded_operands[1:]
        return node

    def visit_Set(self, node: ast.Set) -> ast.AST:
        node = self.node_contents_visit(node)
        node.elts = [_key(elt) for elt in node.elts]
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        node = self.node_contents_visit(node)
        node.keys = [key if key is None else _key(key) for key in node.keys]  # None: `**mapping`
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        node = super().visit_SetComp(node)
        node.elt = _key(node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        node = super().visit_DictComp(node)
        node.key = _key(node.key)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        node = super().visit_Subscript(node)  # a load becomes _getitem_(), which guards the key
        if isinstance(node, ast.Subscript):  # `table[key] = value`, `del table[key]`; not `items[1:2] = ...`
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if not any(isinstance(part, ast.Slice) for part in parts):
                node.slice = _key(node.slice)
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
    traced, binds = inspect_tree(tree)
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
        self._reserved = frozenset(self.globals) | _GUARD_NAMES

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
        except Exception as err:
            guards.check_raised(err, source)
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
        for key in filterfalse(self._reserved.__contains__, scope):
            if key in external:
                continue
            value = scope[key]
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
