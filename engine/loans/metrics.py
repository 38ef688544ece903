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

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.statuses import OPEN_STATUSES
from engine.models import Institution, LoanApplication, SlaBreach, TaskRow, TimerRow
from engine.working_days import SHANGHAI

SHANGHAI_OFFSET = timedelta(hours=8)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


@dataclass(frozen=True)
class Today:
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

    @property
    def on_time_acceptance_rate(self) -> float | None:
        return _rate(self.accepted_on_time, self.accepted)

    @property
    def on_time_decision_rate(self) -> float | None:
        return _rate(self.decided_on_time, self.decided)


def _late_steps(session: Session, institution_id: int | None = None) -> dict[tuple[int, str], int]:
    """Steps taken after their deadline, per (institution, kind), from the ledger."""
    query = sa.select(SlaBreach.institution_id, SlaBreach.kind, sa.func.count()).where(
        SlaBreach.resolution == "acted").group_by(SlaBreach.institution_id, SlaBreach.kind)
    if institution_id is not None:
        query = query.where(SlaBreach.institution_id == institution_id)
    return {(institution, kind): count for institution, kind, count in session.execute(query)}


def today(session: Session, now: datetime) -> Today:
    day = now.astimezone(SHANGHAI).date()
    start, end = _day_start(day), _day_start(day + timedelta(days=1))
    app = LoanApplication
    open_apps, accepted, decided = session.execute(sa.select(
        sa.func.count(sa.case((app.status.in_(OPEN_STATUSES), 1))),
        sa.func.count(app.accepted_at), sa.func.count(app.decided_at))).one()
    due_today, overdue = session.execute(sa.select(
        sa.func.count(sa.case(((TaskRow.due_at > start) & (TaskRow.due_at <= end), 1))),
        sa.func.count(sa.case((TaskRow.due_at <= now, 1))),
    ).where(TaskRow.state == "open")).one()
    breaches_today, open_breaches = session.execute(sa.select(
        sa.func.count(sa.case(((SlaBreach.breached_at >= start) & (SlaBreach.breached_at < end), 1))),
        sa.func.count(sa.case((SlaBreach.resolved_at.is_(None), 1))),
    )).one()
    provisional = session.scalar(sa.select(sa.func.count()).select_from(TimerRow).where(
        TimerRow.state == "waiting", TimerRow.provisional.is_(True))) or 0
    late = _late_steps(session)
    late_accepts = sum(count for (_i, kind), count in late.items() if kind == "accept")
    late_decisions = sum(count for (_i, kind), count in late.items() if kind == "decision")
    return Today(day, open_apps, due_today, overdue, breaches_today, open_breaches, provisional,
                 accepted, accepted - late_accepts, decided, decided - late_decisions)


@dataclass(frozen=True)
class InstitutionRecord:
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
    def on_time_acceptance_rate(self) -> float | None:
        return _rate(self.accepted_on_time, self.accepted)

    @property
    def on_time_decision_rate(self) -> float | None:
        return _rate(self.decided_on_time, self.decided)

    @property
    def approval_rate(self) -> float | None:
        return _rate(self.approved, self.decided)


def median_from_histogram(histogram: dict[int, int]) -> float | None:
    """The median of values given as {value: how many}."""
    total = sum(histogram.values())
    if not total:
        return None
    low_rank, high_rank = (total + 1) // 2, total // 2 + 1  # 1-based ranks of the middle value(s)
    low = high = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if low is None and seen >= low_rank:
            low = value
        if seen >= high_rank:
            high = value
            break
    return (low + high) / 2


def institution_records(session: Session) -> list[InstitutionRecord]:
    """Every institution's record, in five grouped queries."""
    app = LoanApplication
    counts = {row[0]: row[1:] for row in session.execute(sa.select(
        app.institution_id, sa.func.count(), sa.func.count(app.accepted_at), sa.func.count(app.decided_at),
        sa.func.count(app.approved_amount),
        sa.func.coalesce(sa.func.sum(app.approved_amount), 0),
        sa.func.coalesce(sa.func.sum(app.disbursed_amount), 0),
    ).group_by(app.institution_id))}
    late = _late_steps(session)
    open_breaches = dict(session.execute(sa.select(SlaBreach.institution_id, sa.func.count()).where(
        SlaBreach.resolved_at.is_(None)).group_by(SlaBreach.institution_id)).all())
    # The median from a histogram of whole working days: a handful of rows per institution, any database.
    histograms: dict[int, dict[int, int]] = defaultdict(dict)
    for institution_id, days, count in session.execute(sa.select(
            app.institution_id, app.decision_working_days, sa.func.count()).where(
            app.decision_working_days.is_not(None)).group_by(app.institution_id, app.decision_working_days)):
        histograms[institution_id][days] = count
    records = []
    for institution in session.scalars(sa.select(Institution).order_by(Institution.id)):
        total, accepted, decided, approved, sum_approved, sum_disbursed = counts.get(
            institution.id, (0, 0, 0, 0, Decimal("0.00"), Decimal("0.00")))
        records.append(InstitutionRecord(
            institution, total, accepted, accepted - late.get((institution.id, "accept"), 0),
            decided, decided - late.get((institution.id, "decision"), 0), approved,
            open_breaches.get(institution.id, 0), median_from_histogram(histograms.get(institution.id, {})),
            Decimal(sum_approved), Decimal(sum_disbursed)))
    return records


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


def _shanghai_day(session: Session, column: sa.ColumnElement) -> sa.ColumnElement:
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
        return result[(day - first_monday).days // 7]

    def scoped(query: sa.Select, column: sa.ColumnElement) -> sa.Select:
        return query.where(column == institution_id) if institution_id is not None else query

    breached_day = _shanghai_day(session, SlaBreach.breached_at)
    for day, count in session.execute(scoped(sa.select(breached_day, sa.func.count()).where(
            SlaBreach.breached_at >= since).group_by(breached_day), SlaBreach.institution_id)):
        week_of(day).breaches += count

    app = LoanApplication
    for step, column in (("accept", app.accepted_at), ("decision", app.decided_at)):
        late = sa.exists().where(SlaBreach.application_id == app.id, SlaBreach.kind == step,
                                 SlaBreach.resolution == "acted")
        day_column = _shanghai_day(session, column)
        query = sa.select(day_column, sa.func.count(), sa.func.count(sa.case((late, 1)))).where(
            column >= since).group_by(day_column)
        for day, count, late_count in session.execute(scoped(query, app.institution_id)):
            week = week_of(day)
            if step == "accept":
                week.accepted, week.accepted_late = week.accepted + count, week.accepted_late + late_count
            else:
                week.decided, week.decided_late = week.decided + count, week.decided_late + late_count
    return result
