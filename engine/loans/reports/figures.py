"""What a report says: the figures of one scope (an institution, or the platform) in one period.

Plain data (ints, Decimals, dicts) so that a report is stored as JSON when its period closes and
read back unchanged; the rates are properties worked out from the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.loans.metrics import median_from_histogram
from engine.loans.reports.periods import Period

# The deadline kinds whose on-time rate a report gives, each with the step that meets it.
DEADLINE_KINDS = ("accept", "decision", "disbursement")
# The steps whose working days a report takes the median of: from the step before to this one.
STEPS = ("accept", "decision", "disbursement")  # submitted→accepted, accepted→decided, decided→disbursed
DIMENSIONS = ("region", "industry", "product")
ZERO = Decimal("0.00")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    """Counts are of events inside the period (an application submitted in it, a decision taken in
    it, …); amounts are yuan. See the reports page for each definition."""

    received: int = 0
    accepted: int = 0
    decided: int = 0
    approved: int = 0
    rejected: int = 0
    disbursed: int = 0
    settled: int = 0
    # Steps taken in the period whose deadline had passed (an `acted` breach of that kind), per kind.
    late: dict[str, int] = field(default_factory=dict)
    # Breaches recorded in the period, per kind (every commitment a model names).
    breaches: dict[str, int] = field(default_factory=dict)
    # Working days each step took, as {working days: how many}, per step.
    step_days: dict[str, dict[int, int]] = field(default_factory=dict)
    amount_approved: Decimal = ZERO
    amount_disbursed: Decimal = ZERO
    # For the average rate weighted by amount: Σ(disbursed fen × rate in 1/10,000 %) and Σ fen of those loans.
    rate_weighted_sum: int = 0
    rate_weight: int = 0
    # 获贷率: distinct enterprises that applied in the period, and of those the ones with a loan disbursed by its end.
    enterprises_applied: int = 0
    enterprises_obtained: int = 0
    # Of the loans disbursed in the period: 首贷, 信用贷, 中长期 (count and amount).
    first_loans: int = 0
    first_loan_amount: Decimal = ZERO
    credit_loans: int = 0
    credit_loan_amount: Decimal = ZERO
    medium_long_loans: int = 0
    medium_long_amount: Decimal = ZERO
    # New credit granted (approved amounts) from 1 January of the period's year to the period's end.
    new_credit_year_to_date: Decimal = ZERO

    def taken(self, kind: str) -> int:
        """Steps taken in the period that meet a deadline of `kind`."""
        return {"accept": self.accepted, "decision": self.decided, "disbursement": self.disbursed}.get(kind, 0)

    def on_time(self, kind: str) -> int:
        return max(self.taken(kind) - self.late.get(kind, 0), 0)

    def on_time_rate(self, kind: str) -> float | None:
        return _rate(self.on_time(kind), self.taken(kind))

    def median_working_days(self, step: str) -> float | None:
        return median_from_histogram(self.step_days.get(step, {}))

    @property
    def breaches_total(self) -> int:
        return sum(self.breaches.values())

    @property
    def loan_success_rate(self) -> float | None:
        """获贷率 as the plan defines it: enterprises that obtained a loan ÷ enterprises that applied."""
        return _rate(self.enterprises_obtained, self.enterprises_applied)

    @property
    def approval_rate(self) -> float | None:
        """审批通过率: approved ÷ decided (not the plan's 获贷率)."""
        return _rate(self.approved, self.decided)

    @property
    def average_rate(self) -> Decimal | None:
        """Annual rate of the loans disbursed in the period, weighted by the amount disbursed (percent)."""
        if not self.rate_weight:
            return None
        return (Decimal(self.rate_weighted_sum) / Decimal(self.rate_weight) / Decimal(10_000)).quantize(
            Decimal("0.0001"))

    def share_of_disbursed(self, amount: Decimal) -> float | None:
        return float(amount / self.amount_disbursed) if self.amount_disbursed else None

    def add(self, other: Figures) -> None:
        """Add another scope's figures (not the distinct-enterprise counts, which do not add up)."""
        for item in fields(self):
            name = item.name
            if name in ("enterprises_applied", "enterprises_obtained"):
                continue
            mine, theirs = getattr(self, name), getattr(other, name)
            if name == "step_days":
                for step, histogram in theirs.items():
                    merged = mine.setdefault(step, {})
                    for days, count in histogram.items():
                        merged[days] = merged.get(days, 0) + count
            elif isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] = mine.get(key, 0) + value
            else:
                setattr(self, name, mine + theirs)

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif item.name == "step_days":
                value = {step: {str(days): count for days, count in histogram.items()}
                         for step, histogram in value.items()}
            data[item.name] = value
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Figures:
        figures = cls()
        for item in fields(cls):
            if item.name not in data:
                continue
            value = data[item.name]
            if isinstance(getattr(figures, item.name), Decimal):
                value = Decimal(value)
            elif item.name == "step_days":
                value = {step: {int(days): count for days, count in histogram.items()}
                         for step, histogram in value.items()}
            setattr(figures, item.name, value)
        return figures


