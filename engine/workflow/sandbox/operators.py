"""Operators that can build something large in one C-level step, and f-string fields.

The compiler routes `+ * ** << % - & | ^` (and their in-place forms), subscripts and f-string
fields here. Repetition, concatenation, powers, shifts, %-formatting and format widths work out
the size of their result *before* it is computed and refuse past the limits; what they let
through is charged to the evaluation's memory budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from engine.workflow.sandbox.budget import (
    _BIG,
    _NUMBERS,
    _SEQUENCES,
    _SIZED,
    _TEXTS,
    SMALL_BITS,
    SMALL_LENGTH,
    _item_bytes,
    _refuse,
    current,
)
from engine.workflow.sandbox.containers import _dict_union, guarded_and, guarded_key, guarded_sub, guarded_xor
from engine.workflow.sandbox.sizes import text_size
from engine.workflow.sandbox.unfolded import _HASHABLE


def guarded_getitem(target: Any, index: Any) -> Any:
    if type(target) in _SIZED and len(target) >= _BIG:
        if type(index) is slice and not isinstance(target, (dict, range)):  # a copy
            current().sequence(len(range(*index.indices(len(target)))), "Slicing", _item_bytes(target))
        current().tick()
    elif type(index) is tuple or type(target) is dict and type(index) in _HASHABLE:  # a key: hashed
        guarded_key(index)
    return target[index]


def guarded_add(left: Any, right: Any) -> Any:
    if type(left) not in _NUMBERS and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if len(left) + len(right) > SMALL_LENGTH:
            current().sequence(len(left) + len(right), "Concatenation", _item_bytes(left))
    return left + right


def guarded_mul(left: Any, right: Any) -> Any:
    if type(left) is int and type(right) is int:
        bits = left.bit_length() + right.bit_length()
        if bits > SMALL_BITS:
            current().integer(bits, "Multiplication")
    elif type(left) is not float and type(right) is not float:
        sequence, times = (left, right) if isinstance(left, _SEQUENCES) else (right, left)
        if isinstance(sequence, _SEQUENCES) and isinstance(times, int) and len(sequence) * times > SMALL_LENGTH:
            current().sequence(len(sequence) * times, "Repetition", _item_bytes(sequence))
    return left * right


def guarded_pow(base: Any, exponent: Any, modulus: Any = None) -> Any:
    """`**` and pow(): the size of an integer power is known before it is computed."""
    if isinstance(base, int) and isinstance(exponent, int):
        if isinstance(modulus, int):  # one squaring per exponent bit, each of the modulus' size
            cost = exponent.bit_length() * max(modulus.bit_length(), 1)
            if cost > SMALL_BITS * 64 and cost > current().limits.max_int_bits * 64:
                raise _refuse("A modular power with that large an exponent and modulus is not allowed")
        elif modulus is None and exponent > 1 and not -1 <= base <= 1:
            bits = int(math.log2(abs(base)) * exponent) + 1 if exponent < 1 << 60 else exponent  # |base| >= 2
            if bits > SMALL_BITS:
                current().integer(bits, "Power")
    return base ** exponent if modulus is None else pow(base, exponent, modulus)


def guarded_lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left and right > 0:
        if left.bit_length() + right > SMALL_BITS:
            current().integer(left.bit_length() + right, "Shift")
    return left << right


def guarded_mod(left: Any, right: Any) -> Any:
    if type(left) not in _NUMBERS and isinstance(left, _TEXTS):
        size = _printf_size(left if isinstance(left, str) else left.decode("latin-1"), right)
        if size > SMALL_LENGTH:
            current().sequence(size, "%-formatting", 1)
    return left % right


_PRINTF = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.S)


def _printf_size(template: str, args: Any) -> int:
    """An upper estimate of len(template % args): the template, widths, precisions and values."""
    positional = list(args) if isinstance(args, tuple) else [args]
    position, size = 0, len(template)
    try:
        for key, width, precision, conversion in _PRINTF.findall(template) if "%" in template else ():
            if conversion == "%":
                continue
            for field in (width, precision):
                if field == "*":
                    size += abs(positional[position]) if isinstance(positional[position], int) else 0
                    position += 1
                elif field:
                    size += _spec_number(field)
            if key:
                value = args[key]
            else:
                value, position = positional[position], position + 1
            size += text_size(value, repr_=conversion in "ra")
    except (IndexError, KeyError, TypeError):
        pass  # the operation itself raises the proper error
    return size


def _spec_number(digits: str) -> int:
    if len(digits) > 18:
        raise _refuse("A format width or precision that large is not allowed")
    return int(digits)


_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}  # !s, !r, !a


def guarded_format(value: Any, conversion: int, spec: str) -> str:
    """An f-string field `{value!conversion:spec}`."""
    size = text_size(value, repr_=conversion in (114, 97))
    if spec:  # standard widths and precisions, or strftime-like codes of about 32 characters each
        size += len(spec) * 32 + sum(_spec_number(digits) for digits in re.findall(r"\d+", spec))
    if size > SMALL_LENGTH:
        current().sequence(size, "Formatted text", 1)
    if conversion != -1:
        value = _CONVERSIONS[conversion](value)
    return format(value, spec)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": guarded_add, "*=": guarded_mul, "**=": guarded_pow, "<<=": guarded_lshift, "%=": guarded_mod,
    "-=": lambda x, y: guarded_sub(x, y), "/=": lambda x, y: x / y, "//=": lambda x, y: x // y,
    ">>=": lambda x, y: x >> y, "|=": lambda x, y: _dict_union(x, y), "&=": lambda x, y: guarded_and(x, y),
    "^=": lambda x, y: guarded_xor(x, y),
}


def guarded_inplace(operator: str, left: Any, right: Any) -> Any:
    return _INPLACE[operator](left, right)
