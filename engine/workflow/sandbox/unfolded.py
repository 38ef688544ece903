"""The "unfolded" size of a nested container: what C code goes over when it compares or hashes it.

`==`, `<`, `in`, sorting and hashing go over a container's parts in C, and over a part held
several times once for each way it is reachable: `x = [x, x]` sixty times makes a list of 61
objects that is 2**60 parts "unfolded", and comparing two of them never ends; sorting
`[text] * 10**6`, or comparing it with an equal list, compares one long text a million times.
So wherever C code compares or hashes (comparisons, `in`, dict and set keys, hash(),
count/index/remove, sorting, max/min, set operations, isinstance), what it would go over is
measured first: the unfolded size, a long text or a large integer weighing more than one part,
in time linear in the *distinct* containers and never past the limit. More than
max_sequence_length parts (as much as task data may hold: check_output counts shared parts the
same way) is refused. A scalar operand, the common case, costs a type test.
"""

from __future__ import annotations

from itertools import chain, compress, repeat
from operator import floordiv
from typing import Any

from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox.budget import _BIG, current, state

_EMPTY: dict[Any, Any] = {}
_KEYS, _VALUES, _ITEMS = type(_EMPTY.keys()), type(_EMPTY.values()), type(_EMPTY.items())
_MAPPING = type(_EMPTY.keys().mapping)  # mappingproxy
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


def _checked_items(items: Any, measure: int, purpose: str) -> Any:
    """The elements of an iterator, each measured as C code receives it (nothing of the script
    runs between the two), with a look at the clock between two."""
    limit, budget = _limit(), current()
    for item in items:
        if type(item) in _COMPOUND:
            _within(_measure(item, limit)[measure], limit, purpose)
        budget.tick()
        yield item
