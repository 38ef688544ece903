"""The plan's reporting periods: month, quarter, half-year and year, in Asia/Shanghai.

月度 progress, 季度 operating analysis, 半年 special report, 年度 assessment (the Hunan plan). A
period runs from 00:00 Beijing time of its first day to 00:00 of the day after its last; a period
has *closed* once that moment has passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from engine.workflow.working_days import SHANGHAI

MONTH, QUARTER, HALF_YEAR, YEAR = "month", "quarter", "half_year", "year"
KINDS = (MONTH, QUARTER, HALF_YEAR, YEAR)
_MONTHS = {MONTH: 1, QUARTER: 3, HALF_YEAR: 6, YEAR: 12}
# How a period is named in URLs and files: 2026-10, 2026-Q4, 2026-H2, 2026.
_KEYS = {MONTH: re.compile(r"(\d{4})-(\d{2})"), QUARTER: re.compile(r"(\d{4})-Q([1-4])"),
         HALF_YEAR: re.compile(r"(\d{4})-H([12])"), YEAR: re.compile(r"(\d{4})")}
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200


class PeriodError(ValueError):
    """A period that does not exist (unknown kind, malformed key, out of range)."""


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period: `start` its first day, `end` the first day after it (Beijing dates)."""

    kind: str
    start: date

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PeriodError(f"Unknown period kind {self.kind!r}")
        if self.start.day != 1 or (self.start.month - 1) % _MONTHS[self.kind]:
            raise PeriodError(f"A {self.kind} cannot start on {self.start}")
        if not EARLIEST_YEAR <= self.start.year <= LATEST_YEAR:
            raise PeriodError(f"Years {EARLIEST_YEAR} to {LATEST_YEAR} only")

    @property
    def end(self) -> date:
        return _add_months(self.start, _MONTHS[self.kind])

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    @property
    def number(self) -> int:
        """Which month, quarter or half of its year (1 for a year)."""
        return (self.start.month - 1) // _MONTHS[self.kind] + 1

    @property
    def key(self) -> str:
        if self.kind == MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == QUARTER:
            return f"{self.start.year}-Q{self.number}"
        if self.kind == HALF_YEAR:
            return f"{self.start.year}-H{self.number}"
        return str(self.start.year)

    @property
    def starts_at(self) -> datetime:
        """00:00 Beijing time of the first day, in UTC."""
        return _midnight(self.start)

    @property
    def ends_at(self) -> datetime:
        """00:00 Beijing time of the day after the last, in UTC (excluded)."""
        return _midnight(self.end)

    @property
    def year_starts_at(self) -> datetime:
        """00:00 Beijing time of 1 January of the period's year (for the year-to-date figures)."""
        return _midnight(date(self.start.year, 1, 1))

    def closed(self, now: datetime) -> bool:
        return now >= self.ends_at

    def previous(self) -> Period:
        return Period(self.kind, _add_months(self.start, -_MONTHS[self.kind]))

    def next(self) -> Period:
        return Period(self.kind, self.end)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


def containing(kind: str, day: date) -> Period:
    """The period of `kind` that `day` falls in."""
    if kind not in KINDS:
        raise PeriodError(f"Unknown period kind {kind!r}")
    months = _MONTHS[kind]
    return Period(kind, date(day.year, (day.month - 1) // months * months + 1, 1))


def last_closed(kind: str, now: datetime) -> Period:
    """The latest period of `kind` that has closed by `now` (the one before today's)."""
    return containing(kind, now.astimezone(SHANGHAI).date()).previous()


def parse(kind: str, key: str) -> Period:
    """The period named `key` (2026-10, 2026-Q4, 2026-H2, 2026); PeriodError if there is none."""
    pattern = _KEYS.get(kind)
    match = pattern.fullmatch(key) if pattern is not None and len(key) <= 10 else None
    if match is None:
        raise PeriodError(f"{key!r} is not a {kind}")
    year = int(match.group(1))
    number = int(match.group(2)) if kind != YEAR else 1
    if kind == MONTH and not 1 <= number <= 12:
        raise PeriodError(f"{key!r} is not a month")
    try:
        return Period(kind, date(year, (number - 1) * _MONTHS[kind] + 1, 1))
    except ValueError as error:
        raise PeriodError(str(error)) from None


def recent(kind: str, now: datetime, count: int) -> list[Period]:
    """The `count` latest closed periods of `kind`, newest first (for the page's choice)."""
    periods, period = [], last_closed(kind, now)
    for _ in range(count):
        periods.append(period)
        if period.start.year <= EARLIEST_YEAR:
            break
        period = period.previous()
    return periods
