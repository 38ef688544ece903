"""Read-only figures from the projections and the ledger (never from workflow state)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.statuses import OPEN_STATUSES
from engine.models import LoanApplication, SlaBreach, TaskRow, TimerRow


@dataclass(frozen=True)
class PlatformSummary:
    open_applications: int
    open_tasks: int
    waiting_timers: int
    open_breaches: int
    provisional_deadlines: int


def platform_summary(session: Session) -> PlatformSummary:
    """Today's headline numbers for the landing page."""
    def count(query: sa.Select) -> int:
        return int(session.scalar(query) or 0)

    return PlatformSummary(
        open_applications=count(sa.select(sa.func.count()).select_from(LoanApplication)
                                .where(LoanApplication.status.in_(OPEN_STATUSES))),
        open_tasks=count(sa.select(sa.func.count()).select_from(TaskRow).where(TaskRow.state == "open")),
        waiting_timers=count(sa.select(sa.func.count()).select_from(TimerRow).where(TimerRow.state == "waiting")),
        open_breaches=count(sa.select(sa.func.count()).select_from(SlaBreach)
                            .where(SlaBreach.resolved_at.is_(None))),
        provisional_deadlines=count(sa.select(sa.func.count()).select_from(TimerRow)
                                    .where(TimerRow.state == "waiting", TimerRow.provisional.is_(True))),
    )