@dataclass
class BreakdownRow:
    """One region, industry or product: applications and enterprises of the period, loans disbursed in it."""

    key: str | None  # region (prefecture code), GB/T 4754 section, product id; None: not stated
    label: str | None = None  # the product's name (the web layer names regions and industries)
    received: int = 0
    enterprises_applied: int = 0
    enterprises_obtained: int = 0
    disbursed: int = 0
    amount_disbursed: Decimal = ZERO

    @property
    def loan_success_rate(self) -> float | None:
        return _rate(self.enterprises_obtained, self.enterprises_applied)

    def as_data(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "received": self.received,
                "enterprises_applied": self.enterprises_applied, "enterprises_obtained": self.enterprises_obtained,
                "disbursed": self.disbursed, "amount_disbursed": str(self.amount_disbursed)}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> BreakdownRow:
        return cls(data["key"], data.get("label"), data["received"], data["enterprises_applied"],
                   data["enterprises_obtained"], data["disbursed"], Decimal(data["amount_disbursed"]))


@dataclass
class Scope:
    """The figures and breakdowns of one institution (`institution_id`) or of the platform (None)."""

    institution_id: int | None
    name: str | None
    figures: Figures = field(default_factory=Figures)
    breakdowns: dict[str, list[BreakdownRow]] = field(default_factory=lambda: {d: [] for d in DIMENSIONS})

    def as_data(self) -> dict[str, Any]:
        return {"institution_id": self.institution_id, "name": self.name, "figures": self.figures.as_data(),
                "breakdowns": {dimension: [row.as_data() for row in rows]
                               for dimension, rows in self.breakdowns.items()}}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Scope:
        return cls(data["institution_id"], data["name"], Figures.from_data(data["figures"]),
                   {dimension: [BreakdownRow.from_data(row) for row in rows]
                    for dimension, rows in data["breakdowns"].items()})


@dataclass
class Report:
    """A period's report: the platform's scope (absent in an institution's view) and each institution's."""

    period: Period
    computed_at: datetime
    platform: Scope | None
    institutions: list[Scope]
    # The plan's target of new credit for the period's year (yuan), when configured.
    new_credit_target: Decimal | None = None
    # The plan's loan success rate target (%), kept with a produced report (None: one produced before that).
    success_target_percent: int | None = None

    @property
    def scopes(self) -> list[Scope]:
        return ([self.platform] if self.platform is not None else []) + self.institutions

    def for_institution(self, institution_id: int) -> Report:
        """The view of one institution's staff: its own scope only (no platform totals, no other institution)."""
        own = [scope for scope in self.institutions if scope.institution_id == institution_id]
        return Report(self.period, self.computed_at, None, own, self.new_credit_target, self.success_target_percent)

    @property
    def new_credit_progress(self) -> float | None:
        if self.platform is None or not self.new_credit_target:
            return None
        return float(self.platform.figures.new_credit_year_to_date / self.new_credit_target)

    def as_data(self) -> dict[str, Any]:
        return {"period": {"kind": self.period.kind, "start": self.period.start.isoformat()},
                "computed_at": self.computed_at.isoformat(),
                "platform": self.platform.as_data() if self.platform is not None else None,
                "institutions": [scope.as_data() for scope in self.institutions],
                "new_credit_target": str(self.new_credit_target) if self.new_credit_target is not None else None,
                "success_target_percent": self.success_target_percent}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Report:
        period = Period(data["period"]["kind"], date.fromisoformat(data["period"]["start"]))
        target = data.get("new_credit_target")
        return cls(period, datetime.fromisoformat(data["computed_at"]),
                   Scope.from_data(data["platform"]) if data.get("platform") else None,
                   [Scope.from_data(scope) for scope in data["institutions"]],
                   Decimal(target) if target is not None else None, data.get("success_target_percent"))
