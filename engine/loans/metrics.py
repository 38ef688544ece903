"""The supervisors' figures: today's numbers, each institution's record, weekly trends.

They come from the figures kept per institution and Beijing day as the ledger changes
(engine/loans/figures.py): a few hundred rows per institution and year, whatever the number of
applications; `scan=True` computes the same from the applications and the breach ledger (the
oracle of the tests and `flask figures check`). What depends on the clock (steps due today or
overdue, provisional deadlines) is counted from the task and timer projections through their
indexes. No workflow is loaded. Days and weeks are Asia/Shanghai (UTC+8 all year).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.metrics_sources import FIGURES, SCAN, Groups, Source, Totals, day_start, shanghai_day
from engine.loans.queries import filter_breaches
from engine.models import Institution, LoanApplication, SlaBreach, TaskRow, TimerRow
from engine.workflow.errors import NotFound
from engine.workflow.working_days import SHANGHAI

__all__ = ["shanghai_day", "board", "today", "institution_record", "institution_records", "weekly_trend",
           "median_from_histogram", "breach_export", "source"]


def source(scan: bool = False) -> Source:
    return SCAN if scan else FIGURES


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class OnTimeRates:
    """The on-time rates of steps taken, for anything that counts `accepted`, `decided` and how many on time."""

    accepted: int
    accepted_on_time: int
    decided: int
    decided_on_time: int

    @property
    def on_time_acceptance_rate(self) -> float | None:
        return _rate(self.accepted_on_time, self.accepted)

    @property
    def on_time_decision_rate(self) -> float | None:
        return _rate(self.decided_on_time, self.decided)


@dataclass(frozen=True)
class Today(OnTimeRates):
    """The headline numbers of the board, for the Shanghai date of `now`."""

    day: date
    open_applications: int
    due_today: int  # open tasks whose deadline is 24:00 today
    overdue: int  # open tasks past their deadline
    breaches_today: int
    open_breaches: int
    provisional_deadlines: int
    accepted: int
    accepted_on_time: int
    decided: int
    decided_on_time: int


def _late(groups: Groups, kind: str, institution_id: int | None = None) -> int:
    return sum(g.acted for g in groups.ledger if g.kind == kind and institution_id in (None, g.institution_id))


def today(session: Session, now: datetime, *, scan: bool = False, _groups: Groups | None = None) -> Today:
    """Today's numbers: open applications, steps due today (deadline 24:00 today) and overdue, breaches
    recorded today, and the platform's on-time rates of all steps taken so far."""
    day = now.astimezone(SHANGHAI).date()
    start, end = day_start(day), day_start(day + timedelta(days=1))
    groups = _groups or source(scan).groups(session)

    def count(query: sa.Select) -> int:
        return int(session.scalar(query) or 0)

    # Range counts on (state, due_at) and (provisional, state): index-only, never every open task.
    open_tasks = sa.select(sa.func.count()).select_from(TaskRow).where(TaskRow.state == "open")
    due_today = count(open_tasks.where(TaskRow.due_at > start, TaskRow.due_at <= end))
    overdue = count(open_tasks.where(TaskRow.due_at <= now))
    provisional = count(sa.select(sa.func.count()).select_from(TimerRow).where(
        TimerRow.provisional.is_(True), TimerRow.state == "waiting"))
    totals = groups.totals.values()
    accepted, decided = sum(t.accepted for t in totals), sum(t.decided for t in totals)
    return Today(day, sum(t.open for t in totals), due_today, overdue,
                 source(scan).breaches_recorded_on(session, day), sum(g.open for g in groups.ledger), provisional,
                 accepted, accepted - _late(groups, "accept"), decided, decided - _late(groups, "decision"))


@dataclass(frozen=True)
class InstitutionRecord(OnTimeRates):
    institution: Institution
    applications: int = 0
    accepted: int = 0
    accepted_on_time: int = 0
    decided: int = 0
    decided_on_time: int = 0
    approved: int = 0
    open_breaches: int = 0
    median_working_days_to_decision: float | None = None
    amount_approved: Decimal = Decimal("0.00")
    amount_disbursed: Decimal = Decimal("0.00")

    @property
    def approval_rate(self) -> float | None:
        return _rate(self.approved, self.decided)


def median_from_histogram(histogram: dict[int, int]) -> float | None:
    """The median of values given as {value: how many}."""
    total = sum(histogram.values())
    if not total:
        return None
    low_rank, high_rank = (total + 1) // 2, total // 2 + 1  # 1-based ranks of the middle value(s)
    low: int | None = None
    high: int | None = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if low is None and seen >= low_rank:
            low = value
        if seen >= high_rank:
            high = value
            break
    if low is None or high is None:
        raise ValueError(f"The histogram's counts do not add up to {total}")
    return (low + high) / 2


