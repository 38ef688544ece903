"""Each closed period's report, produced once and kept, and the supervisors told (outbox `report.produced`).

The scheduler calls `produce_closed_periods` every hour in every process; the `job_run` row lock
(engine.workflow.jobs) lets one of them run it per hour, and the unique (kind, start) of
`produced_report` makes a second production of a period a no-op whoever tries it, so a period
gets one report and one message, however many processes or runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.reports.figures import Report
from engine.loans.reports.periods import KINDS, Period, last_closed
from engine.loans.reports.queries import compute
from engine.loans.reports.targets import Targets
from engine.models import LoanApplication, ProducedReport, table_of
from engine.workflow.database import insert_ignoring_conflicts
from engine.workflow.jobs import run_once_per_period
from engine.workflow.journal import enqueue
from engine.workflow.runtime import Engine

TOPIC = "report.produced"
JOB_NAME = "period_reports"
JOB_PERIOD = timedelta(hours=1)
_TABLE = table_of(ProducedReport)


@dataclass(frozen=True)
class Produced:
    id: int
    period: Period


def produce(engine: Engine, period: Period, targets: Targets | None = None) -> Produced | None:
    """Produce and keep `period`'s report, measured against the plan's `targets` of now, and queue the
    supervisors' message; None if it exists already."""
    now = engine.clock.now()
    # Computed in a read (on SQLite a write transaction would hold every writer back meanwhile); the
    # unique period makes the insert a no-op if another process got there first. The targets are kept
    # with the figures: a later change of the settings does not rewrite a closed period's report.
    with engine.reading() as session:
        if _stored_id(session, period) is not None:
            return None
        report = compute(session, engine.calendars.get(session), period, now,
                         targets=targets.new_credit_by_year if targets is not None else None)
    if targets is not None:
        report.success_target_percent = targets.loan_success_percent
    with engine.transaction() as session:
        inserted = session.execute(insert_ignoring_conflicts(session, _TABLE, _TABLE.c.id), {
            "period_kind": period.kind, "period_start": period.start, "produced_at": now,
            "content": report.as_data()}).first()
        if inserted is None:
            return None  # another process produced it meanwhile
        enqueue(session, now, TOPIC, {"report_id": inserted[0], "period_kind": period.kind, "period": period.key})
        return Produced(inserted[0], period)


CATCH_UP_PERIODS = 24  # at most this many missed periods of a kind produced in one run


def produce_closed_periods(engine: Engine, catch_up: int = CATCH_UP_PERIODS,
                           targets: Targets | None = None) -> list[Produced]:
    """Produce every closed period that has no report yet, oldest first: the latest month, quarter,
    half-year and year, and those that closed while no process ran (back to the last one produced or the
    platform's first application, at most `catch_up` of a kind)."""
    now = engine.clock.now()
    with engine.reading() as session:
        first = session.scalar(sa.select(sa.func.min(LoanApplication.submitted_at)))
        kept = {(kind, start) for kind, start in session.execute(
            sa.select(ProducedReport.period_kind, ProducedReport.period_start))}
    first = first.replace(tzinfo=UTC) if first is not None and first.tzinfo is None else first
    produced: list[Produced | None] = []
    for kind in KINDS:
        missing: list[Period] = []
        period = last_closed(kind, now)
        while len(missing) < catch_up and (kind, period.start) not in kept:
            missing.append(period)
            if first is None or period.starts_at <= first:
                break
            period = period.previous()
        produced.extend(produce(engine, period, targets) for period in reversed(missing))
    return [item for item in produced if item is not None]


def scheduled_job(engine: Engine, targets: Targets | None = None) -> list[Produced] | None:
    """The scheduler's hourly call: once per hour across processes (None: another process ran it)."""
    return run_once_per_period(engine, JOB_NAME, JOB_PERIOD, lambda: produce_closed_periods(engine, targets=targets))


def _stored_id(session: Session, period: Period) -> int | None:
    return session.scalar(sa.select(ProducedReport.id).where(
        ProducedReport.period_kind == period.kind, ProducedReport.period_start == period.start))


@dataclass(frozen=True)
class Listed:
    id: int
    period: Period
    produced_at: datetime


def listed(session: Session, limit: int = 60) -> list[Listed]:
    """The reports produced so far, newest period first (without their content)."""
    rows = session.execute(sa.select(ProducedReport.id, ProducedReport.period_kind, ProducedReport.period_start,
                                     ProducedReport.produced_at)
                           .order_by(ProducedReport.period_start.desc(), ProducedReport.id.desc()).limit(limit))
    return [Listed(id_, Period(kind, start), produced_at) for id_, kind, start, produced_at in rows]


def stored(session: Session, report_id: int) -> Report | None:
    """A produced report as it was kept; None if there is none."""
    row = session.get(ProducedReport, report_id)
    return Report.from_data(row.content) if row is not None else None


def stored_for(session: Session, kind: str, start: date) -> int | None:
    """The id of the report produced for a period, if any."""
    return _stored_id(session, Period(kind, start))
