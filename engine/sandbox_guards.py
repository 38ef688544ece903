"""What BPMN code may spend: guards for the work a tracer cannot interrupt, and the budgets.

A tracer sees Python lines, not the work inside one C-level call: `sum(range(10**18))`,
`'x'.ljust(10**9)` or `10 ** x` run to the end once started. So every operation that can build
something large in one step (repetition, concatenation, powers, shifts, format widths, padding,
`range`, copies) works out the size of its result *before* running and refuses past the limits;
what they let through is charged to a memory budget, and work on large objects looks at the CPU
clock first. The budget of an evaluation lives in a thread-local and is only created when a guard
needs it, so a plain condition (`approved == True`) pays nothing for it.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from RestrictedPython.Guards import safer_getattr

from engine.errors import ScriptSecurityError

MAX_SEQUENCE_LENGTH = 1_000_000  # elements of a list, characters of a string, numbers of a range
MAX_INT_BITS = 65_536  # about 19,700 decimal digits
MEMORY_BUDGET_BYTES = 64 * 1024 * 1024
CPU_SECONDS = 0.5
SMALL_LENGTH, SMALL_BITS = 1_000, 1_024  # smaller results skip the bookkeeping (limits may not be lower)
_BIG = 10_000  # work on an object this long looks at the clock first
_CLOCK_INTERVAL = 0.005  # wall seconds between two readings of the CPU clock (a system call)
_RSS_GROWTH_BUDGETS = 4  # the process may grow by this many memory budgets (what no guard counts)

SCALARS = frozenset({str, int, float, bool, type(None)})
_SIZED = frozenset({str, bytes, bytearray, list, tuple, dict, set, frozenset, range})
_NUMBERS = frozenset({int, float, bool, complex})
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_TEXTS = (str, bytes, bytearray)
_CONTAINERS = (list, tuple, dict, set, frozenset)


@dataclass(frozen=True)
class Limits:
    """The limits of one environment (defaults: the module constants)."""

    max_sequence_length: int = MAX_SEQUENCE_LENGTH
    max_int_bits: int = MAX_INT_BITS
    memory_budget: int = MEMORY_BUDGET_BYTES
    cpu_seconds: float = CPU_SECONDS

    def __post_init__(self) -> None:
        if self.max_sequence_length < SMALL_LENGTH or self.max_int_bits < SMALL_BITS:
            raise ValueError(f"Sandbox limits must allow at least {SMALL_LENGTH} elements and {SMALL_BITS} bits")
        if self.memory_budget < 1024 * 1024 or not self.cpu_seconds > 0:
            raise ValueError("The sandbox needs a memory budget of at least 1 MB and a positive CPU time")


DEFAULT_LIMITS = Limits()


def _count(number: int) -> str:
    return f"{number:,}" if number < 10 ** 30 else "more than 10**30"  # str() of a huge int fails


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return None


class Budget:
    """What one evaluation may still spend. A spent budget stays spent."""

    __slots__ = ("limits", "memory_left", "started", "next_clock", "cpu_deadline", "rss_ceiling")

    def __init__(self, limits: Limits) -> None:
        self.limits, self.memory_left = limits, limits.memory_budget
        self.started: float | None = None
        self.next_clock = 0.0
        self.cpu_deadline: float | None = None
        self.rss_ceiling: int | None = None

    def sequence(self, length: int, what: str, item_bytes: int = 8) -> None:
        """Refuse a result of more than max_sequence_length elements, else charge its memory."""
        if length > self.limits.max_sequence_length:
            raise ScriptSecurityError(f"{what} would make {_count(length)} elements; BPMN code may make at most "
                                      f"{self.limits.max_sequence_length:,}")
        self.charge(length * item_bytes)

    def integer(self, bits: int, what: str) -> None:
        if bits > self.limits.max_int_bits:
            raise ScriptSecurityError(f"{what} would make a number of {_count(bits)} bits; BPMN code may make "
                                      f"at most {self.limits.max_int_bits:,}")
        self.charge(bits // 8)

    def charge(self, nbytes: int) -> None:
        self.memory_left -= nbytes
        if self.memory_left < 0:
            raise ScriptSecurityError(f"BPMN code built more than its memory budget of "
                                      f"{self.limits.memory_budget // 1024 // 1024} MB")
        if nbytes >= _BIG:
            self.tick()

    def tick(self) -> None:
        """Refuse once past the CPU-time budget or the resident-memory ceiling. The first call only
        notes the time: an evaluation shorter than _CLOCK_INTERVAL never reads the CPU clock."""
        now = time.perf_counter()
        if now < self.next_clock:
            return
        if self.started is None:
            self.started, self.next_clock = now, now + _CLOCK_INTERVAL
            return
        cpu = time.thread_time()
        if self.cpu_deadline is None:  # the time before this first reading counts as CPU time
            self.cpu_deadline = cpu + self.limits.cpu_seconds - (now - self.started)
        if cpu > self.cpu_deadline:
            raise ScriptSecurityError(f"BPMN code ran past its CPU-time budget of {self.limits.cpu_seconds:g} s")
        resident = _resident_bytes()
        growth = _RSS_GROWTH_BUDGETS * self.limits.memory_budget
        if resident is not None and self.rss_ceiling is None:
            self.rss_ceiling = resident + growth
        elif resident is not None and resident > self.rss_ceiling:  # type: ignore[operator]
            raise ScriptSecurityError(f"BPMN code made the process grow by more than {growth // 1024 // 1024} MB")
        self.next_clock = now + _CLOCK_INTERVAL


class _State(threading.local):
    # (limits, budget or None until a guard needs one): starting an evaluation is one write.
    evaluation: tuple[Limits, Budget | None] = (DEFAULT_LIMITS, None)


state = _State()


def enter(limits: Limits) -> tuple[Limits, Budget | None]:
    """Start an evaluation on this thread; give the result to `leave`."""
    previous, state.evaluation = state.evaluation, (limits, None)
    return previous


def leave(previous: tuple[Limits, Budget | None]) -> None:
    state.evaluation = previous


def current() -> Budget:
    """The budget of the evaluation running on this thread."""
    limits, budget = state.evaluation
    if budget is None:
        budget = Budget(limits)
        state.evaluation = (limits, budget)
    return budget


def _item_bytes(value: Any) -> int:
    return 1 if isinstance(value, _TEXTS) else 8


def _refuse(message: str) -> ScriptSecurityError:
    return ScriptSecurityError(f"{message} in BPMN code")


# --- operators (the transformer routes `+ * ** << %`, comparisons and f-string fields here) ---

def guarded_operand(value: Any) -> Any:
    """An operand of `in`, `==`, `<`..., a dict or set key, an argument of max()...: going over
    or hashing a large object is one C-level loop, so look at the clock first."""
    if type(value) in _SIZED and len(value) >= _BIG:
        current().tick()
    return value


def guarded_getitem(target: Any, index: Any) -> Any:
    if type(target) in _SIZED and len(target) >= _BIG:
        if type(index) is slice and not isinstance(target, (dict, range)):  # a copy
            current().sequence(len(range(*index.indices(len(target)))), "Slicing", _item_bytes(target))
        current().tick()
    elif type(index) is tuple and len(index) >= _BIG:  # hashed
        current().tick()
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


def guarded_format(value: Any, conversion: int, spec: str) -> str:
    """An f-string field `{value!conversion:spec}`."""
    size = text_size(value, repr_=conversion in (114, 97))
    if spec:  # standard widths and precisions, or strftime-like codes of about 32 characters each
        size += len(spec) * 32 + sum(_spec_number(digits) for digits in re.findall(r"\d+", spec))
    if size > SMALL_LENGTH:
        current().sequence(size, "Formatted text", 1)
    if conversion != -1:
        value = {115: str, 114: repr, 97: ascii}[conversion](value)
    return format(value, spec)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": guarded_add, "*=": guarded_mul, "**=": guarded_pow, "<<=": guarded_lshift, "%=": guarded_mod,
    "-=": lambda x, y: x - y, "/=": lambda x, y: x / y, "//=": lambda x, y: x // y,
    ">>=": lambda x, y: x >> y, "|=": lambda x, y: x | y, "&=": lambda x, y: x & y, "^=": lambda x, y: x ^ y,
}


def guarded_inplace(operator: str, left: Any, right: Any) -> Any:
    return _INPLACE[operator](left, right)


# --- sizes of values -------------------------------------------------------------------------

_FIXED_TEXT = {float: 330, bool: 5, type(None): 4, complex: 700}  # '%f' of 1e308 has 309 digits


def text_size(value: Any, repr_: bool = False) -> int:
    """An upper estimate of len(str(value)) (or of its repr); containers are walked."""
    kind = type(value)
    if kind is str:
        return len(value) * 4 + 2 if repr_ else len(value)
    if kind is int:
        return value.bit_length() + 2
    if kind in _FIXED_TEXT:
        return _FIXED_TEXT[kind]
    limit = state.evaluation[0].max_sequence_length
    return _walk(value, limit, limit, "turn into text")


def _walk(root: Any, limit: int, max_visits: int, purpose: str, data_only: bool = False) -> int:
    """The size of `root` as text, counting a shared part each time it is reachable (as str() and
    JSON do); refused past `limit` characters or `max_visits` parts."""
    size, visits, stack = 0, 0, [root]
    while stack:
        value = stack.pop()
        visits += 1
        kind = type(value)
        if kind is str or isinstance(value, (bytes, bytearray)):
            size += len(value) * 4 + 3
        elif kind is int:
            size += value.bit_length() + 2
        elif kind in _FIXED_TEXT:
            size += _FIXED_TEXT[kind]
        elif isinstance(value, (list, tuple, set, frozenset)):
            size += 2 + 2 * len(value)
            stack.extend(value)
        elif isinstance(value, dict):
            size += 2 + 4 * len(value)
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, Decimal):  # format(Decimal('1e999999'), 'f') has a million digits
            size += len(str(value)) + (abs(value.adjusted()) if value.is_finite() else 0)
        elif data_only and is_code(value):
            raise ScriptSecurityError("Task data cannot hold functions or iterators made by BPMN code "
                                      "(they would run later, outside the sandbox's budgets)")
        else:
            size += 64
        if size > limit or visits > max_visits:
            raise ScriptSecurityError(f"A value is too large to {purpose} (more than {limit:,} characters "
                                      f"or {max_visits:,} parts, counting a shared part each time)")
    return size


def is_code(value: Any) -> bool:
    """A function, a generator or another iterator: something that runs code when used."""
    return callable(value) or hasattr(type(value), "__next__")


def check_output(value: Any, limits: Limits) -> None:
    """Refuse a container too large for task data (the workflow's JSON) or holding code; strings
    were bounded when they were built."""
    if isinstance(value, _CONTAINERS):
        _walk(value, limits.memory_budget, limits.max_sequence_length, "keep in task data", data_only=True)


# --- methods that grow their receiver --------------------------------------------------------

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
    return attribute


def _checked_method(target: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        if name == "join":
            args = (list(args[0]),) if len(args) == 1 else args  # an iterator is read once, here
        try:
            size = _GROWING[name](target, *args, **kwargs)
        except TypeError:
            size = 0  # wrong arguments: the method itself says what is wrong
        if size > SMALL_LENGTH:
            current().sequence(size, f"{name}()", 8 if name in ("extend", "fromkeys") else _item_bytes(target))
        return method(*args, **kwargs)
    return checked


# --- builtins --------------------------------------------------------------------------------

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
        return real(*args, **kwargs)
    return _GuardedType(real.__name__, (), {"_real": real, "_make": staticmethod(make)})


def _text_size(object: Any = "", *rest: Any, **options: Any) -> int:
    return 0 if rest or options else text_size(object)  # with an encoding: decoding never grows


def _binary_size(source: Any = b"", *_: Any, **__: Any) -> int:
    if isinstance(source, int):
        return source
    return len(source) * (4 if isinstance(source, str) else 1) if type(source) in _SIZED else 0


def _copy_size(source: Any = (), *_: Any, **__: Any) -> int:
    return len(source) if type(source) in _SIZED else 0


def _copying(real: Callable[..., Any]) -> Callable[..., Any]:
    def copy(*args: Any, **kwargs: Any) -> Any:
        if args and _copy_size(args[0]) > SMALL_LENGTH:
            current().sequence(_copy_size(args[0]), f"{real.__name__}()")
        return real(*args, **kwargs)
    return copy


def _scanning(real: Callable[..., Any]) -> Callable[..., Any]:
    def scan(*args: Any, **kwargs: Any) -> Any:
        for arg in args:
            guarded_operand(arg)
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
        return sum(guarded_operand(items), start)
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


def reraise_refusal() -> None:
    """Runs first in every `except` block: BPMN code cannot catch the sandbox's refusals (nor a
    BaseException such as KeyboardInterrupt) and carry on."""
    error = sys.exception()
    if isinstance(error, ScriptSecurityError) or not isinstance(error, Exception):
        raise error  # type: ignore[misc]


GUARDED_BUILTINS: dict[str, Any] = {
    "str": _guarded_type(str, _text_size, 1),
    "bytes": _guarded_type(bytes, _binary_size, 1),
    "bytearray": _guarded_type(bytearray, _binary_size, 1),
    "list": _guarded_type(list, _copy_size, 8),
    "dict": _guarded_type(dict, _copy_size, 8),
    "sorted": _copying(sorted),
    "range": guarded_range, "pow": guarded_pow, "round": guarded_round, "repr": guarded_repr, "sum": guarded_sum,
    **{function.__name__: _scanning(function) for function in (max, min, any, all, map, filter, enumerate, reversed)},
}

GUARD_GLOBALS: dict[str, Any] = {
    "_getattr_": guarded_getattr, "_getitem_": guarded_getitem, "_operand_": guarded_operand,
    "_inplacevar_": guarded_inplace, "_add_": guarded_add, "_mul_": guarded_mul, "_pow_": guarded_pow,
    "_lshift_": guarded_lshift, "_mod_": guarded_mod, "_format_": guarded_format,
    "_reraise_refusal_": reraise_refusal,
}
