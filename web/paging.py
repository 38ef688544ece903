"""Which page of a list was asked for, and what the pager under a list shows ("1–50 / 1,234")."""

from __future__ import annotations

from dataclasses import dataclass

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
