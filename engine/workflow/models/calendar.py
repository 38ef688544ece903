"""Tables of the working-day calendar."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base


class CalendarDay(Base):
    """A day that differs from the weekday rule: a holiday on a weekday or a make-up workday."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # holiday | workday
    name: Mapped[str] = mapped_column(sa.String(100))


class CalendarYear(Base):
    """A year whose official schedule is loaded; deadlines in other years are provisional."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.String(100))  # chinese_calendar | upload file name
    loaded_at: Mapped[datetime]
    loaded_by: Mapped[str] = mapped_column(sa.String(100))
