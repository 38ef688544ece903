"""Compiling BPMN code: RestrictedPython's policy, plus the calls that route work through guards.

RestrictedPython refuses imports and names or attributes starting with an underscore, and guards
item and attribute writes. On top of that, the operators that can grow a value, f-string fields,
comparisons that may go over a large or nested object and keys that are hashed are rewritten
into calls of the guards (GUARD_GLOBALS); every `except` block first re-raises the sandbox's
refusals. What the source shows is refused before compiling (engine.workflow.sandbox.static). Compiled
code is cached by source, with what running it needs: the tracer (loops or functions) or a
budget (it names a guard).
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from types import CodeType
from typing import Any, Literal, NamedTuple, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox.builtins import GUARDED_BUILTINS, guarded_getattr
from engine.workflow.sandbox.containers import (
    guarded_and,
    guarded_eq,
    guarded_ge,
    guarded_gt,
    guarded_haystack,
    guarded_in,
    guarded_key,
    guarded_keys,
    guarded_le,
    guarded_lt,
    guarded_ne,
    guarded_operand,
    guarded_or,
    guarded_sub,
    guarded_xor,
)
from engine.workflow.sandbox.operators import (
    guarded_add,
    guarded_format,
    guarded_getitem,
    guarded_inplace,
    guarded_lshift,
    guarded_mod,
    guarded_mul,
    guarded_pow,
)
from engine.workflow.sandbox.static import inspect_tree

MAX_SOURCE_LENGTH = 20_000  # characters of one script or expression

# The file name of compiled BPMN code: the budgets count lines in frames of this file only.
SCRIPT_FILENAME = "<bpmn script>"


_GUARDED_OPERATORS = {ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_",
                      ast.Mod: "_mod_", ast.Sub: "_sub_", ast.BitAnd: "_and_", ast.BitOr: "_or_", ast.BitXor: "_xor_"}
_SET_OPERATORS = frozenset({"_sub_", "_and_", "_or_", "_xor_"})  # guarded for dict views only
_GUARDED_COMPARISONS = {ast.Eq: "_eq_", ast.NotEq: "_ne_", ast.Lt: "_lt_", ast.LtE: "_le_", ast.Gt: "_gt_",
                        ast.GtE: "_ge_", ast.In: "_in_", ast.NotIn: "_in_"}


def _call(guard: str, args: list[ast.expr], where: ast.expr | ast.excepthandler) -> ast.Call:
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
        node = cast(ast.SetComp, super().visit_SetComp(node))  # RestrictedPython gives back the node
        node.elt = _key(node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        node = cast(ast.DictComp, super().visit_DictComp(node))  # RestrictedPython gives back the node
        node.key = _key(node.key)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        visited = super().visit_Subscript(node)  # a load becomes _getitem_(), which guards the key
        if isinstance(visited, ast.Subscript):  # `table[key] = value`, `del table[key]`; not `items[1:2] = ...`
            parts = visited.slice.elts if isinstance(visited.slice, ast.Tuple) else [visited.slice]
            if not any(isinstance(part, ast.Slice) for part in parts):
                visited.slice = _key(visited.slice)
        return cast(ast.AST, visited)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node = cast(ast.ExceptHandler, super().visit_ExceptHandler(node))  # RestrictedPython gives back the node
        check = ast.Expr(_call("_reraise_refusal_", [], node))
        copy_locations(check, node)
        node.body.insert(0, check)
        return node


def reraise_refusal() -> None:
    """Runs first in every `except` block: BPMN code cannot catch the sandbox's refusals (nor a
    BaseException such as KeyboardInterrupt) and carry on."""
    error = sys.exception()  # never None here: called in an `except` block
    if isinstance(error, ScriptSecurityError) or isinstance(error, BaseException) and not isinstance(error, Exception):
        raise error


GUARD_GLOBALS: dict[str, Any] = {
    "_getattr_": guarded_getattr, "_getitem_": guarded_getitem, "_operand_": guarded_operand,
    "_haystack_": guarded_haystack, "_eq_": guarded_eq, "_ne_": guarded_ne, "_lt_": guarded_lt, "_le_": guarded_le,
    "_gt_": guarded_gt, "_ge_": guarded_ge, "_in_": guarded_in, "_key_": guarded_key, "_keys_": guarded_keys,
    "_sub_": guarded_sub, "_and_": guarded_and, "_or_": guarded_or, "_xor_": guarded_xor,
    "_inplacevar_": guarded_inplace, "_add_": guarded_add, "_mul_": guarded_mul, "_pow_": guarded_pow,
    "_lshift_": guarded_lshift, "_mod_": guarded_mod, "_format_": guarded_format,
    "_reraise_refusal_": reraise_refusal,
}


_Mode = Literal["eval", "exec"]


class _Compiled(NamedTuple):
    code: CodeType
    traced: bool  # has loops or functions, so needs the line/CPU tracer
    guarded: bool  # names a guard or a guarded builtin, so needs a budget
    flat: bool  # an expression with no nested scope and no `:=`: may read task data in place


_BUDGET_NAMES = frozenset(GUARD_GLOBALS) | frozenset(GUARDED_BUILTINS)


def _names_a_guard(code: CodeType) -> bool:
    return not _BUDGET_NAMES.isdisjoint(code.co_names) or any(
        _names_a_guard(const) for const in code.co_consts if isinstance(const, CodeType))


def _compile(source: str, mode: _Mode) -> _Compiled:
    if not isinstance(source, str):
        raise ScriptSecurityError("BPMN code must be text")
    if len(source) > MAX_SOURCE_LENGTH:
        raise ScriptSecurityError(f"BPMN code is longer than {MAX_SOURCE_LENGTH:,} characters", source=source[:200])
    try:
        tree: ast.Expression | ast.Module = ast.parse(source, SCRIPT_FILENAME, "eval") if mode == "eval" \
            else ast.parse(source, SCRIPT_FILENAME, "exec")  # two calls: each gives its node type
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
def _compiled(source: str, mode: _Mode) -> _Compiled:
    return _compile(source, mode)


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> CodeType:
    """Compile an expression in restricted mode, or raise ScriptSecurityError."""
    return _compiled(source, "eval").code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> CodeType:
    """Compile a script in restricted mode, or raise ScriptSecurityError."""
    return _compiled(source, "exec").code
