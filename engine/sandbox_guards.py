"""What BPMN code may spend: guards for the work a tracer cannot interrupt, and the budgets.

A tracer sees Python lines, not the work inside one C-level call: `sum(range(10**18))`,
`'x'.ljust(10**9)` or `10 ** x` run to the end once started. So every operation that can build
something large in one step (repetition, concatenation, powers, shifts, format widths, padding,
`range`, copies) works out the size of its result *before* running and refuses past the limits;
what they let through is charged to a memory budget, and work on large objects looks at the CPU
clock first. Comparisons, hashing and sorting, which go over a nested container once per path
through it, first work out that "unfolded" size, in time linear in its distinct parts. The
budget of an evaluation lives in a thread-local and is only created when a guard needs it, so a
plain condition (`approved == True`) pays nothing for it.
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
from itertools import chain, compress, repeat
from operator import floordiv
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


# --- operators (the transformer routes `+ * ** << % - & | ^` and f-string fields here) ---

def _look(value: Any) -> Any:
    """An argument of any(), map(), sum()...: going over a large object is one C-level loop, so
    look at the clock first."""
    if type(value) in _SIZED and len(value) >= _BIG:
        current().tick()
    return value


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
    "-=": lambda x, y: guarded_sub(x, y), "/=": lambda x, y: x / y, "//=": lambda x, y: x // y,
    ">>=": lambda x, y: x >> y, "|=": lambda x, y: _dict_union(x, y), "&=": lambda x, y: guarded_and(x, y),
    "^=": lambda x, y: guarded_xor(x, y),
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
    JSON do); refused past `limit` characters or `max_visits` parts. A long walk first measures
    `root` without going over a shared part twice (see _measure): `x = [x, x]` sixty times is
    refused at once."""
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
        elif kind in _SHOWN or isinstance(value, BaseException):  # shows what it holds
            parts = _shown_parts(value)
            size += 64 + 4 * len(parts)
            stack.extend(parts)
        elif data_only and is_code(value):
            raise ScriptSecurityError("Task data cannot hold functions or iterators made by BPMN code "
                                      "(they would run later, outside the sandbox's budgets)")
        else:
            size += 64
        if visits == SMALL_LENGTH and type(root) in _COMPOUND and _measure(root, max_visits)[_ELEMENTS] >= max_visits:
            visits = max_visits + 1
        if size > limit or visits > max_visits:
            raise ScriptSecurityError(f"A value is too large to {purpose} (more than {limit:,} characters "
                                      f"or {max_visits:,} parts, counting a shared part each time)")
    return size


def _shown_parts(value: Any) -> Any:
    """What a slice, a dict view or mapping proxy, or an exception shows of its parts as text."""
    return value.args if isinstance(value, BaseException) else _parts(value)


def is_code(value: Any) -> bool:
    """A function, a generator or another iterator: something that runs code when used."""
    return callable(value) or hasattr(type(value), "__next__")


def check_output(value: Any, limits: Limits) -> None:
    """Refuse a container too large for task data (the workflow's JSON) or holding code; strings
    were bounded when they were built."""
    if isinstance(value, _CONTAINERS):
        _walk(value, limits.memory_budget, limits.max_sequence_length, "keep in task data", data_only=True)


# --- comparisons and hashing of nested containers ---------------------------------------------
#
# `==`, `<`, `in`, sorting and hashing go over a container's parts in C, and over a part held
# several times once for each way it is reachable: `x = [x, x]` sixty times makes a list of 61
# objects that is 2**60 parts "unfolded", and comparing two of them never ends; sorting
# `[text] * 10**6`, or comparing it with an equal list, compares one long text a million times.
# So wherever C code compares or hashes (comparisons, `in`, dict and set keys, hash(),
# count/index/remove, sorting, max/min, set operations, isinstance), what it would go over is
# measured first: the unfolded size, a long text or a large integer weighing more than one part,
# in time linear in the *distinct* containers and never past the limit. More than
# max_sequence_length parts (as much as task data may hold: check_output counts shared parts the
# same way) is refused. A scalar operand, the common case, costs a type test.

