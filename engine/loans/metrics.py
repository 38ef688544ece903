"""The supervisors' figures: today's numbers, each institution's record, weekly trends.

Everything comes from the projections (applications, task rows) and the breach ledger in a
constant number of grouped queries, whatever the number of institutions or applications;
no workflow is loaded. Days and weeks are Asia/Shanghai (UTC+8 all year, no daylight saving).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.queries import filter_breaches
from engine.loans.statuses import OPEN_STATUSES
from engine.models import Institution, LoanApplication, SlaBreach, TaskRow, TimerRow
from engine.workflow.errors import NotFound
from engine.workflow.working_days import SHANGHAI

SHANGHAI_OFFSET = timedelta(hours=8)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


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


@dataclass(frozen=True)
class _ApplicationGroup:
    """Applications of one institution with one number of working days to decision (None: undecided)."""

    institution_id: int
    decision_working_days: int | None
    applications: int
    open: int
    accepted: int
    decided: int
    approved: int
    amount_approved: Decimal
    amount_disbursed: Decimal


def _application_groups(session: Session, institution_id: int | None = None) -> list[_ApplicationGroup]:
    """One grouped pass over the applications (a covering-index scan, ix_application_figures).

    Grouping by working days to decision as well gives each institution's histogram for the
    median in the same pass: a few dozen rows per institution, whatever the number of applications.
    """
    app = LoanApplication
    query = sa.select(
        app.institution_id, app.decision_working_days, sa.func.count(),
        sa.func.count(sa.case((app.status.in_(OPEN_STATUSES), 1))),
        sa.func.count(app.accepted_at), sa.func.count(app.decided_at), sa.func.count(app.approved_amount),
        sa.func.coalesce(sa.func.sum(app.approved_amount), 0), sa.func.coalesce(sa.func.sum(app.disbursed_amount), 0),
    ).group_by(app.institution_id, app.decision_working_days)
    if institution_id is not None:
        query = query.where(app.institution_id == institution_id)
    return [_ApplicationGroup(*row[:7], _summed(row[7]), _summed(row[8])) for row in session.execute(query)]


def _summed(total: Decimal | None) -> Decimal:
    """A money SUM the query coalesced to 0 (SQLAlchemy types COALESCE like its first argument)."""
    if total is None:
        raise ValueError("COALESCE(SUM(...), 0) gave NULL")
    return Decimal(total)


@dataclass(frozen=True)
class _BreachGroup:
    institution_id: int
    kind: str
    resolution: str | None
    count: int


def _breach_groups(session: Session, institution_id: int | None = None) -> list[_BreachGroup]:
    """The ledger per institution, kind and resolution (None: still open), in one grouped query."""
    query = sa.select(SlaBreach.institution_id, SlaBreach.kind, SlaBreach.resolution, sa.func.count()).group_by(
        SlaBreach.institution_id, SlaBreach.kind, SlaBreach.resolution)
    if institution_id is not None:
        query = query.where(SlaBreach.institution_id == institution_id)
    return [_BreachGroup(*row) for row in session.execute(query)]


_Groups = tuple[list[_ApplicationGroup], list[_BreachGroup]]


def today(session: Session, now: datetime, *, _groups: _Groups | None = None) -> Today:
    """Today's numbers: open applications, steps due today (deadline 24:00 today) and overdue, breaches
    recorded today, and the platform's on-time rates of all steps taken so far."""
    day = now.astimezone(SHANGHAI).date()
    start, end = _day_start(day), _day_start(day + timedelta(days=1))
    applications, ledger = _groups or (_application_groups(session), _breach_groups(session))
    due_today, overdue = session.execute(sa.select(
        sa.func.count(sa.case(((TaskRow.due_at > start) & (TaskRow.due_at <= end), 1))),
        sa.func.count(sa.case((TaskRow.due_at <= now, 1))),
    ).where(TaskRow.state == "open")).one()
    breaches_today = session.scalar(sa.select(sa.func.count()).select_from(SlaBreach).where(
        SlaBreach.breached_at >= start, SlaBreach.breached_at < end)) or 0
    provisional = session.scalar(sa.select(sa.func.count()).select_from(TimerRow).where(
        TimerRow.state == "waiting", TimerRow.provisional.is_(True))) or 0
    accepted = sum(group.accepted for group in applications)
    decided = sum(group.decided for group in applications)
    late_accepts = sum(g.count for g in ledger if g.kind == "accept" and g.resolution == "acted")
    late_decisions = sum(g.count for g in ledger if g.kind == "decision" and g.resolution == "acted")
    return Today(day, sum(group.open for group in applications), due_today, overdue, breaches_today,
                 sum(g.count for g in ledger if g.resolution is None), provisional,
                 accepted, accepted - late_accepts, decided, decided - late_decisions)


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


def institution_record(session: Session, institution_id: int) -> InstitutionRecord:
    """One institution's record (for its own staff), from the same two grouped queries, narrowed."""
    groups = (_application_groups(session, institution_id), _breach_groups(session, institution_id))
    records = institution_records(session, _groups=groups, only=institution_id)
    if not records:
        raise NotFound(f"Institution {institution_id} doesn't exist.")
    return records[0]


