"""The builtins and methods BPMN code sees in guarded form, and the table of all guards.

Constructors (str, bytes, list, dict...), range(), sum(), round(), repr(), any()/map()..., and
methods that grow their receiver (ljust, replace, join, extend, fromkeys...) check the size of
what they would make first; getattr refuses the ways out RestrictedPython leaves open (`mro`,
str.format). GUARDED_BUILTINS and GUARD_GLOBALS are what the restricted bytecode calls.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from RestrictedPython.Guards import safer_getattr

from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox.budget import (
    _BIG,
    _NUMBERS,
    _SIZED,
    _TEXTS,
    SMALL_LENGTH,
    _count,
    _item_bytes,
    _look,
    _refuse,
    current,
    state,
)
from engine.workflow.sandbox.containers import (
    _COMPARING,
    _comparing_method,
    guarded_hash,
    guarded_isinstance,
    guarded_issubclass,
    guarded_keys,
    guarded_pairs,
)
from engine.workflow.sandbox.operators import guarded_add, guarded_pow
from engine.workflow.sandbox.ordering import _extreme, guarded_sorted
from engine.workflow.sandbox.sizes import _binary_size, _copy_size, _text_size, text_size
from engine.workflow.sandbox.unfolded import _RECEIVERS


def _padding(target: Any, width: Any = 0, *args: Any) -> int:
    return max(len(target), width) if isinstance(width, int) else 0


def _expandtabs(target: Any, tabsize: Any = 8) -> int:
    tabs = target.count("\t" if isinstance(target, str) else b"\t")
    return len(target) + tabs * max(tabsize, 0) if isinstance(tabsize, int) else 0


def _replace(target: Any, old: Any = "", new: Any = "", count: Any = -1) -> int:
    if not isinstance(new, type(old)) or not isinstance(count, int):
        return 0
    found = target.count(old) if old else len(target) + 1
    return len(target) + (found if count < 0 else min(found, count)) * max(len(new) - len(old), 0)


def _translate(target: Any, table: Any = None) -> int:
    values = table.values() if isinstance(table, dict) else table if isinstance(table, (list, tuple)) else ()
    longest = max((len(v) for v in values if isinstance(v, str)), default=1) if isinstance(target, str) else 1
    return len(target) * max(longest, 1)


def _join(target: Any, items: Any = ()) -> int:
    return len(target) * max(len(items) - 1, 0) + sum(len(item) for item in items if isinstance(item, _TEXTS))


_GROWING: dict[str, Callable[..., int]] = {
    "ljust": _padding, "rjust": _padding, "center": _padding, "zfill": _padding, "expandtabs": _expandtabs,
    "replace": _replace, "translate": _translate, "join": _join,
    "extend": lambda target, items=(), *_: len(target) + len(items) if type(items) in _SIZED else 0,
    "to_bytes": lambda target, length=1, *_, **__: length if isinstance(length, int) else 0,
    "fromkeys": lambda target, keys=(), *_: len(keys) if type(keys) in _SIZED else 0,
}
GROWING_METHODS = frozenset(_GROWING)


def guarded_getattr(target: Any, name: str, default: Any = None) -> Any:
    """RestrictedPython's getattr, plus: no way up to BaseException (`mro`), no format() through
    the guarded `str`, and methods that grow their receiver check the size first."""
    if name == "mro" or (name in ("format", "format_map") and isinstance(target, (str, _GuardedType))):
        raise _refuse(f'"{name}" is not available')  # str.format: widths that no guard sees
    attribute = safer_getattr(target, name, default)
    if name in _GROWING and callable(attribute):
        if isinstance(target, type) and name != "fromkeys":
            raise _refuse(f'"{name}" must be called on a value, not on a type,')
        return _checked_method(target, name, attribute)
    if type(target) in _SIZED and len(target) >= _BIG:
        current().tick()
    if (name in _COMPARING or name == "sort") and (type(target) in _RECEIVERS or isinstance(target, type)) \
            and callable(attribute):
        return _comparing_method(target, name, attribute)
    return attribute


def _checked_method(target: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        if name == "join":
            args = (list(args[0]),) if len(args) == 1 else args  # an iterator is read once, here
        elif name == "fromkeys" and args:
            args = (guarded_keys(args[0]), *args[1:])
        try:
            size = _GROWING[name](target, *args, **kwargs)
        except TypeError:
            size = 0  # wrong arguments: the method itself says what is wrong
        if size > SMALL_LENGTH:
            current().sequence(size, f"{name}()", 8 if name in ("extend", "fromkeys") else _item_bytes(target))
        return method(*args, **kwargs)
    return checked


class _GuardedType(type):
    """Stands in for a builtin type whose constructor needs a check; isinstance() and the type's
    attributes work as for the real type (kept in `_real`, a name scripts cannot reach)."""

    _real: type
    _make: Callable[..., Any]

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._real)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._make(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real, name)


def _guarded_type(real: type, size: Callable[..., int], item_bytes: int) -> type:
    """A stand-in for `real` that refuses or charges what `size(*args)` says it would make."""
    def make(*args: Any, **kwargs: Any) -> Any:
        made = size(*args, **kwargs)
        if made > SMALL_LENGTH:
            current().sequence(made, f"{real.__name__}()", item_bytes)
        if real is dict and args:
            args = (guarded_pairs(args[0]), *args[1:])
        return real(*args, **kwargs)
    return _GuardedType(real.__name__, (), {"_real": real, "_make": staticmethod(make)})


def _scanning(real: Callable[..., Any]) -> Callable[..., Any]:
    def scan(*args: Any, **kwargs: Any) -> Any:
        for arg in args:
            _look(arg)
        return real(*args, **kwargs)
    return scan


def guarded_range(*args: Any) -> range:
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = sys.maxsize
    if length > SMALL_LENGTH:
        budget = current()
        if length > budget.limits.max_sequence_length:
            raise ScriptSecurityError(f"range() of {_count(length)} numbers; BPMN code may go over at most "
                                      f"{budget.limits.max_sequence_length:,}")
        budget.tick()
    return numbers


def guarded_sum(items: Any, start: Any = 0) -> Any:
    if type(start) in _NUMBERS or isinstance(start, (Decimal, str)):  # str: sum() itself refuses
        return sum(_look(items), start)
    total = start  # sum(lists, []) would copy at every step
    for item in items:
        total = guarded_add(total, item)
    return total


def guarded_round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and ndigits < 0 and -ndigits * 4 > state.evaluation[0].max_int_bits:
        raise _refuse("round() to that many digits (it computes 10 ** -ndigits) is not allowed")
    return round(number, ndigits)


def guarded_repr(value: Any) -> str:
    if text_size(value, repr_=True) > SMALL_LENGTH:
        current().sequence(text_size(value, repr_=True), "repr()", 1)
    return repr(value)


GUARDED_BUILTINS: dict[str, Any] = {
    "str": _guarded_type(str, _text_size, 1),
    "bytes": _guarded_type(bytes, _binary_size, 1),
    "bytearray": _guarded_type(bytearray, _binary_size, 1),
    "list": _guarded_type(list, _copy_size, 8),
    "dict": _guarded_type(dict, _copy_size, 8),
    "sorted": guarded_sorted, "max": _extreme(max), "min": _extreme(min), "hash": guarded_hash,
    "isinstance": guarded_isinstance, "issubclass": guarded_issubclass,
    "range": guarded_range, "pow": guarded_pow, "round": guarded_round, "repr": guarded_repr, "sum": guarded_sum,
    **{function.__name__: _scanning(function) for function in (any, all, map, filter, enumerate, reversed)},
}
