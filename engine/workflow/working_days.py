"""Chinese working-day arithmetic, counted as the Civil Code says (arts. 201 and 203).

The day of the event is not counted; counting starts the next day; the deadline is 24:00
Asia/Shanghai of the last working day. State Council holidays do not count, make-up workdays
(调休) do. A period that runs into a year without an official schedule is *provisional*: it is
counted on weekdays only and flagged, to be recomputed when the schedule is loaded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAY = "holiday"
WORKDAY = "workday"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KIND_ALIASES = {"holiday": HOLIDAY, "休": HOLIDAY, "workday": WORKDAY, "班": WORKDAY}


class CalendarError(ValueError):
    """A calendar computation or schedule was refused."""


class ScheduleFormatError(CalendarError):
    """A schedule file is malformed; `line` is the 1-based line of the first problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class DayRule:
    """One entry of an official schedule: a holiday, or a weekend make-up workday."""

    day: date
    kind: str  # HOLIDAY (a day off) or WORKDAY (a weekend make-up workday)
    name: str  # e.g. "National Day" / "国庆节"


@dataclass(frozen=True)
class Deadline:
    """The end of a period: `due` is aware UTC; `provisional` if a counted day has no official schedule."""

    due: datetime
    provisional: bool


def _is_weekday(ordinal: int) -> bool:
    # date.fromordinal(1) (0001-01-01) is a Monday.
    return (ordinal - 1) % 7 < 5


class WorkingDayCalendar:
    """Working days from a set of day rules and the years whose official schedule is known."""

    def __init__(self, rules: Iterable[DayRule], official_years: Iterable[int]) -> None:
        self._rules: dict[date, DayRule] = {rule.day: rule for rule in rules}  # the last rule of a day wins
        self._official_years = frozenset(official_years)
        # Day ordinals make the per-day check an int set lookup; the two sets are disjoint.
        self._workdays = frozenset(d.toordinal() for d, r in self._rules.items() if r.kind == WORKDAY)
        self._holidays = frozenset(d.toordinal() for d, r in self._rules.items() if r.kind != WORKDAY)
        # Per instance, so that a calendar rebuilt after loading a year starts afresh.
        self._advance = lru_cache(maxsize=8192)(self._advance_uncached)

    @property
    def official_years(self) -> frozenset[int]:
        """The years whose official schedule is known."""
        return self._official_years

    def is_official_year(self, year: int) -> bool:
        """Whether the official schedule of `year` is known."""
        return year in self._official_years

    def is_workday(self, day: date) -> bool:
        """A make-up workday or a Monday-Friday that is not a holiday.

        In a year without an official schedule only the weekday rule applies, unless rules were
        given for that year anyway (they still win).
        """
        return self._is_workday_ordinal(day.toordinal())

    def _is_workday_ordinal(self, ordinal: int) -> bool:
        if ordinal in self._workdays:
            return True
        return ordinal not in self._holidays and _is_weekday(ordinal)

    def _advance_uncached(self, start: int, working_days: int) -> tuple[int, bool]:
        """The ordinal of the last counted day after day `start`, and whether the count is provisional."""
        workdays, holidays = self._workdays, self._holidays
        ordinal, remaining = start, working_days
        while remaining:
            ordinal += 1
            if ordinal in workdays or (ordinal not in holidays and (ordinal - 1) % 7 < 5):
                remaining -= 1
        if ordinal == start:
            return ordinal, False
        first, last = date.fromordinal(start + 1).year, date.fromordinal(ordinal).year
        provisional = any(year not in self._official_years for year in range(first, last + 1))
        return ordinal, provisional

    def add_working_days(self, start: datetime, working_days: int) -> Deadline:
        """The deadline `working_days` working days after `start` (Civil Code arts. 201 and 203).

        The start's own day (in Asia/Shanghai) is not counted; counting starts the next day and the
        deadline is 24:00 Shanghai of the last counted day, returned in UTC. Zero days means 24:00 of
        the start's own day. Raises CalendarError for a naive start or a negative number of days.
        """
        if start.tzinfo is None or start.utcoffset() is None:
            raise CalendarError("The start of a period needs a timezone offset")
        if working_days < 0:
            raise CalendarError("The number of working days cannot be negative")
        start_day = start.astimezone(SHANGHAI).date()
        try:
            last, provisional = self._advance(start_day.toordinal(), working_days)
            return Deadline(_end_of_day(date.fromordinal(last)), provisional)
        except (OverflowError, ValueError):
            raise CalendarError("The deadline falls outside the supported range of dates") from None

    def working_days_late(self, due: datetime, acted_at: datetime) -> int:
        """How many working days late an act was; 0 if on time, at least 1 if late.

        Counts the working days among the Shanghai dates from the date of `due` (the first day after
        the deadline, since a deadline is 00:00 of that day) through the date of `acted_at`.
        """
        if acted_at <= due:
            return 0
        first = due.astimezone(SHANGHAI).date().toordinal()
        last = acted_at.astimezone(SHANGHAI).date().toordinal()
        late = sum(1 for ordinal in range(first, last + 1) if self._is_workday_ordinal(ordinal))
        return max(late, 1)

    def working_days_left(self, now: datetime, due: datetime) -> int:
        """Working days after today up to the deadline's last day (0 on the last day or after)."""
        today = now.astimezone(SHANGHAI).date().toordinal()
        last = (due.astimezone(SHANGHAI) - timedelta(microseconds=1)).date().toordinal()
        return sum(1 for ordinal in range(today + 1, last + 1) if self._is_workday_ordinal(ordinal))

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days elapsed from `start` to `end`, counted like a period (Civil Code art. 201).

        The start's own Shanghai day is not counted; every working day after it up to and including
        the end's day is. Acting on the day of the event is 0; the next working day is 1.
        """
        first = start.astimezone(SHANGHAI).date().toordinal() + 1
        last = end.astimezone(SHANGHAI).date().toordinal()
        return sum(1 for ordinal in range(first, last + 1) if self._is_workday_ordinal(ordinal))

    def year_rules(self, year: int) -> list[DayRule]:
        """The rules of `year`, sorted by day, for display."""
        return sorted((r for r in self._rules.values() if r.day.year == year), key=lambda r: r.day)


def _end_of_day(day: date) -> datetime:
    """24:00 Shanghai of `day`, i.e. 00:00 of the next day, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)