_KEYS, _VALUES, _ITEMS = type({}.keys()), type({}.values()), type({}.items())
_MAPPING = type({}.keys().mapping)  # mappingproxy
_VIEWS = frozenset({_KEYS, _VALUES, _ITEMS})
_COMPOUND = frozenset({list, tuple, dict, set, frozenset, slice, _MAPPING}) | _VIEWS
_SHOWN = frozenset({slice, _MAPPING}) | _VIEWS
_HASHABLE = frozenset({tuple, frozenset, slice})  # compound values that may be dict keys or set members
_HASHED = frozenset({dict, set, frozenset, _KEYS, _ITEMS, _MAPPING})  # `x in these` hashes x
_SCANNED = frozenset({list, tuple, _VALUES})  # `x in these` compares x with every element
_RECEIVERS = _HASHED | _SCANNED  # whose methods may compare or hash their arguments
_ITERABLE_COMPOUND = frozenset({list, tuple, dict, _MAPPING}) | _VIEWS  # (sets keep their elements' hashes)
# Two operands are compared part by part only when they are of the same kind (else by identity).
_KIND = {list: list, tuple: tuple, slice: slice, dict: dict, _MAPPING: dict,
         set: set, frozenset: set, _KEYS: set, _ITEMS: set}
_SEQUENCE_LIKE = frozenset({list, tuple, set, frozenset})  # iterating them gives all their parts
_TEXT_KINDS, _INT_KIND = frozenset({str, bytes, bytearray}), frozenset({int})
_WEIGHED = _TEXT_KINDS | _INT_KIND
_TEXT_STEP, _INT_STEP = 256, 1024  # characters, bits that take about as long to compare as one part
_TICK_EVERY = 1024  # containers measured between two looks at the clock
_ELEMENTS, _ORDERING = 0, 1


def _parts(value: Any) -> Any:
    """What C code compares or hashes when it goes into `value` (it has a len())."""
    kind = type(value)
    if kind is dict or kind is _MAPPING:
        return [*value, *value.values()]
    if kind is slice:
        return value.start, value.stop, value.step
    if kind is _KEYS:
        return value.mapping.keys()
    if kind is _VALUES:
        return value.mapping.values()
    if kind is _ITEMS:
        return [*value.mapping, *value.mapping.values()]
    return value


def _weight(value: Any) -> int:
    """What comparing a scalar costs, in parts."""
    kind = type(value)
    if kind in _TEXT_KINDS:
        return 1 + len(value) // _TEXT_STEP
    return 1 + value.bit_length() // _INT_STEP if kind is int else 1


def _extra(parts: Any, kinds: list[type]) -> int:
    """What the long texts and large integers among `parts` (of `kinds`) weigh beyond one part each."""
    extra = 0
    if not _TEXT_KINDS.isdisjoint(kinds):
        lengths = map(len, compress(parts, map(_TEXT_KINDS.__contains__, kinds)))
        extra += sum(map(floordiv, lengths, repeat(_TEXT_STEP)))
    if int in kinds:
        bits = map(int.bit_length, compress(parts, map(_INT_KIND.__contains__, kinds)))
        extra += sum(map(floordiv, bits, repeat(_INT_STEP)))
    return extra


