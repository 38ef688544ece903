"""Comparisons, `in`, hashing and set operations on containers, and the methods that do them.

`==`, `<`, `in`, dict and set keys, hash(), isinstance() with a tuple, set operations of dict
views and the methods that compare or hash their arguments (count, index, remove, get, add,
union...) go over nested containers in C, where no tracer can stop them: each first measures
what it would go over (see engine.workflow.sandbox.unfolded) and refuses more than max_sequence_length
parts. Iterators are checked element by element as C code receives them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.workflow.sandbox.budget import _BIG, _SIZED, current
from engine.workflow.sandbox.collisions import check_collisions
from engine.workflow.sandbox.ordering import _sort
from engine.workflow.sandbox.unfolded import (
    _COMPOUND,
    _ELEMENTS,
    _HASHABLE,
    _HASHED,
    _ITERABLE_COMPOUND,
    _KIND,
    _ORDERING,
    _SCANNED,
    _VIEWS,
    _WEIGHED,
    _checked_items,
    _limit,
    _measure,
    _weight,
    _within,
)

_FLAT_KEYS = frozenset({range, set, frozenset})  # nothing to measure, but keys that may share a hash


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
        check_collisions(items)
    elif kind in _FLAT_KEYS:
        check_collisions(items)
    elif hasattr(kind, "__next__"):
        return _checked_items(items, _ELEMENTS, "hash")
    return items


def guarded_pairs(pairs: Any) -> Any:
    """The (key, value) pairs of dict(), dict.update() and `|=`: the keys are hashed."""
    if type(pairs) in (list, tuple):
        limit = _limit()
        keys = [pair[0] for pair in pairs if type(pair) in (tuple, list) and len(pair) == 2]
        _within(_measure(keys, limit)[_ELEMENTS], limit, "hash")
        check_collisions(keys)
        return pairs
    return guarded_keys(pairs)


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