def chinese_calendar_rules() -> tuple[list[DayRule], frozenset[int]]:
    """The rules and official years held by the `chinese_calendar` package (2004-2026 in 1.11.0)."""
    import chinese_calendar

    rules = [DayRule(day, HOLIDAY, str(name)) for day, name in chinese_calendar.holidays.items()]
    rules += [DayRule(day, WORKDAY, str(name)) for day, name in chinese_calendar.workdays.items()]
    if not rules:
        return [], frozenset()
    years = {rule.day.year for rule in rules}
    return rules, frozenset(range(min(years), max(years) + 1))


def parse_schedule_csv(text: str) -> tuple[int, list[DayRule]]:
    """Parse one year's official schedule: UTF-8 CSV with the header `date,kind,name`.

    Kinds are holiday/workday or 休/班. Blank lines are ignored and a BOM is tolerated. Returns
    (year, rules); raises ScheduleFormatError with the 1-based line of the first problem.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ScheduleFormatError(1, "the file is empty")
    reader = csv.reader(io.StringIO(text))
    rules: list[DayRule] = []
    seen: set[date] = set()
    header_seen = False
    try:
        for row in reader:
            number = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if not header_seen:
                if [c.lower() for c in cells] != ["date", "kind", "name"]:
                    raise ScheduleFormatError(number, "the first line must be the header date,kind,name")
                header_seen = True
                continue
            rule = _parse_row(number, cells, seen)
            if rules and rule.day.year != rules[0].day.year:
                raise ScheduleFormatError(
                    number, f"all days must be in {rules[0].day.year}, the year of the first row"
                )
            rules.append(rule)
    except csv.Error as error:
        raise ScheduleFormatError(reader.line_num or 1, f"not valid CSV: {error}") from None
    if not rules:
        raise ScheduleFormatError(max(reader.line_num, 1), "the file lists no days")
    return rules[0].day.year, rules


class ImplausibleSchedule(CalendarError):
    """A well-formed file that cannot be a whole year's official schedule.

    `reason` is an English template (translated by the interface), `values` fill it in.
    """

    def __init__(self, reason: str, **values: object) -> None:
        super().__init__(reason % values)
        self.reason = reason
        self.values = values


MIN_HOLIDAYS = 20  # the official schedules of 2004-2026 list 22 to 33 holidays and 5 to 12 make-up workdays
MAX_HOLIDAYS = 45
MAX_MAKEUP_WORKDAYS = 12
FEW_HOLIDAYS = "A whole year's schedule lists at least %(minimum)d holidays; this file lists %(found)d."
MANY_HOLIDAYS = "A year has at most %(maximum)d official holidays; this file lists %(found)d."
NO_NEW_YEAR = "New Year's Day (元旦, 1 January) is not a holiday in this file."
NO_SPRING_FESTIVAL = ("The Spring Festival holiday (春节: at least three days in a row between 15 January and "
                      "28 February) is missing.")
NO_NATIONAL_DAY = "The National Day holiday (国庆节: 1 to 3 October) is missing."
NO_MAKEUP_DAYS = "A whole year's schedule has make-up workdays (调休); this file lists none."
MANY_MAKEUP_DAYS = "A year has at most %(maximum)d make-up workdays; this file lists %(found)d."


def check_whole_year(year: int, rules: list[DayRule]) -> None:
    """Refuse a schedule that cannot be a whole year's: too few days off, or no 元旦, 春节 or 国庆 ranges.

    `parse_schedule_csv` has already refused duplicates, days of another year and make-up
    workdays on weekdays; this checks that the file plausibly covers the year's official holidays.
    """
    holidays = {rule.day for rule in rules if rule.kind == HOLIDAY}
    workdays = [rule.day for rule in rules if rule.kind == WORKDAY]
    if len(holidays) < MIN_HOLIDAYS:
        raise ImplausibleSchedule(FEW_HOLIDAYS, minimum=MIN_HOLIDAYS, found=len(holidays))
    if len(holidays) > MAX_HOLIDAYS:
        raise ImplausibleSchedule(MANY_HOLIDAYS, maximum=MAX_HOLIDAYS, found=len(holidays))
    if date(year, 1, 1) not in holidays:
        raise ImplausibleSchedule(NO_NEW_YEAR)
    if not _has_run(holidays, date(year, 1, 15), date(year, 2, 28), 3):
        raise ImplausibleSchedule(NO_SPRING_FESTIVAL)
    if not {date(year, 10, day) for day in (1, 2, 3)} <= holidays:
        raise ImplausibleSchedule(NO_NATIONAL_DAY)
    if not workdays:
        raise ImplausibleSchedule(NO_MAKEUP_DAYS)
    if len(workdays) > MAX_MAKEUP_WORKDAYS:
        raise ImplausibleSchedule(MANY_MAKEUP_DAYS, maximum=MAX_MAKEUP_WORKDAYS, found=len(workdays))


def _has_run(days: set[date], first: date, last: date, length: int) -> bool:
    """Whether `days` holds `length` consecutive days between `first` and `last`."""
    run, day = 0, first
    while day <= last:
        run = run + 1 if day in days else 0
        if run >= length:
            return True
        day += timedelta(days=1)
    return False


def _parse_row(number: int, cells: list[str], seen: set[date]) -> DayRule:
    """One data row as a rule, checked against the days already seen."""
    if len(cells) != 3:
        raise ScheduleFormatError(number, "expected three columns: date,kind,name")
    raw_day, raw_kind, name = cells
    try:
        if not _DATE.fullmatch(raw_day):
            raise ValueError(raw_day)
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