def _measure(root: Any, limit: int) -> tuple[int, int]:
    """(elements, ordering) of the compound `root`, each at most limit + 1 (for "more").

    `elements` is how many parts `root` holds, counting a part each time it is reachable (and a
    long text or large integer as several): what one `==`, `in` or hash may go over. `ordering`
    adds, level by level, the largest `ordering` of a part: `<` compares the first differing
    parts of two lists for equality and then again for order, so a deep chain of shared parts
    costs about depth times its elements. A container that holds itself is infinitely large.
    Linear in the distinct containers (those that hold no container are measured at C speed),
    and stops early: what a shared part adds is known once it is measured, and the distinct
    containers met so far already add up to no more than `elements`."""
    over = limit + 1
    done: dict[int, tuple[int, int]] = {}
    opened: dict[int, tuple[int, list[Any]]] = {}  # measured once its nested containers are
    stack, seen, budget = [root], 0, None
    while stack:
        node = stack[-1]
        key = id(node)
        if key in done:
            stack.pop()
            continue
        if key not in opened:
            parts = _parts(node)
            kinds = [*map(type, parts)]
            own = len(parts) + _extra(parts, kinds)
            seen += own
            if seen > limit:
                return over, over
            nested = [] if _COMPOUND.isdisjoint(kinds) else [*compress(parts, map(_COMPOUND.__contains__, kinds))]
            flat = _flat(nested, limit - own) if nested else (0, 0)
            if flat is not None:
                elements = own + flat[0]
                if elements > limit:
                    return over, over
                done[key] = (elements, min(elements + flat[1], over))
                stack.pop()
                continue
            opened[key] = (own, nested)
            pending = [part for part in nested if id(part) not in done]
            if pending:
                if any(id(part) in opened for part in pending):  # opened, not done: an enclosing container
                    return over, over
                stack.extend(pending)
                if len(opened) % _TICK_EVERY == 0:
                    budget = budget or current()
                    budget.tick()
                continue
        stack.pop()
        own, nested = opened[key]
        elements = own + sum(done[id(part)][0] for part in nested)
        if elements > limit:
            return over, over
        done[key] = (elements, min(elements + max((done[id(part)][1] for part in nested), default=0), over))
    return done[id(root)]


def _flat(containers: list[Any], limit: int) -> tuple[int, int] | None:
    """(elements, largest) of `containers` if none holds a compound part, else None; elements is
    limit + 1 for "more"."""
    kinds = set(map(type, containers))
    if kinds <= _SEQUENCE_LIKE:
        elements, largest = sum(map(len, containers)), max(map(len, containers))
        parts = [*chain.from_iterable(containers)] if elements <= limit else ()
    elif kinds == {dict}:
        elements, largest = 2 * sum(map(len, containers)), 2 * max(map(len, containers))
        parts = [*chain.from_iterable(containers), *chain.from_iterable(map(dict.values, containers))] \
            if elements <= limit else ()
    else:
        return None
    if elements > limit:
        return limit + 1, limit + 1
    part_kinds = [*map(type, parts)]
    if not _COMPOUND.isdisjoint(part_kinds):
        return None
    return min(elements + _extra(parts, part_kinds), limit + 1), largest


def _limit() -> int:
    return state.evaluation[0].max_sequence_length


def _too_large(purpose: str) -> ScriptSecurityError:
    return ScriptSecurityError(f"A value is too large to {purpose} (more than {_limit():,} parts, counting a "
                               "shared part each time it is reachable)")


def _within(size: int, limit: int, purpose: str) -> None:
    if size > limit:
        raise _too_large(purpose)
    if size >= _BIG:
        current().tick()


def _check_comparison(left: Any, right: Any, measure: int) -> None:
    """`left` and `right` (both compound) are compared: C code goes over no more parts than the
    smaller of the two holds."""
    kind = _KIND.get(type(left))
    if kind is None or kind is not _KIND.get(type(right)):
        return  # compared by identity, or refused by Python
    if measure == _ELEMENTS and kind in (list, dict, set) and len(left) != len(right):
        return  # unequal at once
    limit = _limit()
    size = _measure(left, limit)[measure]
    _within(_measure(right, limit)[measure] if size > limit else size, limit, "compare")


def guarded_eq(left: Any, right: Any) -> Any:
    if type(left) in _COMPOUND and type(right) in _COMPOUND and left is not right:
        _check_comparison(left, right, _ELEMENTS)
    return left == right


def guarded_ne(left: Any, right: Any) -> Any:
    if type(left) in _COMPOUND and type(right) in _COMPOUND and left is not right:
        _check_comparison(left, right, _ELEMENTS)
    return left != right


def guarded_lt(left: Any, right: Any) -> Any:
    if type(left) in _COMPOUND and type(right) in _COMPOUND and left is not right:
        _check_comparison(left, right, _ORDERING)
    return left < right


def guarded_le(left: Any, right: Any) -> Any:
    if type(left) in _COMPOUND and type(right) in _COMPOUND and left is not right:
        _check_comparison(left, right, _ORDERING)
    return left <= right


def guarded_gt(left: Any, right: Any) -> Any:
    if type(left) in _COMPOUND and type(right) in _COMPOUND and left is not right:
        _check_comparison(left, right, _ORDERING)
    return left > right


