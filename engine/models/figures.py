"""The supervisors' figures kept as the ledger changes (engine/loans/figures.py): per institution and
Beijing day, per institution and commitment, and the histogram of working days to decision.

Every column but the keys is an increment: a row says what changed on that day, and a total is the
sum of its rows. They are written in the transaction of the change itself, so they always agree
with the applications and the breach ledger (`flask figures check` compares them with a scan).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.db_types import Money
from engine.workflow.models.base import Base

# The application statuses counted per institution (engine/loans/statuses.py ALL_STATUSES).
STATUS_COLUMNS = ("submitted", "accepted", "approved", "rejected", "disbursed", "settled", "withdrawn")


def _count() -> Mapped[int]:
    return mapped_column(sa.Integer, default=0, server_default="0")


class DailyFigures(Base):
    """What happened to one institution's applications on one Beijing day.

    `submitted`, `accepted` and `decided` count the steps taken that day (by the step's own instant);
    `approved` and the amounts are dated by the decision and the disbursement; `status_<s>` is the
    change of the number of applications in status <s>, dated by the application's submission.
    """

    __tablename__ = "figures_day"

    institution_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    submitted: Mapped[int] = _count()
    accepted: Mapped[int] = _count()
    decided: Mapped[int] = _count()
    approved: Mapped[int] = _count()
    amount_approved: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default="0")
    amount_disbursed: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default="0")
    status_submitted: Mapped[int] = _count()
    status_accepted: Mapped[int] = _count()
    status_approved: Mapped[int] = _count()
    status_rejected: Mapped[int] = _count()
    status_disbursed: Mapped[int] = _count()
    status_settled: Mapped[int] = _count()
    status_withdrawn: Mapped[int] = _count()


class BreachFigures(Base):
    """One institution's breaches of one commitment on one Beijing day: recorded that day, resolved
    that day, and of those resolved by the bank acting late (`acted`: the week's late steps)."""

    __tablename__ = "figures_breach_day"
    __table_args__ = (sa.Index("ix_figures_breach_day_day", "day"),)

    institution_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    recorded: Mapped[int] = _count()
    resolved: Mapped[int] = _count()
    acted: Mapped[int] = _count()


class DecisionDays(Base):
    """How many of one institution's decisions took this many working days (the board's median)."""

    __tablename__ = "figures_decision_days"

    institution_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    working_days: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    decided: Mapped[int] = _count()


class ProcessFigures(Base):
    """How many instances of one process definition were started (the board's survey invitations)."""

    __tablename__ = "figures_process"

    definition_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    started: Mapped[int] = _count()
