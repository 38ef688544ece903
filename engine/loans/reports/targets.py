"""The plan's targets a report is measured against, kept with each report produced when its period closed
(the settings NEW_CREDIT_TARGETS_YI and LOAN_SUCCESS_TARGET_PERCENT may change later)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

YI = Decimal("100000000")  # 1 亿元 in yuan


@dataclass(frozen=True)
class Targets:
    new_credit_yi: dict[int, int] = field(default_factory=dict)  # year -> new credit planned, 亿元
    loan_success_percent: int = 50

    @property
    def new_credit_by_year(self) -> dict[int, Decimal]:
        """The plan's new credit per year, in yuan."""
        return {year: amount * YI for year, amount in self.new_credit_yi.items()}