def institution_records(session: Session, *, _groups: _Groups | None = None,
                        only: int | None = None) -> list[InstitutionRecord]:
    """Every institution's record (or `only` one), from two grouped queries plus the institutions."""
    applications, ledger = _groups or (_application_groups(session), _breach_groups(session))
    totals: dict[int, list] = defaultdict(lambda: [0, 0, 0, 0, Decimal("0.00"), Decimal("0.00")])
    histograms: dict[int, dict[int, int]] = defaultdict(dict)
    for group in applications:
        total = totals[group.institution_id]
        for index, value in enumerate((group.applications, group.accepted, group.decided, group.approved,
                                       group.amount_approved, group.amount_disbursed)):
            total[index] += value
        if group.decision_working_days is not None:
            histograms[group.institution_id][group.decision_working_days] = group.decided
    late: dict[tuple[int, str], int] = defaultdict(int)
    open_breaches: dict[int, int] = defaultdict(int)
    for breach in ledger:
        if breach.resolution == "acted":
            late[(breach.institution_id, breach.kind)] += breach.count
        elif breach.resolution is None:
            open_breaches[breach.institution_id] += breach.count
    records = []
    institutions = sa.select(Institution).order_by(Institution.id)
    if only is not None:
        institutions = institutions.where(Institution.id == only)
    for institution in session.scalars(institutions):
        total, accepted, decided, approved, amount_approved, amount_disbursed = totals[institution.id]
        records.append(InstitutionRecord(
            institution, total, accepted, accepted - late[(institution.id, "accept")],
            decided, decided - late[(institution.id, "decision")], approved, open_breaches[institution.id],
            median_from_histogram(histograms.get(institution.id, {})), amount_approved, amount_disbursed))
    return records


def board(session: Session, now: datetime, weeks: int = 12) -> tuple[Today, list[InstitutionRecord], list[Week]]:
    """Everything the supervisors' board shows, sharing the two grouped passes."""
    groups = (_application_groups(session), _breach_groups(session))
    return (today(session, now, _groups=groups), institution_records(session, _groups=groups),
            weekly_trend(session, now, weeks=weeks))


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


def shanghai_day(session: Session, column: sa.SQLColumnExpression[Any]) -> sa.ColumnElement:
    """The Shanghai calendar date of a naive-UTC timestamp column, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date(column + sa.text("interval '8 hours'"))
    return sa.func.date(column, "+8 hours")


def weekly_trend(session: Session, now: datetime, weeks: int = 12, institution_id: int | None = None) -> list[Week]:
    """Breaches recorded and on-time rates of steps taken, per Shanghai week (Monday first), oldest first."""
    today_ = now.astimezone(SHANGHAI).date()
    first_monday = today_ - timedelta(days=today_.weekday(), weeks=weeks - 1)
    since = _day_start(first_monday)
    result = [Week(first_monday + timedelta(weeks=i)) for i in range(weeks)]

    def week_of(day: date | str) -> Week:
        day = date.fromisoformat(day) if isinstance(day, str) else day
        index = (day - first_monday).days // 7
        return result[index] if 0 <= index < weeks else Week(day)  # after today (a clock set back): not shown

    def scoped(query: sa.Select, column: sa.SQLColumnExpression[Any]) -> sa.Select:
        return query.where(column == institution_id) if institution_id is not None else query

    breached_day = shanghai_day(session, SlaBreach.breached_at)
    for day, count in session.execute(scoped(sa.select(breached_day, sa.func.count()).where(
            SlaBreach.breached_at >= since).group_by(breached_day), SlaBreach.institution_id)):
        week_of(day).breaches += count

    # A step taken late resolved its breach ("acted") at the very instant of the step: the late steps
    # of a week are the breaches of that kind resolved that week, so no per-application lookup is needed.
    resolved_day = shanghai_day(session, SlaBreach.resolved_at)
    late_query = sa.select(SlaBreach.kind, resolved_day, sa.func.count()).where(
        SlaBreach.resolution == "acted", SlaBreach.resolved_at >= since).group_by(SlaBreach.kind, resolved_day)
    for kind, day, count in session.execute(scoped(late_query, SlaBreach.institution_id)):
        week = week_of(day)
        if kind == "accept":
            week.accepted_late += count
        else:
            week.decided_late += count
    app = LoanApplication
    for step, column in (("accept", app.accepted_at), ("decision", app.decided_at)):
        day_column = shanghai_day(session, column)
        query = sa.select(day_column, sa.func.count()).where(column >= since).group_by(day_column)
        for day, count in session.execute(scoped(query, app.institution_id)):
            week = week_of(day)
            if step == "accept":
                week.accepted += count
            else:
                week.decided += count
    return result


def breach_export(session: Session, *, institution_id: int | None = None, kind: str | None = None,
                  open_only: bool = False) -> sa.Result:
    """The breach ledger as plain rows for the CSV export (no ORM objects: tens of thousands of rows)."""
    query = sa.select(
        LoanApplication.reference, Institution.name, SlaBreach.kind, SlaBreach.due_at, SlaBreach.breached_at,
        SlaBreach.provisional, SlaBreach.resolved_at, SlaBreach.late_working_days,
    ).join(LoanApplication, LoanApplication.id == SlaBreach.application_id).join(
        Institution, Institution.id == SlaBreach.institution_id)
    query = filter_breaches(query, institution_id=institution_id, kind=kind, open_only=open_only)
    return session.execute(query.order_by(SlaBreach.id))
