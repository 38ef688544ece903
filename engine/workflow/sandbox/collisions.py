"""Hash flooding: many distinct keys with one hash make building a dict or set quadratic.

A number's hash is its value modulo 2**61 - 1 (sys.hash_info.modulus), and a tuple's is made of
its parts' hashes: `range(0, (2**61 - 1) * 10**5, 2**61 - 1)` is 100,000 distinct numbers with
the hash 0. A dict or set built of them in one C-level call (`{*items}`, dict.fromkeys(),
dict(pairs), update(), union()...) compares each new key with every earlier one of its hash, for
minutes, and no tracer can stop it. So before such a call the keys' hashes are counted, at C
speed: more than MAX_SHARED_HASH distinct keys with one hash are refused (building a table then
costs at most that many comparisons per key). Equal keys share a hash too, and cost nothing, so a
hash held by many keys is looked at more closely. A range is judged by its step alone. Strings
and bytes hash with a key chosen at start-up: their collisions cannot be chosen. The keys of an
iterator are not counted here: they are inserted one by one, with a look at the clock between
two (engine.workflow.sandbox.unfolded._checked_items).
"""

from __future__ import annotations

import sys
from collections import Counter
from functools import partial
from itertools import compress, filterfalse
from operator import eq
from typing import Any

from engine.workflow.sandbox.budget import _BIG, _refuse, current

MAX_SHARED_HASH = 16  # distinct keys with one hash
_MODULUS = sys.hash_info.modulus


def check_collisions(keys: Any) -> None:
    """Refuse `keys` (a range, or a sized iterable whose elements are about to be hashed) if more
    than MAX_SHARED_HASH distinct ones share a hash."""
    count = len(keys)
    if count <= MAX_SHARED_HASH:
        return
    if type(keys) is range:  # step a multiple of the modulus: one hash for each sign
        if keys.step % _MODULUS == 0 and count > 2 * MAX_SHARED_HASH:
            raise _flooding()
        return
    elements = keys if type(keys) is list or type(keys) is tuple else [*keys]
    hashes = _hashes(elements)
    if len(hashes) - len(set(hashes)) < MAX_SHARED_HASH:  # no hash is held by more than that many
        return
    counts = Counter(hashes)
    if max(counts.values()) <= MAX_SHARED_HASH:
        return
    objects = dict(zip(map(id, elements), elements, strict=True))
    if len(objects) < len(elements):  # an object held several times (`[key] * 1000`) is one key
        check_collisions([*objects.values()])
        return
    crowded = {value for value, times in counts.items() if times > MAX_SHARED_HASH}
    chosen = [*map(crowded.__contains__, hashes)]
    groups: dict[int, list[Any]] = {}
    for element, value in zip(compress(elements, chosen), compress(hashes, chosen), strict=False):
        groups.setdefault(value, []).append(element)
    for group in groups.values():
        if _more_distinct_than(group, MAX_SHARED_HASH):
            raise _flooding()
    if len(elements) >= _BIG:
        current().tick()


def _hashes(elements: Any) -> list[int]:
    """The hashes of `elements` up to the first that cannot be hashed (C code hashes and inserts
    the ones before it, then raises the TypeError)."""
    try:
        return [*map(hash, elements)]
    except TypeError:
        hashes = []
        for element in elements:
            try:
                hashes.append(hash(element))
            except TypeError:
                break
        return hashes


def _more_distinct_than(group: list[Any], limit: int) -> bool:
    """Whether `group` (distinct objects with one hash) holds more than `limit` distinct keys: a
    dict takes equal objects for one key."""
    remaining = group
    for _ in range(limit):
        if not remaining:
            return False
        first, rest = remaining[0], remaining[1:]
        remaining = [*filterfalse(partial(eq, first), rest)]
    return bool(remaining)


def _flooding() -> Exception:
    return _refuse(f"More than {MAX_SHARED_HASH} distinct keys with one hash (a dict or set of them would take "
                   "minutes to build) are not allowed")
