"""Keyset pages: a list walked from a cursor (the last row seen) through an index, never by OFFSET.

A page is asked for as "after this row" or "before this row" in the list's order (sort key, then
id). Rows inserted or removed between two requests therefore neither repeat nor push rows off the
next page; nothing is sorted or counted beyond the page. A sort key that may be NULL (a task without
a deadline) orders its NULLs after every value in ascending order (before them in descending): the
list is walked as two segments, each through an index.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class SortKey:
    column: Any  # the key's column (sorted on), e.g. TaskRow.due_at
    kind: type  # how a cursor's value is read back: datetime, Decimal, str, int
    nullable: bool = False
    # An integer column sorted on between the key and the tiebreak (a key that is not NULL only): lets the
    # database walk another table's index, e.g. (amount, application id) for tasks sorted by amount.
    then: Any = None

    @property
    def columns(self) -> tuple:
        return (self.column,) if self.then is None else (self.column, self.then)


@dataclass(frozen=True)
class Cursor:
    """A row's position: whether its key is NULL, the key (and the `then` column's value), the row's id."""

    null: bool
    keys: tuple
    id: int


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    previous: Cursor | None  # the first row shown, when rows come before it
    next: Cursor | None  # the last row shown, when rows follow it


def encode(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    keys = [key.isoformat() if isinstance(key, datetime) else str(key) if isinstance(key, Decimal) else key
            for key in cursor.keys]
    text = json.dumps([int(cursor.null), keys, cursor.id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(token: str | None, sort: SortKey) -> Cursor | None:
    """The cursor a URL carries, or None when it is missing or not one of ours (then: the first page)."""
    if not token or len(token) > 200:
        return None
    try:
        null, keys, row_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(row_id, int) or null not in (0, 1) or not isinstance(keys, list):
            return None
        if null:
            return Cursor(True, (None,), row_id) if sort.nullable else None
        if len(keys) != len(sort.columns) or not all(isinstance(k, int) for k in keys[1:]):
            return None
        key = keys[0]
        if sort.kind is datetime:
            value: Any = datetime.fromisoformat(key)
            if value.tzinfo is None:
                return None
        elif sort.kind is Decimal:
            value = Decimal(str(key))
            if not value.is_finite():
                return None
        else:
            value = sort.kind(key)
        return Cursor(False, (value, *keys[1:]), row_id)
    except (ValueError, TypeError, ArithmeticError, json.JSONDecodeError):
        return None


def page(session: Session, query: sa.Select, sort: SortKey, tiebreak: Any, *, descending: bool = False,
         after: Cursor | None = None, before: Cursor | None = None, limit: int = 50) -> KeysetPage:
    """One page of `query` in (key, then, tiebreak) order, after or before a cursor.

    `query` must select the key's columns (`sort.columns`) and the tiebreak as its last columns.
    """
    backwards = before is not None and after is None
    cursor = before if backwards else after
    up = descending == backwards  # walking the ascending order upwards
    key, columns = sort.column, sort.columns
    ordered = (*columns, tiebreak)
    not_null = [key.is_not(None)] if sort.nullable else []
    segments: list[tuple[list, list]] = []  # (conditions, order) walked one after the other
    if up:
        if cursor is None or not cursor.null:
            bound = [sa.tuple_(*ordered) > _values(cursor, ordered)] if cursor else []
            segments.append((not_null + bound, list(ordered)))
        if sort.nullable:
            bound = [tiebreak > cursor.id] if cursor is not None and cursor.null else []
            segments.append(([key.is_(None), *bound], [tiebreak]))
    else:
        if sort.nullable and (cursor is None or cursor.null):
            bound = [tiebreak < cursor.id] if cursor is not None else []
            segments.append(([key.is_(None), *bound], [tiebreak.desc()]))
        if cursor is None or cursor.null:
            segments.append((not_null, [column.desc() for column in ordered]))
        else:
            bound = [sa.tuple_(*ordered) < _values(cursor, ordered)]
            segments.append((not_null + bound, [column.desc() for column in ordered]))
    rows: list = []
    for conditions, order in segments:
        if len(rows) > limit:
            break
        rows.extend(session.execute(query.where(*conditions).order_by(*order).limit(limit + 1 - len(rows))))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    first, last = (_cursor(rows[0], len(columns)), _cursor(rows[-1], len(columns))) if rows else (None, None)
    if backwards:
        return KeysetPage(rows, first if more else None, last if rows else None)
    return KeysetPage(rows, first if cursor is not None else None, last if more else None)


def _values(cursor: Cursor, ordered: tuple) -> sa.Tuple:
    """The cursor's values bound with the columns' types (money in fen, instants as naive UTC)."""
    return sa.tuple_(*(sa.literal(value, column.type) for value, column in zip(
        (*cursor.keys, cursor.id), ordered, strict=True)))


def _cursor(row: Any, keys: int) -> Cursor:
    values = tuple(row[-1 - keys:-1])
    return Cursor(values[0] is None, values, row[-1])
