"""Sorting and max()/min(): each element is compared a few times with others, in C.

Before sorted(), list.sort(), max() or min() start, the elements (or the keys made from them)
are measured as parts to compare (see engine.workflow.sandbox.unfolded): a list of deeply shared
containers or of one long text held many times is refused instead of running for minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from typing import Any

from engine.workflow.sandbox.budget import _BIG, _SIZED, SMALL_LENGTH, current
from engine.workflow.sandbox.sizes import _copy_size
from engine.workflow.sandbox.unfolded import (
    _COMPOUND,
    _ORDERING,
    _SHOWN,
    _checked_items,
    _extra,
    _limit,
    _measure,
    _parts,
    _within,
)


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
