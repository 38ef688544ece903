"""Working-day deadlines against the official 2026 schedule (Civil Code arts. 201 and 203).

The 3-day acceptance deadlines over National Day and Spring Festival are in test_working_days.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.workflow.working_days import (
    CalendarError,
    DayRule,
    ScheduleFormatError,
    WorkingDayCalendar,
    parse_schedule_csv,
)
from tests.unit.calendar_helpers import CALENDAR, RULES, YEARS, cst, due


def test_the_official_years_come_from_chinese_calendar():
    assert 2004 in YEARS and 2026 in YEARS and 2027 not in YEARS


def test_decision_deadline_across_spring_festival():
    # From 2/10: 2/11, 2/12, 2/13, 2/14 (make-up), 2/24, 2/25, 2/26, 2/27, 2/28 (make-up), 3/2.
    assert due("2026-02-10T09:00:00", 10) == "2026-03-02T16:00:00+00:00"


def test_decision_deadline_across_national_day():
    # From 9/25: 9/28, 9/29, 9/30, 10/8, 10/9, 10/10 (make-up), 10/12, 10/13, 10/14, 10/15.
    assert due("2026-09-25T15:00:00", 10) == "2026-10-15T16:00:00+00:00"


def test_make_up_sunday_counts_and_an_ordinary_saturday_does_not():
    assert CALENDAR.is_workday(date(2026, 9, 20))  # make-up Sunday before National Day
    assert not CALENDAR.is_workday(date(2026, 9, 19))
    # From Friday 9/18: 9/20 (make-up Sunday) is the first working day.
    assert due("2026-09-18T11:00:00", 1) == "2026-09-20T16:00:00+00:00"


def test_new_year_and_labour_day_holidays():
    # 1/1-1/3 off, 1/4 make-up Sunday: from 12/31/2025 -> 1/4, 1/5.
    assert due("2025-12-31T10:00:00", 2) == "2026-01-05T16:00:00+00:00"
    # 5/1-5/5 off, 5/9 make-up Saturday: from 4/30 -> 5/6, 5/7, 5/8, 5/9.
    assert due("2026-04-30T10:00:00", 4) == "2026-05-09T16:00:00+00:00"


def test_the_day_of_the_event_never_counts_even_late_at_night():
    assert due("2026-03-02T23:30:00", 1) == "2026-03-03T16:00:00+00:00"


def test_a_utc_start_is_counted_from_its_beijing_date():
    start = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 2026-03-03 01:00 CST
    assert CALENDAR.add_working_days(start, 1).due.isoformat() == "2026-03-04T16:00:00+00:00"


def test_zero_working_days_is_the_end_of_the_start_day():
    assert due("2026-03-02T10:00:00", 0) == "2026-03-02T16:00:00+00:00"


def test_a_deadline_in_a_year_without_a_schedule_is_provisional():
    across = CALENDAR.add_working_days(cst("2026-12-29T10:00:00"), 3)
    assert across.due.isoformat() == "2027-01-01T16:00:00+00:00" and across.provisional
    within = CALENDAR.add_working_days(cst("2026-12-24T10:00:00"), 3)
    assert within.due.isoformat() == "2026-12-29T16:00:00+00:00" and not within.provisional


def test_loading_next_years_schedule_moves_and_settles_the_deadline():
    rules_2027 = [DayRule(date(2027, 1, 1), "holiday", "元旦")]
    calendar = WorkingDayCalendar([*RULES, *rules_2027], [*YEARS, 2027])
    settled = calendar.add_working_days(cst("2026-12-29T10:00:00"), 3)
    assert settled.due.isoformat() == "2027-01-04T16:00:00+00:00" and not settled.provisional


def test_naive_starts_and_negative_periods_are_refused():
    with pytest.raises(CalendarError):
        CALENDAR.add_working_days(datetime(2026, 3, 2, 10), 3)
    with pytest.raises(CalendarError):
        CALENDAR.add_working_days(cst("2026-03-02T10:00:00"), -1)


@pytest.mark.parametrize(("acted", "late"), [
    ("2026-10-10T23:59:00", 0),  # on time, before 24:00
    ("2026-10-11T09:00:00", 1),  # Sunday after the deadline: late, at least one day
    ("2026-10-12T09:00:00", 1),  # Monday
    ("2026-10-14T18:00:00", 3),
])
def test_working_days_late(acted, late):
    deadline = CALENDAR.add_working_days(cst("2026-09-30T10:00:00"), 3).due
    assert CALENDAR.working_days_late(deadline, cst(acted)) == late


def test_working_days_late_skip_a_holiday_week():
    deadline = cst("2026-10-01T00:00:00")  # 9/30 24:00
    assert CALENDAR.working_days_late(deadline, cst("2026-10-08T10:00:00")) == 1


def test_a_valid_schedule_file_parses_with_chinese_kinds():
    text = "\ufeffdate,kind,name\n2027-01-01,休,元旦\n\n2027-02-06,班,春节\n2027-02-08,holiday,春节\n"
    year, rules = parse_schedule_csv(text)
    assert year == 2027
    assert [(r.day.isoformat(), r.kind) for r in rules] == [
        ("2027-01-01", "holiday"), ("2027-02-06", "workday"), ("2027-02-08", "holiday")]


@pytest.mark.parametrize(("text", "line"), [
    ("", 1),
    ("day,type,label\n2027-01-01,holiday,元旦\n", 1),
    ("date,kind,name\n2027-13-01,holiday,元旦\n", 2),
    ("date,kind,name\n2027-01-01,party,元旦\n", 2),
    ("date,kind,name\n2027-01-01,holiday,\n", 2),
    ("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-01,holiday,元旦\n", 3),
    ("date,kind,name\n2027-01-01,holiday,元旦\n2028-01-01,holiday,元旦\n", 3),
    ("date,kind,name\n2027-01-04,workday,调休\n", 2),  # a Monday is a workday anyway
    ("date,kind,name\n2027-01-01,holiday\n", 2),
])
def test_malformed_schedules_are_refused_with_the_line(text, line):
    with pytest.raises(ScheduleFormatError) as info:
        parse_schedule_csv(text)
    assert info.value.line == line
    assert f"line {line}" in str(info.value)
