"""Which page of a list was asked for, and what the pager under a list shows ("1–50 / 1,234", "1–50 / 1,000+")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request

PER_PAGE = 50
MAX_PAGE = 20_000


@dataclass(frozen=True)
class Pager:
    page: int
    per_page: int
    total: int
    capped: bool  # more rows than `total` (counting stopped there)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total) if self.total else 0

    def last(self, shown: int) -> int:
        return self.offset + shown

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.capped or self.page * self.per_page < self.total


def requested_page() -> int:
    """The `page` query argument, 1 when missing or not a sensible number."""
    raw = request.args.get("page", "")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def requested_sort(allowed: tuple[str, ...], default: str, descending: bool = False) -> tuple[str, bool]:
    """The `sort` query argument ('amount' or '-amount' for descending) if it names an allowed column."""
    raw = request.args.get("sort", "")
    name = raw.removeprefix("-")
    if name in allowed:
        return name, raw.startswith("-")
    return default, descending


def offset_for(page: int, per_page: int = PER_PAGE) -> int:
    return (page - 1) * per_page


@dataclass(frozen=True)
class KeysetPager:
    """A keyset page's pager: where the page starts in the list (carried in the URL as `at`, so after
    rows came or went it is approximate), the total, and the cursors of the pages around it."""

    start: int
    per_page: int
    total: int
    capped: bool
    previous: str | None
    next: str | None

    @property
    def first(self) -> int:
        return self.start

    def last(self, shown: int) -> int:
        return self.start + shown - 1

    @property
    def previous_start(self) -> int:
        return max(self.start - self.per_page, 1)


def requested_cursor() -> tuple[str | None, str | None, int]:
    """The `after` or `before` cursor of a keyset page, and `at`: where the page starts (1 when missing)."""
    args = request.args
    raw = args.get("at", "")
    start = int(raw) if raw.isdigit() and 0 < len(raw) < 10 and int(raw) > 0 else 1
    return args.get("after") or None, args.get("before") or None, start


def keyset_pager(found: Any, start: int, per_page: int = PER_PAGE) -> KeysetPager:
    """The pager of a KeysetSlice; the first page starts at 1 whatever the URL said."""
    return KeysetPager(start if found.previous else 1, per_page, found.total, found.capped, found.previous,
                       found.next)
