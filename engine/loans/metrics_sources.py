"""Where the board's figures come from: the figures kept as the ledger changes (engine/loans/figures.py),
or a scan of the applications and the breach ledger (the oracle: tests and `flask figures check`).

Both give the same plain data, so engine/loans/metrics.py builds the board the same way from either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.statuses import OPEN_STATUSES
from engine.models import LoanApplication, SlaBreach
from engine.models.figures import STATUS_COLUMNS, BreachFigures, DailyFigures, DecisionDays
from engine.workflow.working_days import SHANGHAI


@dataclass
class Totals:
    """One institution's applications: how many, in which status, the steps taken, the amounts."""

    applications: int = 0
    accepted: int = 0
    decided: int = 0
    approved: int = 0
    amount_approved: Decimal = Decimal("0.00")
    amount_disbursed: Decimal = Decimal("0.00")
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def open(self) -> int:
        return sum(self.statuses.get(status, 0) for status in OPEN_STATUSES)


@dataclass(frozen=True)
class BreachGroup:
    """One institution's breaches of one commitment: recorded, still open, resolved by a late step."""

    institution_id: int
    kind: str
    recorded: int
    open: int
    acted: int


@dataclass
class Groups:
    totals: dict[int, Totals]
    histograms: dict[int, dict[int, int]]  # institution -> {working days to decision: decisions}
    ledger: list[BreachGroup]


@dataclass
class DayRows:
    """Per Beijing day since a Monday: steps taken (day, accepted, decided) and breaches (day, kind,
    recorded that day, resolved by a late step that day)."""

    steps: list[tuple[date, int, int]]
    breaches: list[tuple[date, str, int, int]]


class Source(Protocol):
    def groups(self, session: Session, institution_id: int | None = None) -> Groups: ...

    def days(self, session: Session, since: date, institution_id: int | None = None) -> DayRows: ...

    def breaches_recorded_on(self, session: Session, day: date) -> int: ...


