"""A period's report from grouped SQL: a fixed number of queries whatever the number of applications.

Every count is grouped by institution in the database; the platform's figures are the sum of the
institutions' except the distinct-enterprise counts (获贷率), which the platform counts itself, and
the medians, which merge the institutions' histograms. Working days per step are grouped by the
pair of Beijing dates (start, end), so Python counts working days once per distinct pair of dates,
never once per application.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans.metrics import shanghai_day
from engine.loans.reports.figures import DIMENSIONS, BreakdownRow, Figures, Report, Scope
from engine.loans.reports.periods import Period
from engine.models import Enterprise, Institution, LoanApplication, LoanProduct, SlaBreach
from engine.workflow.working_days import SHANGHAI, WorkingDayCalendar

app = LoanApplication


def _within(column: Any, start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(column >= start, column < end)


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.count(sa.case((condition, 1)))


def _sum(condition: sa.ColumnElement[bool], column: Any) -> sa.ColumnElement[Any]:
    """The sum of `column` where `condition` holds, 0 where nothing does (typed like the column)."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, column))), 0)


def _raw(column: Any) -> Any:
    """A money or rate column as the integer it is stored as (fen; 1/10,000 of a percent)."""
    return sa.type_coerce(column, sa.BigInteger)


def _decimal(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.01"))


def _late_steps() -> sa.Subquery:
    """Per application, whether each step with a deadline was taken after it (an `acted` breach)."""
    acted = SlaBreach.resolution == "acted"
    return sa.select(
        SlaBreach.application_id.label("application_id"),
        *(sa.func.max(sa.case((acted & (SlaBreach.kind == kind), 1), else_=0)).label(f"late_{kind}")
          for kind in ("accept", "decision", "disbursement")),
    ).group_by(SlaBreach.application_id).subquery()


def _flows(session: Session, period: Period, only: int | None) -> dict[int, Figures]:
    """Steps taken in the period per institution, with amounts, lateness and the plan's loan counts."""
    start, end = period.starts_at, period.ends_at
    late = _late_steps()
    submitted, accepted = _within(app.submitted_at, start, end), _within(app.accepted_at, start, end)
    decided, disbursed = _within(app.decided_at, start, end), _within(app.disbursed_at, start, end)
    settled = _within(app.settled_at, start, end)
    approved = decided & app.approved_amount.is_not(None)
    rated = disbursed & app.annual_rate.is_not(None)
    first, credit = disbursed & app.first_loan.is_(True), disbursed & (app.loan_type == "credit")
    medium_long = disbursed & (app.term_class == "medium_long")
    query = sa.select(
        app.institution_id, _count(submitted), _count(accepted), _count(decided), _count(approved),
        _count(disbursed), _count(settled),
        _count(accepted & (late.c.late_accept == 1)), _count(decided & (late.c.late_decision == 1)),
        _count(disbursed & (late.c.late_disbursement == 1)),
        _sum(approved, app.approved_amount), _sum(disbursed, app.disbursed_amount),
        _sum(rated, _raw(app.disbursed_amount) * _raw(app.annual_rate)), _sum(rated, _raw(app.disbursed_amount)),
        _count(first), _sum(first, app.disbursed_amount), _count(credit), _sum(credit, app.disbursed_amount),
        _count(medium_long), _sum(medium_long, app.disbursed_amount),
    ).select_from(app).outerjoin(late, late.c.application_id == app.id).where(
        sa.or_(submitted, accepted, decided, disbursed, settled)).group_by(app.institution_id)
    if only is not None:
        query = query.where(app.institution_id == only)
    result: dict[int, Figures] = {}
    for row in session.execute(query):
        (institution_id, received, accepted_, decided_, approved_, disbursed_, settled_, late_accept, late_decision,
         late_disbursement, amount_approved, amount_disbursed, weighted, weight, first_, first_amount, credit_,
         credit_amount, medium_long_, medium_long_amount) = row
        result[institution_id] = Figures(
            received=received, accepted=accepted_, decided=decided_, approved=approved_,
            rejected=decided_ - approved_, disbursed=disbursed_, settled=settled_,
            late={"accept": late_accept, "decision": late_decision, "disbursement": late_disbursement},
            amount_approved=_decimal(amount_approved), amount_disbursed=_decimal(amount_disbursed),
            rate_weighted_sum=int(weighted or 0), rate_weight=int(weight or 0),
            first_loans=first_, first_loan_amount=_decimal(first_amount), credit_loans=credit_,
            credit_loan_amount=_decimal(credit_amount), medium_long_loans=medium_long_,
            medium_long_amount=_decimal(medium_long_amount))
    return result


def _breaches(session: Session, period: Period, only: int | None) -> list[tuple[int, str, int]]:
    """Breaches recorded in the period, per institution and kind."""
    query = sa.select(SlaBreach.institution_id, SlaBreach.kind, sa.func.count()).where(
        _within(SlaBreach.breached_at, period.starts_at, period.ends_at)).group_by(
        SlaBreach.institution_id, SlaBreach.kind)
    if only is not None:
        query = query.where(SlaBreach.institution_id == only)
    return [(institution_id, kind, count) for institution_id, kind, count in session.execute(query)]


def _step_dates(session: Session, period: Period, only: int | None) -> list[tuple[int, str, Any, Any, int]]:
    """Steps completed in the period per institution and (Beijing date before, Beijing date of the step)."""
    start, end = period.starts_at, period.ends_at
    parts = []
    for step, before, after in (("accept", app.submitted_at, app.accepted_at),
                                ("decision", app.accepted_at, app.decided_at),
                                ("disbursement", app.decided_at, app.disbursed_at)):
        first_day, last_day = shanghai_day(session, before), shanghai_day(session, after)
        part = sa.select(app.institution_id, sa.literal(step), first_day, last_day, sa.func.count()).where(
            _within(after, start, end), before.is_not(None)).group_by(app.institution_id, first_day, last_day)
        if only is not None:
            part = part.where(app.institution_id == only)
        parts.append(part)
    return [(row[0], row[1], row[2], row[3], row[4]) for row in session.execute(sa.union_all(*parts))]


def _enterprises(session: Session, period: Period, only: int | None,
                 by_institution: bool) -> list[tuple[int | None, int, int]]:
    """获贷率's counts: distinct enterprises that applied in the period, and those of them with a loan by its end."""
    start, end = period.starts_at, period.ends_at
    submitted = _within(app.submitted_at, start, end)
    obtained = app.disbursed_at.is_not(None) & (app.disbursed_at < end)
    columns = (sa.func.count(sa.distinct(app.enterprise_id)),
               sa.func.count(sa.distinct(sa.case((obtained, app.enterprise_id)))))
    query: sa.Select[Any, int, int]
    if by_institution:
        query = sa.select(app.institution_id, *columns).where(submitted).group_by(app.institution_id)
    else:
        query = sa.select(sa.null(), *columns).where(submitted)
    if only is not None:
        query = query.where(app.institution_id == only)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def _new_credit(session: Session, period: Period, only: int | None) -> dict[int, Decimal]:
    """Approved amounts from 1 January of the period's year to its end (当年新增授信), per institution."""
    query = sa.select(app.institution_id, sa.func.coalesce(sa.func.sum(app.approved_amount), 0)).where(
        _within(app.decided_at, period.year_starts_at, period.ends_at), app.approved_amount.is_not(None)
    ).group_by(app.institution_id)
    if only is not None:
        query = query.where(app.institution_id == only)
    return {institution_id: _decimal(total) for institution_id, total in session.execute(query)}


def _dimension_key(dimension: str) -> Any:
    if dimension == "region":  # the prefecture (地市级): the first four digits of the division code
        prefecture = sa.func.substr(Enterprise.region_code, 1, 4, type_=sa.String()) + "00"
        return sa.case((Enterprise.region_code.is_not(None), prefecture))
    if dimension == "industry":
        return Enterprise.industry_section
    return app.product_id


def _breakdown(session: Session, period: Period, dimension: str, only: int | None,
               by_institution: bool) -> list[tuple[int | None, BreakdownRow]]:
    """Applications, enterprises (获贷率) and loans disbursed per region, industry or product."""
    start, end = period.starts_at, period.ends_at
    submitted, disbursed = _within(app.submitted_at, start, end), _within(app.disbursed_at, start, end)
    obtained = submitted & app.disbursed_at.is_not(None) & (app.disbursed_at < end)
    key = _dimension_key(dimension).label("key")
    label = LoanProduct.name if dimension == "product" else sa.null()
    group = [key] + ([LoanProduct.name] if dimension == "product" else [])
    institution = app.institution_id if by_institution else sa.null()
    if by_institution:
        group.insert(0, app.institution_id)
    query = sa.select(
        institution, key, label, _count(submitted), sa.func.count(sa.distinct(sa.case((submitted, app.enterprise_id)))),
        sa.func.count(sa.distinct(sa.case((obtained, app.enterprise_id)))), _count(disbursed),
        _sum(disbursed, app.disbursed_amount),
    ).select_from(app).join(Enterprise, Enterprise.id == app.enterprise_id).join(
        LoanProduct, LoanProduct.id == app.product_id).where(sa.or_(submitted, disbursed)).group_by(*group)
    if only is not None:
        query = query.where(app.institution_id == only)
    rows = []
    for institution_id, key_value, name, received, applied, obtained_, disbursed_, amount in session.execute(query):
        rows.append((institution_id, BreakdownRow(str(key_value) if key_value is not None else None, name,
                                                  received, applied, obtained_, disbursed_, _decimal(amount))))
    return rows


class _WorkingDays:
    """Working days between two Beijing dates, counted like a period (Civil Code art. 201), remembered per pair."""

    def __init__(self, calendar: WorkingDayCalendar) -> None:
        self.calendar = calendar
        self.known: dict[tuple[date, date], int] = {}

    def __call__(self, first: date | str, last: date | str) -> int:
        pair = (_as_date(first), _as_date(last))
        if pair not in self.known:
            noon = [datetime.combine(day, time(12), SHANGHAI) for day in pair]
            self.known[pair] = self.calendar.working_days_between(noon[0], noon[1]) if pair[1] >= pair[0] else 0
        return self.known[pair]


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def compute(session: Session, calendar: WorkingDayCalendar, period: Period, now: datetime, *,
            institution_id: int | None = None, targets: Mapping[int, Decimal] | None = None) -> Report:
    """The report of `period`: every institution and the platform, or only `institution_id` (no platform)."""
    only = institution_id
    listed = sa.select(Institution.id, Institution.name).order_by(Institution.id)
    if only is not None:
        listed = listed.where(Institution.id == only)
    institutions = session.execute(listed).all()
    flows = _flows(session, period, only)
    scopes = {institution: Scope(institution, name, flows.get(institution, Figures()))
              for institution, name in institutions}
    for institution, kind, count in _breaches(session, period, only):
        if institution in scopes:
            scopes[institution].figures.breaches[kind] = count
    working_days = _WorkingDays(calendar)
    for institution, step, first, last, count in _step_dates(session, period, only):
        if institution in scopes:
            histogram = scopes[institution].figures.step_days.setdefault(step, {})
            days = working_days(first, last)
            histogram[days] = histogram.get(days, 0) + count
    for owner, applied, obtained in _enterprises(session, period, only, by_institution=True):
        if owner in scopes:
            scopes[owner].figures.enterprises_applied = applied
            scopes[owner].figures.enterprises_obtained = obtained
    for institution, total in _new_credit(session, period, only).items():
        if institution in scopes:
            scopes[institution].figures.new_credit_year_to_date = total
    for dimension in DIMENSIONS:
        for holder, row in _breakdown(session, period, dimension, only, by_institution=True):
            if holder in scopes:
                scopes[holder].breakdowns[dimension].append(row)
    for scope in scopes.values():
        for rows in scope.breakdowns.values():
            rows.sort(key=lambda row: (row.key is None, row.key or ""))
    platform = None
    if only is None:
        platform = _platform(session, period, list(scopes.values()))
    target = (targets or {}).get(period.start.year)
    return Report(period, now, platform, list(scopes.values()), target)


def _platform(session: Session, period: Period, institutions: list[Scope]) -> Scope:
    platform = Scope(None, None)
    for scope in institutions:
        platform.figures.add(scope.figures)
    for _, applied, obtained in _enterprises(session, period, None, by_institution=False):
        platform.figures.enterprises_applied, platform.figures.enterprises_obtained = applied, obtained
    for dimension in ("region", "industry"):
        platform.breakdowns[dimension] = [row for _, row in _breakdown(session, period, dimension, None, False)]
    # A product belongs to one institution: the platform's rows are the institutions' rows.
    platform.breakdowns["product"] = [row for scope in institutions for row in scope.breakdowns["product"]]
    for rows in platform.breakdowns.values():
        rows.sort(key=lambda row: (row.key is None, row.key or ""))
    return platform
