"""The figures computed again from the applications and the breach ledger, set-based (a few grouped
INSERT ... SELECTs): migration 0021's backfill, and after a bulk load (bench/pages.py, bench/scale.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.models import LoanApplication, ProcessInstance, SlaBreach
from engine.models.figures import STATUS_COLUMNS, BreachFigures, DailyFigures, DecisionDays, ProcessFigures


def _day(bind: sa.Connection, column: Any) -> sa.ColumnElement:
    """The Beijing date of a naive-UTC timestamp, computed by the database."""
    if bind.dialect.name == "postgresql":
        return sa.cast(column + sa.text("interval '8 hours'"), sa.Date)
    return sa.func.date(column, "+8 hours")


def _raw(column: Any) -> sa.ColumnElement:
    """A column as stored (money as integer fen), not through its Python type."""
    return sa.type_coerce(column, sa.BigInteger)


def rebuild(bind: sa.Connection) -> None:
    """Replace the figures with what the tables say now (run in the caller's transaction)."""
    for table in (DailyFigures, BreachFigures, DecisionDays, ProcessFigures):
        bind.execute(sa.delete(table))
    app = LoanApplication.__table__.c
    counters = ("submitted", "accepted", "decided", "approved", "amount_approved", "amount_disbursed",
                *(f"status_{s}" for s in STATUS_COLUMNS))

    def part(day_of: Any, where: Any, **values: Any) -> sa.Select:
        columns = [values.get(name, sa.literal(0)).label(name) for name in counters]
        return sa.select(app.institution_id.label("institution_id"), _day(bind, day_of).label("day"),
                         *columns).where(where)

    one = sa.literal(1)
    statuses = {f"status_{s}": sa.case((app.status == s, 1), else_=0) for s in STATUS_COLUMNS}
    decided_day = sa.func.coalesce(app.decided_at, app.submitted_at)
    parts = sa.union_all(
        part(app.submitted_at, sa.true(), submitted=one, **statuses),
        part(app.accepted_at, app.accepted_at.is_not(None), accepted=one),
        part(app.decided_at, app.decided_at.is_not(None), decided=one),
        part(decided_day, app.approved_amount.is_not(None), approved=one, amount_approved=_raw(app.approved_amount)),
        part(sa.func.coalesce(app.disbursed_at, decided_day), app.disbursed_amount.is_not(None),
             amount_disbursed=_raw(app.disbursed_amount)),
    ).subquery()
    grouped = sa.select(parts.c.institution_id, parts.c.day, *(sa.func.sum(parts.c[n]) for n in counters)).group_by(
        parts.c.institution_id, parts.c.day)
    bind.execute(sa.insert(DailyFigures).from_select(["institution_id", "day", *counters], grouped))

    bind.execute(sa.insert(DecisionDays).from_select(["institution_id", "working_days", "decided"], sa.select(
        app.institution_id, app.decision_working_days, sa.func.count()).where(
        app.decided_at.is_not(None), app.decision_working_days.is_not(None)).group_by(
        app.institution_id, app.decision_working_days)))

    instance = ProcessInstance.__table__.c
    bind.execute(sa.insert(ProcessFigures).from_select(["definition_id", "started"], sa.select(
        instance.definition_id, sa.func.count()).group_by(instance.definition_id)))

    breach = SlaBreach.__table__.c
    acted = sa.case((breach.resolution == "acted", 1), else_=0)
    recorded = sa.select(breach.institution_id.label("institution_id"), _day(bind, breach.breached_at).label("day"),
                         breach.kind.label("kind"), sa.literal(1).label("recorded"), sa.literal(0).label("resolved"),
                         sa.literal(0).label("acted"))
    resolved = sa.select(breach.institution_id, _day(bind, breach.resolved_at), breach.kind, sa.literal(0),
                         sa.literal(1), acted).where(breach.resolved_at.is_not(None))
    both = sa.union_all(recorded, resolved).subquery()
    bind.execute(sa.insert(BreachFigures).from_select(
        ["institution_id", "day", "kind", "recorded", "resolved", "acted"],
        sa.select(both.c.institution_id, both.c.day, both.c.kind, sa.func.sum(both.c.recorded),
                  sa.func.sum(both.c.resolved), sa.func.sum(both.c.acted)).group_by(
            both.c.institution_id, both.c.day, both.c.kind)))