def institution_record(session: Session, institution_id: int, *, scan: bool = False) -> InstitutionRecord:
    """One institution's record (for its own staff), narrowed to it."""
    groups = source(scan).groups(session, institution_id)
    records = institution_records(session, _groups=groups, only=institution_id)
    if not records:
        raise NotFound(f"Institution {institution_id} doesn't exist.")
    return records[0]


def institution_records(session: Session, *, scan: bool = False, _groups: Groups | None = None,
                        only: int | None = None) -> list[InstitutionRecord]:
    """Every institution's record (or `only` one)."""
    groups = _groups or source(scan).groups(session)
    records = []
    institutions = sa.select(Institution).order_by(Institution.id)
    if only is not None:
        institutions = institutions.where(Institution.id == only)
    for institution in session.scalars(institutions):
        total = groups.totals.get(institution.id) or Totals()
        records.append(InstitutionRecord(
            institution, total.applications, total.accepted,
            total.accepted - _late(groups, "accept", institution.id), total.decided,
            total.decided - _late(groups, "decision", institution.id), total.approved,
            sum(g.open for g in groups.ledger if g.institution_id == institution.id),
            median_from_histogram(groups.histograms.get(institution.id, {})),
            total.amount_approved, total.amount_disbursed))
    return records


def board(session: Session, now: datetime, weeks: int = 12, *, scan: bool = False
          ) -> tuple[Today, list[InstitutionRecord], list[Week]]:
    """Everything the supervisors' board shows, sharing one read of the groups."""
    groups = source(scan).groups(session)
    return (today(session, now, scan=scan, _groups=groups), institution_records(session, _groups=groups),
            weekly_trend(session, now, weeks=weeks, scan=scan))


def status_counts(session: Session, institution_id: int | None = None) -> dict[str, int]:
    """How many applications are in each status (of one institution, or all), from the kept figures."""
    counts: dict[str, int] = {}
    for total in FIGURES.groups(session, institution_id).totals.values():
        for status, count in total.statuses.items():
            counts[status] = counts.get(status, 0) + count
    return counts


@dataclass
class Week:
    start: date  # Monday
    breaches: int = 0
    accepted: int = 0
    accepted_late: int = 0
    decided: int = 0
    decided_late: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def on_time_acceptance_rate(self) -> float | None:
        return _rate(self.accepted - self.accepted_late, self.accepted)

    @property
    def on_time_decision_rate(self) -> float | None:
        return _rate(self.decided - self.decided_late, self.decided)


def weekly_trend(session: Session, now: datetime, weeks: int = 12, institution_id: int | None = None, *,
                 scan: bool = False) -> list[Week]:
    """Breaches recorded and on-time rates of steps taken, per Shanghai week (Monday first), oldest first.

    A step taken late resolved its breach ("acted") at the very instant of the step: the late steps of
    a week are the breaches of that kind resolved that week.
    """
    today_ = now.astimezone(SHANGHAI).date()
    first_monday = today_ - timedelta(days=today_.weekday(), weeks=weeks - 1)
    result = [Week(first_monday + timedelta(weeks=i)) for i in range(weeks)]

    def week_of(day: date) -> Week:
        index = (day - first_monday).days // 7
        return result[index] if 0 <= index < weeks else Week(day)  # after today (a clock set back): not shown

    rows = source(scan).days(session, first_monday, institution_id)
    for day, accepted, decided in rows.steps:
        week = week_of(day)
        week.accepted += accepted
        week.decided += decided
    for day, kind, recorded, acted in rows.breaches:
        week = week_of(day)
        week.breaches += recorded
        week.by_kind[kind] = week.by_kind.get(kind, 0) + recorded
        if kind == "accept":
            week.accepted_late += acted
        elif kind == "decision":
            week.decided_late += acted
    return result


def breach_export(session: Session, *, institution_id: int | None = None, kind: str | None = None,
                  open_only: bool = False) -> sa.Result:
    """The breach ledger as plain rows for the CSV export, streamed from the database (no ORM objects)."""
    query = sa.select(
        LoanApplication.reference, Institution.name, SlaBreach.kind, SlaBreach.due_at, SlaBreach.breached_at,
        SlaBreach.provisional, SlaBreach.resolved_at, SlaBreach.late_working_days,
    ).join(LoanApplication, LoanApplication.id == SlaBreach.application_id).join(
        Institution, Institution.id == SlaBreach.institution_id)
    query = filter_breaches(query, institution_id=institution_id, kind=kind, open_only=open_only)
    return session.execute(query.order_by(SlaBreach.id), execution_options={"yield_per": 1000})