def _as_date(day: date | str) -> date:
    return date.fromisoformat(day) if isinstance(day, str) else day


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def shanghai_day(session: Session, column: sa.SQLColumnExpression[Any]) -> sa.ColumnElement:
    """The Shanghai calendar date of a naive-UTC timestamp column, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date(column + sa.text("interval '8 hours'"))
    return sa.func.date(column, "+8 hours")


class Figures:
    """The kept figures: a few hundred rows per institution and year, whatever the applications."""

    def groups(self, session: Session, institution_id: int | None = None) -> Groups:
        day, breach, hist = DailyFigures, BreachFigures, DecisionDays
        statuses = [getattr(day, f"status_{s}") for s in STATUS_COLUMNS]
        query = sa.select(day.institution_id, sa.func.sum(day.submitted), sa.func.sum(day.accepted),
                          sa.func.sum(day.decided), sa.func.sum(day.approved), sa.func.sum(day.amount_approved),
                          sa.func.sum(day.amount_disbursed), *(sa.func.sum(c) for c in statuses)
                          ).group_by(day.institution_id)
        ledger = sa.select(breach.institution_id, breach.kind, sa.func.sum(breach.recorded),
                           sa.func.sum(breach.recorded) - sa.func.sum(breach.resolved), sa.func.sum(breach.acted)
                           ).group_by(breach.institution_id, breach.kind)
        histogram = sa.select(hist.institution_id, hist.working_days, hist.decided).where(hist.decided != 0)
        if institution_id is not None:
            query = query.where(day.institution_id == institution_id)
            ledger = ledger.where(breach.institution_id == institution_id)
            histogram = histogram.where(hist.institution_id == institution_id)
        totals = {}
        for row in session.execute(query):
            totals[row[0]] = Totals(int(row[1]), int(row[2]), int(row[3]), int(row[4]), Decimal(row[5] or 0),
                                    Decimal(row[6] or 0), dict(zip(STATUS_COLUMNS, map(int, row[7:]), strict=True)))
        histograms: dict[int, dict[int, int]] = defaultdict(dict)
        for institution, working_days, decided in session.execute(histogram):
            histograms[institution][working_days] = decided
        return Groups(totals, dict(histograms), [BreachGroup(i, k, int(r), int(o), int(a))
                                                 for i, k, r, o, a in session.execute(ledger)])

    def days(self, session: Session, since: date, institution_id: int | None = None) -> DayRows:
        day, breach = DailyFigures, BreachFigures
        steps = sa.select(day.day, sa.func.sum(day.accepted), sa.func.sum(day.decided)).where(
            day.day >= since).group_by(day.day)
        breaches = sa.select(breach.day, breach.kind, sa.func.sum(breach.recorded), sa.func.sum(breach.acted)).where(
            breach.day >= since).group_by(breach.day, breach.kind)
        if institution_id is not None:
            steps = steps.where(day.institution_id == institution_id)
            breaches = breaches.where(breach.institution_id == institution_id)
        return DayRows([(_as_date(d), int(a), int(c)) for d, a, c in session.execute(steps)],
                       [(_as_date(d), k, int(r), int(a)) for d, k, r, a in session.execute(breaches)])

    def breaches_recorded_on(self, session: Session, day: date) -> int:
        return int(session.scalar(sa.select(sa.func.sum(BreachFigures.recorded)).where(BreachFigures.day == day))
                   or 0)


class Scan:
    """The same from the applications and the ledger themselves (grouped passes over every row)."""

    def groups(self, session: Session, institution_id: int | None = None) -> Groups:
        app = LoanApplication
        query = sa.select(app.institution_id, app.decision_working_days, app.status, sa.func.count(),
                          sa.func.count(app.accepted_at), sa.func.count(app.decided_at),
                          sa.func.count(app.approved_amount), sa.func.sum(app.approved_amount),
                          sa.func.sum(app.disbursed_amount)).group_by(
            app.institution_id, app.decision_working_days, app.status)
        breach = SlaBreach
        ledger = sa.select(breach.institution_id, breach.kind, sa.func.count(),
                           sa.func.count(sa.case((breach.resolved_at.is_(None), 1))),
                           sa.func.count(sa.case((breach.resolution == "acted", 1)))).group_by(
            breach.institution_id, breach.kind)
        if institution_id is not None:
            query = query.where(app.institution_id == institution_id)
            ledger = ledger.where(breach.institution_id == institution_id)
        totals: dict[int, Totals] = defaultdict(Totals)
        histograms: dict[int, dict[int, int]] = defaultdict(dict)
        for inst, working_days, status, count, accepted, decided, approved, amount, disbursed in session.execute(query):
            total = totals[inst]
            total.applications += count
            total.accepted, total.decided, total.approved = (total.accepted + accepted, total.decided + decided,
                                                             total.approved + approved)
            total.amount_approved += Decimal(amount or 0)
            total.amount_disbursed += Decimal(disbursed or 0)
            total.statuses[status] = total.statuses.get(status, 0) + count
            if working_days is not None and decided:
                histograms[inst][working_days] = histograms[inst].get(working_days, 0) + decided
        return Groups(dict(totals), dict(histograms), [BreachGroup(*row) for row in session.execute(ledger)])

    def days(self, session: Session, since: date, institution_id: int | None = None) -> DayRows:
        app, breach = LoanApplication, SlaBreach
        start = day_start(since)

        def scoped(query: sa.Select, column: Any) -> sa.Select:
            return query.where(column == institution_id) if institution_id is not None else query

        steps: dict[date, list[int]] = defaultdict(lambda: [0, 0])
        for index, column in enumerate((app.accepted_at, app.decided_at)):
            day = shanghai_day(session, column)
            for d, count in session.execute(scoped(sa.select(day, sa.func.count()).where(column >= start).group_by(
                    day), app.institution_id)):
                steps[_as_date(d)][index] += count
        breaches: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
        breached = shanghai_day(session, breach.breached_at)
        for d, kind, count in session.execute(scoped(sa.select(breached, breach.kind, sa.func.count()).where(
                breach.breached_at >= start).group_by(breached, breach.kind), breach.institution_id)):
            breaches[(_as_date(d), kind)][0] += count
        resolved = shanghai_day(session, breach.resolved_at)
        for d, kind, count in session.execute(scoped(sa.select(resolved, breach.kind, sa.func.count()).where(
                breach.resolution == "acted", breach.resolved_at >= start).group_by(resolved, breach.kind),
                breach.institution_id)):
            breaches[(_as_date(d), kind)][1] += count
        return DayRows([(d, a, c) for d, (a, c) in steps.items()],
                       [(d, k, r, a) for (d, k), (r, a) in breaches.items()])

    def breaches_recorded_on(self, session: Session, day: date) -> int:
        return int(session.scalar(sa.select(sa.func.count()).select_from(SlaBreach).where(
            SlaBreach.breached_at >= day_start(day), SlaBreach.breached_at < day_start(day + timedelta(days=1))))
                   or 0)


FIGURES, SCAN = Figures(), Scan()
