"""Working-day deadlines (Civil Code arts. 201 and 203) against the official 2026 schedule.

2026 (State Council notice): holidays 1/1-1/3, 2/15-2/23, 4/4-4/6, 5/1-5/5, 6/19-6/21, 9/25-9/27,
10/1-10/7; weekend make-up workdays 1/4 (Sun), 2/14 (Sat), 2/28 (Sat), 5/9 (Sat), 9/20 (Sun), 10/10 (Sat).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.workflow.working_days import (
    CalendarError,
    DayRule,
    Deadline,
    ScheduleFormatError,
    WorkingDayCalendar,
    parse_schedule_csv,
)
from tests.unit.calendar_helpers import CALENDAR, RULES, YEARS, cst, due

# --- the calendar itself ---------------------------------------------------------------------


def test_chinese_calendar_provides_official_years_2004_through_2026():
    assert YEARS == frozenset(range(2004, 2027))
    assert CALENDAR.official_years == YEARS
    assert CALENDAR.is_official_year(2026) and not CALENDAR.is_official_year(2027)


def test_the_2026_make_up_workdays_and_holidays_are_loaded_with_their_names():
    workdays = [r for r in CALENDAR.year_rules(2026) if r.kind == "workday"]
    assert [r.day for r in workdays] == [
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)
    ]
    assert DayRule(date(2026, 10, 1), "holiday", "National Day") in CALENDAR.year_rules(2026)


def test_year_rules_are_sorted_and_limited_to_the_year():
    rules = CALENDAR.year_rules(2026)
    assert rules == sorted(rules, key=lambda r: r.day)
    assert {r.day.year for r in rules} == {2026}
    assert CALENDAR.year_rules(2030) == []


def test_a_make_up_sunday_is_a_workday_and_an_ordinary_saturday_is_not():
    assert CALENDAR.is_workday(date(2026, 9, 20))  # make-up Sunday before National Day
    assert not CALENDAR.is_workday(date(2026, 9, 19))  # ordinary Saturday
    assert not CALENDAR.is_workday(date(2026, 10, 5))  # a Monday inside the National Day holiday
    assert CALENDAR.is_workday(date(2026, 10, 8))


def test_a_year_without_a_schedule_uses_weekdays_only_unless_rules_were_given():
    assert CALENDAR.is_workday(date(2027, 1, 1))  # Friday; 2027 is unknown
    assert not CALENDAR.is_workday(date(2027, 1, 2))
    calendar = WorkingDayCalendar([DayRule(date(2027, 1, 1), "holiday", "元旦")], [2026])
    assert not calendar.is_workday(date(2027, 1, 1))


# --- add_working_days ------------------------------------------------------------------------


def test_accept_deadline_over_national_day_lands_on_make_up_saturday():
    # 10/1-10/7 are holidays; counted: 10/8 Thu, 10/9 Fri, 10/10 make-up Saturday.
    deadline = CALENDAR.add_working_days(cst("2026-09-30T10:00:00"), 3)
    assert deadline == Deadline(datetime(2026, 10, 10, 16, 0, tzinfo=UTC), provisional=False)
    assert deadline.due.isoformat() == "2026-10-10T16:00:00+00:00"


@pytest.mark.parametrize("time_of_day", ["00:00:00", "09:00:00", "16:30:00", "23:59:59"])
def test_accept_deadline_before_spring_festival_counts_the_make_up_saturday(time_of_day):
    # Counted: 2/14 make-up Saturday, (2/15-2/23 holidays), 2/24 Tue, 2/25 Wed.
    assert due(f"2026-02-13T{time_of_day}", 3) == "2026-02-25T16:00:00+00:00"


def test_ten_working_days_across_spring_festival():
    # From Thu 2/12: 2/13 (1), 2/14 make-up Sat (2), 2/15-2/23 off, 2/24 (3), 2/25 (4), 2/26 (5),
    # 2/27 (6), 2/28 make-up Sat (7), 3/2 Mon (8), 3/3 (9), 3/4 (10).
    assert due("2026-02-12T11:00:00", 10) == "2026-03-04T16:00:00+00:00"


def test_ten_working_days_across_national_day():
    # From Mon 9/28: 9/29 (1), 9/30 (2), 10/1-10/7 off, 10/8 (3), 10/9 (4), 10/10 make-up Sat (5),
    # 10/11 Sun off, 10/12 (6), 10/13 (7), 10/14 (8), 10/15 (9), 10/16 (10).
    assert due("2026-09-28T14:00:00", 10) == "2026-10-16T16:00:00+00:00"


def test_ten_working_days_across_the_make_up_sunday_mid_autumn_and_national_day():
    # From Thu 9/17: 9/18 (1), 9/19 Sat off, 9/20 make-up Sun (2), 9/21 (3), 9/22 (4), 9/23 (5),
    # 9/24 (6), 9/25-9/27 Mid-autumn off, 9/28 (7), 9/29 (8), 9/30 (9), 10/1-10/7 off, 10/8 (10).
    assert due("2026-09-17T09:00:00", 10) == "2026-10-08T16:00:00+00:00"


def test_new_year_and_labour_day_holidays_with_their_make_up_days():
    # From Tue 2025-12-30: 12/31 (1), 1/1-1/3 off, 1/4 make-up Sun (2), 1/5 Mon (3).
    assert due("2025-12-30T10:00:00", 3) == "2026-01-05T16:00:00+00:00"
    # From Wed 4/29: 4/30 (1), 5/1-5/5 off, 5/6 (2), 5/7 (3), 5/8 (4), 5/9 make-up Sat (5).
    assert due("2026-04-29T10:00:00", 5) == "2026-05-09T16:00:00+00:00"


def test_a_make_up_sunday_counts_and_an_ordinary_saturday_does_not():
    # From Sat 9/19: the make-up Sunday 9/20 is the first working day.
    assert due("2026-09-19T12:00:00", 1) == "2026-09-20T16:00:00+00:00"
    # From Fri 3/6: Sat 3/7 and Sun 3/8 do not count; Mon 3/9 does.
    assert due("2026-03-06T12:00:00", 1) == "2026-03-09T16:00:00+00:00"


def test_a_start_at_23_30_beijing_time_counts_from_the_next_day():
    assert due("2026-03-02T23:30:00", 1) == "2026-03-03T16:00:00+00:00"


def test_a_utc_start_that_is_already_the_next_day_in_shanghai_counts_from_that_day():
    start = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 2026-03-03 01:00 CST
    assert CALENDAR.add_working_days(start, 1).due.isoformat() == "2026-03-04T16:00:00+00:00"
    just_before = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)  # 2026-03-02 23:59 CST
    assert CALENDAR.add_working_days(just_before, 1).due.isoformat() == "2026-03-03T16:00:00+00:00"


def test_zero_working_days_ends_at_midnight_of_the_start_day():
    assert due("2026-03-02T10:00:00", 0) == "2026-03-02T16:00:00+00:00"
    assert not CALENDAR.add_working_days(cst("2026-12-31T10:00:00"), 0).provisional


def test_the_due_instant_is_utc():
    deadline = CALENDAR.add_working_days(cst("2026-09-30T10:00:00"), 3)
    assert deadline.due.utcoffset().total_seconds() == 0


def test_a_deadline_running_into_a_year_without_a_schedule_is_provisional():
    # 12/30 Wed, 12/31 Thu, 2027-01-01 Fri (weekday rule only: 2027 is not official).
    across = CALENDAR.add_working_days(cst("2026-12-29T10:00:00"), 3)
    assert across == Deadline(datetime(2027, 1, 1, 16, 0, tzinfo=UTC), provisional=True)
    assert CALENDAR.add_working_days(cst("2026-12-31T10:00:00"), 1).provisional


def test_a_deadline_within_an_official_year_is_not_provisional():
    # 12/25 Fri, 12/28 Mon, 12/29 Tue.
    within = CALENDAR.add_working_days(cst("2026-12-24T10:00:00"), 3)
    assert within == Deadline(datetime(2026, 12, 29, 16, 0, tzinfo=UTC), provisional=False)


def test_loading_the_2027_schedule_moves_the_deadline_and_settles_it():
    rules_2027 = [
        DayRule(date(2027, 1, 1), "holiday", "元旦"),
        DayRule(date(2027, 1, 2), "holiday", "元旦"),
        DayRule(date(2027, 1, 3), "holiday", "元旦"),
    ]
    calendar = WorkingDayCalendar([*RULES, *rules_2027], [*YEARS, 2027])
    # 12/30, 12/31, (1/1-1/3 off) 2027-01-04 Mon.
    settled = calendar.add_working_days(cst("2026-12-29T10:00:00"), 3)
    assert settled == Deadline(datetime(2027, 1, 4, 16, 0, tzinfo=UTC), provisional=False)


def test_rules_for_a_year_that_is_not_official_still_apply_but_stay_provisional():
    calendar = WorkingDayCalendar([*RULES, DayRule(date(2027, 1, 1), "holiday", "元旦")], YEARS)
    moved = calendar.add_working_days(cst("2026-12-29T10:00:00"), 3)
    assert moved == Deadline(datetime(2027, 1, 4, 16, 0, tzinfo=UTC), provisional=True)


def test_repeated_computations_give_the_same_answer():
    first = CALENDAR.add_working_days(cst("2026-09-30T10:00:00"), 3)
    assert [CALENDAR.add_working_days(cst("2026-09-30T18:00:00"), 3) for _ in range(3)] == [first] * 3


def test_a_naive_start_is_refused():
    with pytest.raises(CalendarError):
        CALENDAR.add_working_days(datetime(2026, 3, 2, 10), 3)


def test_a_negative_number_of_working_days_is_refused():
    with pytest.raises(CalendarError):
        CALENDAR.add_working_days(cst("2026-03-02T10:00:00"), -1)


# --- working_days_late / working_days_left -----------------------------------------------------

SATURDAY_DEADLINE = datetime(2026, 10, 10, 16, 0, tzinfo=UTC)  # 2026-10-10 24:00 CST (make-up Saturday)


@pytest.mark.parametrize(("acted", "late"), [
    ("2026-10-09T15:00:00", 0),  # well before
    ("2026-10-10T23:59:59", 0),  # on the last day
    ("2026-10-11T00:00:00", 0),  # exactly at 24:00 is still on time
    ("2026-10-11T00:00:01", 1),  # Sunday right after: late, so at least one day
    ("2026-10-12T09:00:00", 1),  # Monday after the Saturday deadline
    ("2026-10-14T18:00:00", 3),  # 10/12, 10/13, 10/14
])
def test_working_days_late_after_a_saturday_deadline(acted, late):
    assert CALENDAR.working_days_late(SATURDAY_DEADLINE, cst(acted)) == late


def test_working_days_late_accepts_utc_instants():
    acted = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)  # 2026-10-12 09:00 CST
    assert CALENDAR.working_days_late(SATURDAY_DEADLINE, acted) == 1


def test_working_days_late_skips_a_holiday_week():
    deadline = cst("2026-10-01T00:00:00")  # 9/30 24:00
    assert CALENDAR.working_days_late(deadline, cst("2026-10-05T10:00:00")) == 1  # holidays only
    assert CALENDAR.working_days_late(deadline, cst("2026-10-09T10:00:00")) == 2  # 10/8, 10/9
    assert CALENDAR.working_days_late(deadline, cst("2026-10-12T10:00:00")) == 4  # + 10/10, 10/12


def test_working_days_left_counts_the_days_after_today_up_to_the_last_day():
    assert CALENDAR.working_days_left(cst("2026-09-30T10:00:00"), SATURDAY_DEADLINE) == 3
    assert CALENDAR.working_days_left(cst("2026-10-09T10:00:00"), SATURDAY_DEADLINE) == 1
    assert CALENDAR.working_days_left(cst("2026-10-10T10:00:00"), SATURDAY_DEADLINE) == 0
    assert CALENDAR.working_days_left(cst("2026-10-12T10:00:00"), SATURDAY_DEADLINE) == 0


# --- parse_schedule_csv ------------------------------------------------------------------------


def test_a_valid_schedule_parses_with_english_and_chinese_kinds():
    text = (
        "\ufeffdate,kind,name\r\n"
        "2027-01-01,休,元旦\r\n"
        "\r\n"
        "2027-01-02, holiday , New Year's Day \r\n"
        "2027-02-06,班,春节\r\n"
        "2027-02-20,workday,Spring Festival\r\n"
    )
    year, rules = parse_schedule_csv(text)
    assert year == 2027
    assert rules == [
        DayRule(date(2027, 1, 1), "holiday", "元旦"),
        DayRule(date(2027, 1, 2), "holiday", "New Year's Day"),  # a holiday on a Saturday is allowed
        DayRule(date(2027, 2, 6), "workday", "春节"),
        DayRule(date(2027, 2, 20), "workday", "Spring Festival"),
    ]


def test_a_parsed_schedule_builds_a_calendar():
    year, rules = parse_schedule_csv("date,kind,name\n2027-01-01,休,元旦\n2027-02-06,班,春节\n")
    calendar = WorkingDayCalendar([*RULES, *rules], [*YEARS, year])
    assert not calendar.is_workday(date(2027, 1, 1)) and calendar.is_workday(date(2027, 2, 6))


@pytest.mark.parametrize(("text", "line"), [
    pytest.param("", 1, id="empty file"),
    pytest.param("\ufeff\n  \n", 1, id="blank file"),
    pytest.param("date,kind,name\n", 1, id="header only"),
    pytest.param("2027-01-01,holiday,元旦\n", 1, id="missing header"),
    pytest.param("day,type,label\n2027-01-01,holiday,元旦\n", 1, id="wrong header"),
    pytest.param("\n\ndate,kind,name\n2027-13-01,holiday,元旦\n", 4, id="bad date after blank lines"),
    pytest.param("date,kind,name\n2027/01/01,holiday,元旦\n", 2, id="slashes in date"),
    pytest.param("date,kind,name\n2027-1-1,holiday,元旦\n", 2, id="unpadded date"),
    pytest.param("date,kind,name\n2027-01-01,party,元旦\n", 2, id="unknown kind"),
    pytest.param("date,kind,name\n2027-01-01,holiday,\n", 2, id="empty name"),
    pytest.param("date,kind,name\n2027-01-01,holiday,  \n", 2, id="blank name"),
    pytest.param("date,kind,name\n2027-01-01,holiday\n", 2, id="missing column"),
    pytest.param("date,kind,name\n2027-01-01,holiday,元旦\n\n2027-01-01,休,元旦\n", 4, id="date listed twice"),
    pytest.param("date,kind,name\n2027-01-01,holiday,元旦\n2028-01-01,holiday,元旦\n", 3, id="two years"),
    pytest.param("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-04,班,调休\n", 3, id="workday on a Monday"),
])
def test_malformed_schedules_are_refused_with_the_line_number(text, line):
    with pytest.raises(ScheduleFormatError) as info:
        parse_schedule_csv(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")
    assert isinstance(info.value, CalendarError) and isinstance(info.value, ValueError)


def test_working_days_between_counts_like_a_period_across_national_day():
    from engine.workflow.working_days import SHANGHAI

    calendar = CALENDAR
    submitted = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    assert calendar.working_days_between(submitted, datetime(2026, 9, 30, 23, 0, tzinfo=SHANGHAI)) == 0
    # 10-01..10-07 are holidays; 10-08 (Thu), 10-09 (Fri), 10-10 (Saturday make-up workday).
    assert calendar.working_days_between(submitted, datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI)) == 1
    assert calendar.working_days_between(submitted, datetime(2026, 10, 11, 9, 0, tzinfo=SHANGHAI)) == 3
    assert calendar.working_days_between(submitted, datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)) == 4
    # Late at night UTC is already the next day in Shanghai.
    assert calendar.working_days_between(submitted, datetime(2026, 10, 7, 16, 30, tzinfo=UTC)) == 1
