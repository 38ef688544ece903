"""Chinese working-day arithmetic, counted as the Civil Code says (arts. 201 and 203).

The day of the event is not counted; counting starts the next day; the deadline is 24:00
Asia/Shanghai of the last working day. State Council holidays do not count, make-up workdays
(调休) do. A period that runs into a year without an official schedule is *provisional*: it is
counted on weekdays only and flagged, to be recomputed when the schedule is loaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAY = "holiday"
WORKDAY = "workday"
_KIND_ALIASES = {"holiday": HOLIDAY, "休": HOLIDAY, "workday": WORKDAY, "班": WORKDAY}


class CalendarError(ValueError):
    """A calendar computation or schedule was refused."""


class ScheduleFormatError(CalendarError):
    """A schedule file is malformed; `line` is the 1-based line of the first problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class DayRule:
    """One entry of an official schedule: a holiday, or a weekend make-up workday."""

    day: date
    kind: str
    name: str


@dataclass(frozen=True)
class Deadline:
    due: datetime  # aware, UTC
    provisional: bool


class WorkingDayCalendar:
    """Working days from a set of day rules and the years whose official schedule is known."""

    def __init__(self, rules: Iterable[DayRule], official_years: Iterable[int]) -> None:
        self._rules = {rule.day: rule for rule in rules}
        self.official_years = frozenset(official_years)

    def is_official_year(self, year: int) -> bool:
        return year in self.official_years

    def is_workday(self, day: date) -> bool:
        rule = self._rules.get(day)
        if rule is not None:
            return rule.kind == WORKDAY
        return day.weekday() < 5

    def add_working_days(self, start: datetime, working_days: int) -> Deadline:
        """The deadline `working_days` working days after `start` (24:00 Shanghai of the last one)."""
        if start.tzinfo is None:
            raise CalendarError("The start of a period needs a timezone offset")
        if working_days < 0:
            raise CalendarError("The number of working days cannot be negative")
        day = start.astimezone(SHANGHAI).date()
        provisional = False
        remaining = working_days
        while remaining:
            day += timedelta(days=1)
            provisional = provisional or day.year not in self.official_years
            if self.is_workday(day):
                remaining -= 1
        return Deadline(_end_of_day(day), provisional)

    def working_days_late(self, due: datetime, acted_at: datetime) -> int:
        """Working days from the deadline to the act, counting the day of the act; 0 if on time."""
        if acted_at <= due:
            return 0
        day = due.astimezone(SHANGHAI).date()
        last = acted_at.astimezone(SHANGHAI).date()
        late = 0
        while day <= last:
            late += self.is_workday(day)
            day += timedelta(days=1)
        return max(late, 1)

    def working_days_left(self, now: datetime, due: datetime) -> int:
        """Working days after today up to the deadline's last day (0 on the last day or after)."""
        day = now.astimezone(SHANGHAI).date()
        last = (due.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()
        left = 0
        while day < last:
            day += timedelta(days=1)
            left += self.is_workday(day)
        return left

    def year_rules(self, year: int) -> list[DayRule]:
        return sorted((r for r in self._rules.values() if r.day.year == year), key=lambda r: r.day)


def _end_of_day(day: date) -> datetime:
    """24:00 Shanghai of `day`, i.e. 00:00 of the next day, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)


def chinese_calendar_rules() -> tuple[list[DayRule], frozenset[int]]:
    """The rules and official years held by the `chinese_calendar` package."""
    import chinese_calendar

    rules = [DayRule(day, HOLIDAY, str(name)) for day, name in chinese_calendar.holidays.items()]
    rules += [DayRule(day, WORKDAY, str(name)) for day, name in chinese_calendar.workdays.items()]
    years = {rule.day.year for rule in rules}
    return rules, frozenset(range(min(years), max(years) + 1))


def parse_schedule_csv(text: str) -> tuple[int, list[DayRule]]:
    """Parse one year's official schedule: CSV with the header `date,kind,name`."""
    lines = text.lstrip("\ufeff").splitlines()
    if not any(line.strip() for line in lines):
        raise ScheduleFormatError(1, "the file is empty")
    reader = csv.reader(io.StringIO("\n".join(lines)))
    rules: list[DayRule] = []
    seen: set[date] = set()
    header_seen = False
    for number, row in enumerate(reader, start=1):
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row]
        if not header_seen:
            if [c.lower() for c in cells] != ["date", "kind", "name"]:
                raise ScheduleFormatError(number, "the first line must be the header date,kind,name")
            header_seen = True
            continue
        rule = _parse_row(number, cells, seen)
        if rules and rule.day.year != rules[0].day.year:
            raise ScheduleFormatError(number, f"all days must be in {rules[0].day.year}, the year of the first row")
        rules.append(rule)
    if not rules:
        raise ScheduleFormatError(len(lines), "the file lists no days")
    return rules[0].day.year, rules


def _parse_row(number: int, cells: list[str], seen: set[date]) -> DayRule:
    if len(cells) != 3:
        raise ScheduleFormatError(number, "expected three columns: date,kind,name")
    raw_day, raw_kind, name = cells
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        raise ScheduleFormatError(number, f"{raw_day!r} is not a date (YYYY-MM-DD)") from None
    kind = _KIND_ALIASES.get(raw_kind.lower())
    if kind is None:
        raise ScheduleFormatError(number, f"kind must be holiday or workday (休/班), not {raw_kind!r}")
    if not name:
        raise ScheduleFormatError(number, "the name is missing")
    if day in seen:
        raise ScheduleFormatError(number, f"{day} is listed twice")
    if kind == WORKDAY and day.weekday() < 5:
        raise ScheduleFormatError(number, f"{day} is a weekday already; only weekends can be make-up workdays")
    seen.add(day)
    return DayRule(day, kind, name)
