"""The working-day calendar kept in the database: seeding, loading a year, a cached view."""

from __future__ import annotations

import time
from datetime import date
from threading import Lock

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.clock import Clock
from engine.workflow.models import CalendarDay, CalendarYear, table_of
from engine.workflow.working_days import DayRule, WorkingDayCalendar, chinese_calendar_rules


def seed_calendar(session: Session, clock: Clock, actor: str = "system") -> bool:
    """Fill an empty calendar from the chinese_calendar package; return whether it did."""
    if session.scalar(sa.select(sa.func.count()).select_from(CalendarYear)):
        return False
    rules, years = chinese_calendar_rules()
    now = clock.now()
    # Core inserts of plain rows (some 800 days): the ORM's unit of work took several times longer.
    connection = session.connection()
    if rules:
        connection.execute(sa.insert(table_of(CalendarDay)), [
            {"day": r.day, "kind": r.kind, "name": r.name} for r in rules])
    if years:
        connection.execute(sa.insert(table_of(CalendarYear)), [
            {"year": y, "source": "chinese_calendar", "loaded_at": now, "loaded_by": actor} for y in sorted(years)])
    return True


def store_official_year(
    session: Session, year: int, rules: list[DayRule], source: str, actor: str, clock: Clock
) -> None:
    """Replace one year's rules with its official schedule and mark the year official."""
    session.execute(
        sa.delete(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
    )
    session.add_all(CalendarDay(day=r.day, kind=r.kind, name=r.name) for r in rules)
    existing = session.get(CalendarYear, year)
    if existing is None:
        session.add(CalendarYear(year=year, source=source, loaded_at=clock.now(), loaded_by=actor))
    else:
        existing.source, existing.loaded_at, existing.loaded_by = source, clock.now(), actor
    session.flush()


# Prepared once: the check runs in every operation that computes a deadline.
_FINGERPRINT = sa.select(sa.func.count(), sa.func.max(CalendarYear.__table__.c.loaded_at)).select_from(
    CalendarYear.__table__)


# How long a checked calendar is used without asking the database again. A year loaded in this
# process is seen at once (`invalidate`); one loaded by another process within this many seconds.
RECHECK_SECONDS = 1.0


class CalendarProvider:
    """Builds the calendar from the database and reuses it until a year is loaded anywhere.

    Whether a year was loaded is checked at most once per `recheck_seconds` (a cheap count), not in
    every operation that computes a deadline.
    """

    def __init__(self, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self._calendar: WorkingDayCalendar | None = None
        self._fingerprint: tuple[object, ...] | None = None
        self._checked_at = float("-inf")
        self._invalidations = 0  # a check that began before an invalidation must not count as fresh
        self.recheck_seconds = recheck_seconds
        self._lock = Lock()

    def invalidate(self) -> None:
        """Check the database on the next use (a year was loaded here and committed)."""
        with self._lock:
            self._checked_at = float("-inf")
            self._invalidations += 1

    def get(self, session: Session) -> WorkingDayCalendar:
        calendar = self._calendar
        now = time.monotonic()
        if calendar is not None and now - self._checked_at < self.recheck_seconds:
            return calendar
        invalidations = self._invalidations
        # Cheap check that also sees loads made by other processes.
        fingerprint = tuple(session.connection().execute(_FINGERPRINT).one())
        with self._lock:
            if invalidations == self._invalidations:
                self._checked_at = now
        if calendar is None or fingerprint != self._fingerprint:
            rules = [DayRule(d.day, d.kind, d.name) for d in session.scalars(sa.select(CalendarDay))]
            years = session.scalars(sa.select(CalendarYear.year)).all()
            calendar = WorkingDayCalendar(rules, years)
            with self._lock:
                self._calendar, self._fingerprint = calendar, fingerprint
        return calendar
