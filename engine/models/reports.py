"""The plan's reports as produced when each period closed (engine/loans/reports)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base, pk


class ProducedReport(Base):
    """One closed period's report, kept as it was when produced: once per period (the unique key)."""

    __tablename__ = "produced_report"
    __table_args__ = (sa.UniqueConstraint("period_kind", "period_start", name="uq_produced_report_period"),)

    id: Mapped[int] = pk()
    period_kind: Mapped[str] = mapped_column(sa.String(20))  # month | quarter | half_year | year
    period_start: Mapped[date]  # the period's first day (Beijing date)
    produced_at: Mapped[datetime]
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # engine.loans.reports.figures.Report.as_data()