def guarded_ge(left: Any, right: Any) -> Any:
    if type(left) in _COMPOUND and type(right) in _COMPOUND and left is not right:
        _check_comparison(left, right, _ORDERING)
    return left >= right


def _costly(needle: Any) -> bool:
    """Comparing `needle` with something may take longer than one step."""
    kind = type(needle)
    return kind in _COMPOUND or kind in _WEIGHED and _weight(needle) > 1


def guarded_in(needle: Any, haystack: Any) -> bool:
    """`needle in haystack` (`not in` is `not _in_(...)`)."""
    kind = type(haystack)
    if _costly(needle):
        if kind in _HASHED:
            guarded_key(needle)
        elif kind in _SCANNED:
            _check_search(needle, haystack)
        elif hasattr(kind, "__next__"):
            return _search(needle, haystack)
    elif kind in _SIZED and len(haystack) >= _BIG:
        current().tick()
    return needle in haystack


def _check_search(needle: Any, items: Any) -> None:
    """`needle` is compared with every element of `items` (a list, tuple or dict values), each
    time going over no more than the smaller of the two."""
    count, limit = len(items), _limit()
    if not count:
        return
    cost = _measure(needle, limit // count)[_ELEMENTS] + 1 if type(needle) in _COMPOUND else _weight(needle)
    if cost * count > limit:
        _within(_measure(items, limit)[_ELEMENTS], limit, "compare")


def _search(needle: Any, items: Any) -> bool:
    """`needle in items` for an iterator, element by element (as Python does), so that each
    comparison is measured when it is made (the iterator may run the script, which may change
    the needle) and the clock looked at between two."""
    budget = current()
    for item in items:
        if item is needle:
            return True
        if type(item) in _COMPOUND:
            _check_comparison(item, needle, _ELEMENTS)
        budget.tick()
        if item == needle:
            return True
    return False


def guarded_key(key: Any) -> Any:
    """A dict key, a set member, the argument of hash(): hashing a tuple goes over all its parts."""
    if type(key) in _HASHABLE:
        limit = _limit()
        _within(_measure(key, limit)[_ELEMENTS], limit, "hash")
    return key


def guarded_keys(items: Any) -> Any:
    """An iterable whose elements are hashed one by one (`{*items}`, set operations,
    dict.fromkeys()...): measured all together, or, for an iterator, element by element."""
    kind = type(items)
    if kind in _ITERABLE_COMPOUND:
        limit = _limit()
        _within(_measure(items.keys() if kind is dict else items, limit)[_ELEMENTS], limit, "hash")
    elif hasattr(kind, "__next__"):
        return _checked_items(items, _ELEMENTS, "hash")
    return items


def guarded_pairs(pairs: Any) -> Any:
    """The (key, value) pairs of dict(), dict.update() and `|=`: the keys are hashed."""
    if type(pairs) in (list, tuple):
        limit = _limit()
        keys = [pair[0] for pair in pairs if type(pair) in (tuple, list) and len(pair) == 2]
        _within(_measure(keys, limit)[_ELEMENTS], limit, "hash")
        return pairs
    return guarded_keys(pairs)


def _checked_items(items: Any, measure: int, purpose: str) -> Any:
    """The elements of an iterator, each measured as C code receives it (nothing of the script
    runs between the two), with a look at the clock between two."""
    limit, budget = _limit(), current()
    for item in items:
        if type(item) in _COMPOUND:
            _within(_measure(item, limit)[measure], limit, purpose)
        budget.tick()
        yield item


def _check_ordering(items: Any) -> None:
    """Sorting `items` (or finding the largest) compares each element a few times with others,
    each time going over no more than the smaller of the two (one step for most scalars)."""
    kinds = [*map(type, items)]
    limit = _limit()
    total = _extra(items, kinds)
    if not _COMPOUND.isdisjoint(kinds):
        for item in compress(items, map(_COMPOUND.__contains__, kinds)):
            total += _measure(item, limit - total)[_ORDERING]
            if total > limit:
                break
    _within(total, limit, "compare")


def _checked_key(key: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """max()/min() compare each key with the best so far as soon as it is made."""
    limit, budget = _limit(), current()

    def checked(item: Any) -> Any:
        value = key(item)
        if type(value) in _COMPOUND:
            _within(_measure(value, limit)[_ORDERING], limit, "compare")
        budget.tick()
        return value
    return checked


def _sorted_by_key(items: list[Any], key: Callable[[Any], Any], reverse: Any) -> list[Any]:
    """sorted(items, key=key): the keys are all made (running the script) before they are measured
    and compared, as sorted() does; the same comparisons give the same, stable, order."""
    keys = list(map(key, items))
    _check_ordering(keys)
    return [items[i] for i in sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)]


def guarded_sorted(iterable: Any, /, *, key: Any = None, reverse: Any = False) -> list[Any]:
    if _copy_size(iterable) > SMALL_LENGTH:
        current().sequence(_copy_size(iterable), "sorted()")
    items = list(iterable)
    if key is not None:
        return _sorted_by_key(items, key, reverse)
    _check_ordering(items)
    items.sort(reverse=reverse)
    return items


def _sort(target: list[Any], *, key: Any = None, reverse: Any = False) -> None:
    """list.sort()."""
    if key is None:
        _check_ordering(target)
        target.sort(reverse=reverse)
        return
    ordered = _sorted_by_key(list(target), key, reverse)
    if len(ordered) != len(target):
        raise ValueError("list modified during sort")
    target[:] = ordered


def _extreme(real: Callable[..., Any]) -> Callable[..., Any]:
    """max() and min()."""
    def extreme(*args: Any, **kwargs: Any) -> Any:
        items = args[0] if len(args) == 1 else args
        if kwargs.get("key") is not None:
            kwargs["key"] = _checked_key(kwargs["key"])
        elif type(items) in _COMPOUND:
            _check_ordering(list(_parts(items)) if type(items) in _SHOWN else items)
        elif hasattr(type(items), "__next__"):
            items = _checked_items(items, _ORDERING, "compare")
        elif type(items) in _SIZED and len(items) >= _BIG:
            current().tick()
        return real(items, **kwargs) if len(args) == 1 else real(*args, **kwargs)
    extreme.__name__ = real.__name__
    return extreme


def guarded_hash(value: Any) -> int:
    return hash(guarded_key(value))


def guarded_isinstance(value: Any, classes: Any) -> bool:
    if type(classes) is tuple:  # isinstance() goes into nested tuples of classes
        guarded_key(classes)
    return isinstance(value, classes)


def guarded_issubclass(value: Any, classes: Any) -> bool:
    if type(classes) is tuple:
        guarded_key(classes)
    return issubclass(value, classes)


def _view_operands(left: Any, right: Any) -> tuple[Any, Any]:
    """`& | ^ -` with a dict view on either side make a set of both operands (hashing them)."""
    if type(left) in _VIEWS or type(right) in _VIEWS:
        return guarded_keys(left), guarded_keys(right)
    return left, right


def guarded_sub(left: Any, right: Any) -> Any:
    if type(left) in _VIEWS or type(right) in _VIEWS:
        left, right = _view_operands(left, right)
    return left - right


def guarded_and(left: Any, right: Any) -> Any:
    left, right = _view_operands(left, right)
    return left & right


def guarded_or(left: Any, right: Any) -> Any:
    left, right = _view_operands(left, right)
    return left | right


def guarded_xor(left: Any, right: Any) -> Any:
    left, right = _view_operands(left, right)
    return left ^ right


def _dict_union(left: Any, right: Any) -> Any:
    """`|=`: a dict takes (key, value) pairs, in place; otherwise as `|`."""
    if type(left) is dict:
        left |= right if type(right) is dict else guarded_pairs(right)
        return left
    return guarded_or(left, right)


def guarded_operand(value: Any) -> Any:
    """An operand of a chained comparison (`a < b < c`), which Python evaluates once: measured
    alone (without the other operand at hand, a container past the limit is refused)."""
    kind = type(value)
    if kind in _COMPOUND:
        limit = _limit()
        _within(_measure(value, limit)[_ORDERING], limit, "compare")
    elif kind in _SIZED and len(value) >= _BIG:
        current().tick()
    return value


def guarded_haystack(value: Any) -> Any:
    """The right operand of `in` in a chained comparison."""
    if hasattr(type(value), "__next__"):
        return _checked_items(value, _ELEMENTS, "compare")
    return guarded_operand(value)


def _search_arguments(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """list/tuple count(), index(), remove(); set remove()."""
    if args and _costly(args[0]):
        if type(target) in _SCANNED:
            _check_search(args[0], target)
        elif type(target) in _HASHED:
            guarded_key(args[0])
    return args


def _key_arguments(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """dict get(), pop(), setdefault(); set add(), discard()."""
    if args and type(target) in _HASHED:
        guarded_key(args[0])
    return args


def _keys_arguments(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Set operations and dict update(): every element of the arguments is hashed."""
    if type(target) is dict:
        return (guarded_pairs(args[0]), *args[1:]) if args else args
    return tuple(guarded_keys(arg) for arg in args) if type(target) in _HASHED else args


_COMPARING: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]] = {
    **dict.fromkeys(("count", "index", "remove"), _search_arguments),
    **dict.fromkeys(("get", "pop", "setdefault", "add", "discard"), _key_arguments),
    **dict.fromkeys(("union", "intersection", "difference", "symmetric_difference", "update",
                     "intersection_update", "difference_update", "symmetric_difference_update", "issubset",
                     "issuperset", "isdisjoint"), _keys_arguments),
}


def _comparing_method(target: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """A method that compares or hashes its arguments' parts; on a type, the first argument is
    the receiver (`list.count(items, x)`)."""
    unbound = isinstance(target, type)
    if name == "sort":
        if unbound:
            return lambda target, *args, **kwargs: _sort(target, *args, **kwargs) if type(target) is list \
                else method(target, *args, **kwargs)
        return (lambda *args, **kwargs: _sort(target, *args, **kwargs)) if type(target) is list else method
    check = _COMPARING[name]

    def checked(*args: Any, **kwargs: Any) -> Any:
        if unbound:
            return method(*args[:1], *check(args[0], args[1:], kwargs), **kwargs) if args else method(**kwargs)
        return method(*check(target, args, kwargs), **kwargs)
    return checked


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
        if real is dict and args:
            args = (guarded_pairs(args[0]), *args[1:])
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


def check_raised(error: BaseException, source: str | None = None) -> None:
    """An exception leaving BPMN code is turned into text by whoever handles it: refuse one (or one
    in its chain) whose arguments are too large for that."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen and len(seen) < 100:
        seen.add(id(error))
        if error.args and not SCALARS.issuperset(map(type, error.args)):
            try:
                _walk(error.args, _limit(), _limit(), "turn into text")
            except ScriptSecurityError as refusal:
                text = str(refusal)
                raise ScriptSecurityError(f"BPMN code raised {type(error).__name__} with arguments too large: "
                                          f"{text[0].lower()}{text[1:]}", source) from None
        error = error.__cause__ or error.__context__  # type: ignore[assignment]


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
    "sorted": guarded_sorted, "max": _extreme(max), "min": _extreme(min), "hash": guarded_hash,
    "isinstance": guarded_isinstance, "issubclass": guarded_issubclass,
    "range": guarded_range, "pow": guarded_pow, "round": guarded_round, "repr": guarded_repr, "sum": guarded_sum,
    **{function.__name__: _scanning(function) for function in (any, all, map, filter, enumerate, reversed)},
}

GUARD_GLOBALS: dict[str, Any] = {
    "_getattr_": guarded_getattr, "_getitem_": guarded_getitem, "_operand_": guarded_operand,
    "_haystack_": guarded_haystack, "_eq_": guarded_eq, "_ne_": guarded_ne, "_lt_": guarded_lt, "_le_": guarded_le,
    "_gt_": guarded_gt, "_ge_": guarded_ge, "_in_": guarded_in, "_key_": guarded_key, "_keys_": guarded_keys,
    "_sub_": guarded_sub, "_and_": guarded_and, "_or_": guarded_or, "_xor_": guarded_xor,
    "_inplacevar_": guarded_inplace, "_add_": guarded_add, "_mul_": guarded_mul, "_pow_": guarded_pow,
    "_lshift_": guarded_lshift, "_mod_": guarded_mod, "_format_": guarded_format,
    "_reraise_refusal_": reraise_refusal,
}
