"""Helpers shared by the server-rendered pages: role checks, form errors, deadline countdowns."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from engine.workflow.working_days import WorkingDayCalendar


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Signed in with one of `roles`; anyone else is told the page does not exist."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorator


@dataclass(frozen=True)
class Countdown:
    """What is left before a deadline, for display: text and a colour class."""

    text: str
    level: str  # breached | red | amber | green | none


def countdown(calendar: WorkingDayCalendar, now: datetime, due: datetime | None, provisional: bool) -> Countdown:
    if due is None:
        return Countdown("", "none")
    days = calendar.working_days_left(now, due) if due > now else None
    left = countdown_of(now, due, days)
    if provisional:
        return Countdown(left.text + " " + _("(provisional)"), left.level)
    return left


def countdown_of(now: datetime, due: datetime, days: int | None) -> Countdown:
    """What is left before `due` given the working days left (negative: working days late)."""
    if due <= now:
        if days is not None and days < 0:
            return Countdown(ngettext("late by %(num)d working day", "late by %(num)d working days", -days),
                             "breached")
        return Countdown(_("Overdue"), "breached")
    days = days or 0
    hours = int((due - now).total_seconds() // 3600)
    text = (_("%(hours)d h left", hours=hours) if days == 0
            else ngettext("%(num)d working day left", "%(num)d working days left", days))
    return Countdown(text, "red" if days == 0 else "amber" if days <= 1 else "green")


def engine() -> Any:
    return current_app.extensions["engine"]


TREND_WEEKS = 12


def weekly_chart(trend: list) -> dict[str, list]:
    """The weekly figures as the charts' JSON (rates in percent, None where nothing was decided)."""
    def percent(rate: float | None) -> float | None:
        return round(rate * 100, 1) if rate is not None else None

    return {
        "weeks": [week.start.isoformat() for week in trend],
        "breaches": [week.breaches for week in trend],
        "acceptance": [percent(week.on_time_acceptance_rate) for week in trend],
        "decision": [percent(week.on_time_decision_rate) for week in trend],
    }
