"""Shared by the working-day tests: the chinese_calendar-backed calendar and Beijing-time helpers."""

from __future__ import annotations

from datetime import datetime

from engine.workflow.working_days import WorkingDayCalendar, chinese_calendar_rules

RULES, YEARS = chinese_calendar_rules()
CALENDAR = WorkingDayCalendar(RULES, YEARS)


def cst(text: str) -> datetime:
    """An instant written in Beijing time."""
    return datetime.fromisoformat(text + "+08:00")


def due(start: str, days: int, calendar: WorkingDayCalendar = CALENDAR) -> str:
    """The deadline, as a UTC ISO string, `days` working days after a Beijing-time start."""
    return calendar.add_working_days(cst(start), days).due.isoformat()
