"""Upper estimates of what a value becomes as text, and of what a constructor would make.

str(), repr(), %-formatting, f-strings and JSON go over a container once for every way a part is
reachable, and a Decimal or a large integer may print far more digits than it takes in memory:
these estimates are worked out before the text is made. The same walk refuses task data that is
too large or holds code (check_output), and exceptions whose arguments are too large to be
turned into text by whoever handles them (check_raised).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox.budget import _CONTAINERS, _SIZED, SCALARS, SMALL_LENGTH, Limits, state
from engine.workflow.sandbox.unfolded import _COMPOUND, _ELEMENTS, _SHOWN, _limit, _measure, _parts

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


def _text_size(object: Any = "", *rest: Any, **options: Any) -> int:
    return 0 if rest or options else text_size(object)  # with an encoding: decoding never grows


def _binary_size(source: Any = b"", *_: Any, **__: Any) -> int:
    if isinstance(source, int):
        return source
    return len(source) * (4 if isinstance(source, str) else 1) if type(source) in _SIZED else 0


def _copy_size(source: Any = (), *_: Any, **__: Any) -> int:
    return len(source) if type(source) in _SIZED else 0


def check_raised(error: BaseException | None, source: str | None = None) -> None:
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
        error = error.__cause__ or error.__context__
