"""A period's report as tables: the same rows on the page, in the CSV and in the XLSX.

Each cell keeps its value (an int, a Decimal of yuan, a percentage rounded to one place, working
days); the page formats it, the downloads write it as a number, so the three always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from engine.loans.reports.figures import DEADLINE_KINDS, STEPS, BreakdownRow, Report, Scope
from engine.loans.reports.periods import HALF_YEAR, MONTH, QUARTER, Period
from engine.loans.reports.targets import YI
from web.formatting import amount, count, rate
from web.registration_labels import HUNAN_PREFECTURE, INDUSTRY_SECTION


@dataclass(frozen=True)
class Column:
    title: str
    kind: str  # text | count | money | percent | days | rate | yi


@dataclass
class Table:
    id: str
    title: str
    sheet: str  # the XLSX sheet's name (at most 31 characters)
    columns: list[Column]
    rows: list[list[Any]]


def percent(share: float | None) -> float | None:
    """A share as a percentage rounded to one place (66.7), as every table shows it."""
    return None if share is None else round(share * 100, 1)


def shown(value: Any, kind: str) -> str:
    """A cell as the page shows it."""
    if value is None:
        return "—"
    if kind == "count":
        return count(value)
    if kind == "money":
        return amount(value)
    if kind == "percent":
        return f"{value:.1f} %"
    if kind == "days":
        return f"{value:.1f}"
    if kind == "rate":
        return rate(value)
    if kind == "yi":
        return f"{value:,}"
    return str(value)


def period_label(period: Period) -> str:
    if period.kind == MONTH:
        return _("%(year)d-%(month)02d", year=period.start.year, month=period.start.month)
    if period.kind == QUARTER:
        return _("Q%(number)d %(year)d", number=period.number, year=period.start.year)
    if period.kind == HALF_YEAR:
        return (_("First half of %(year)d", year=period.start.year) if period.number == 1
                else _("Second half of %(year)d", year=period.start.year))
    return _("Year %(year)d", year=period.start.year)


def scope_name(scope: Scope) -> str:
    return scope.name if scope.institution_id is not None and scope.name else _("Whole platform")


def _counts(report: Report) -> Table:
    columns = [Column(_("Institution"), "text"), Column(_("Received"), "count"), Column(_("Accepted"), "count"),
               Column(_("Decided"), "count"), Column(_("Approved"), "count"), Column(_("Rejected"), "count"),
               Column(_("Disbursed"), "count"), Column(_("Settled"), "count"),
               Column(_("Approved (yuan)"), "money"), Column(_("Disbursed (yuan)"), "money"),
               Column(_("Average annual rate, weighted by amount disbursed"), "rate"),
               Column(_("Approval rate (approved ÷ decided, %)"), "percent")]
    rows = []
    for scope in report.scopes:
        f = scope.figures
        rows.append([scope_name(scope), f.received, f.accepted, f.decided, f.approved, f.rejected, f.disbursed,
                     f.settled, f.amount_approved, f.amount_disbursed, f.average_rate, percent(f.approval_rate)])
    return Table("report-steps", _("Steps and amounts"), _("Steps"), columns, rows)


def _loan_success(report: Report) -> Table:
    columns = [Column(_("Institution"), "text"), Column(_("Enterprises that applied"), "count"),
               Column(_("Enterprises that obtained a loan"), "count"),
               Column(_("Loan success rate (获贷率, %)"), "percent")]
    rows = [[scope_name(scope), scope.figures.enterprises_applied, scope.figures.enterprises_obtained,
             percent(scope.figures.loan_success_rate)] for scope in report.scopes]
    return Table("report-success", _("Loan success rate (获贷率)"), _("Loan success rate"), columns, rows)


def _timeliness(report: Report) -> Table:
    kinds = {"accept": _("acceptance"), "decision": _("credit decision"), "disbursement": _("disbursement")}
    steps = {"accept": _("submitted → accepted"), "decision": _("accepted → decided"),
             "disbursement": _("decided → disbursed")}
    columns = [Column(_("Institution"), "text")]
    columns += [Column(_("On-time %(kind)s (%%)", kind=kinds[kind]), "percent") for kind in DEADLINE_KINDS]
    columns += [Column(_("Median working days, %(step)s", step=steps[step]), "days") for step in STEPS]
    columns += [Column(_("Breaches: %(kind)s", kind=kinds[kind]), "count") for kind in DEADLINE_KINDS]
    columns += [Column(_("Breaches in all"), "count")]
    rows = []
    for scope in report.scopes:
        f = scope.figures
        rows.append([scope_name(scope)] + [percent(f.on_time_rate(kind)) for kind in DEADLINE_KINDS]
                    + [f.median_working_days(step) for step in STEPS]
                    + [f.breaches.get(kind, 0) for kind in DEADLINE_KINDS] + [f.breaches_total])
    return Table("report-timeliness", _("Timeliness"), _("Timeliness"), columns, rows)


def _plan_loans(report: Report) -> Table:
    columns = [Column(_("Institution"), "text"), Column(_("First loans (首贷)"), "count"),
               Column(_("First loans (yuan)"), "money"), Column(_("Credit loans (信用贷)"), "count"),
               Column(_("Credit loans (yuan)"), "money"), Column(_("Credit loans' share of the amount (%)"), "percent"),
               Column(_("Medium and long-term loans (中长期)"), "count"),
               Column(_("Medium and long-term loans (yuan)"), "money"),
               Column(_("Medium and long-term share of the amount (%)"), "percent")]
    rows = []
    for scope in report.scopes:
        f = scope.figures
        rows.append([scope_name(scope), f.first_loans, f.first_loan_amount, f.credit_loans, f.credit_loan_amount,
                     percent(f.share_of_disbursed(f.credit_loan_amount)), f.medium_long_loans, f.medium_long_amount,
                     percent(f.share_of_disbursed(f.medium_long_amount))])
    return Table("report-plan-loans", _("First, credit and medium and long-term loans"), _("Loan kinds"),
                 columns, rows)


def _new_credit(report: Report) -> Table:
    columns = [Column(_("Institution"), "text"), Column(_("New credit this year to the period's end (yuan)"), "money"),
               Column(_("The plan's target for the year (100 million yuan)"), "yi"),
               Column(_("Progress against the target (%)"), "percent")]
    target = report.new_credit_target
    rows = []
    for scope in report.scopes:
        is_platform = scope.institution_id is None
        rows.append([scope_name(scope), scope.figures.new_credit_year_to_date,
                     int(target / YI) if is_platform and target else None,
                     percent(report.new_credit_progress) if is_platform else None])
    return Table("report-new-credit", _("New credit granted in %(year)d", year=report.period.start.year),
                 _("New credit"), columns, rows)


def _breakdown_label(dimension: str, row: BreakdownRow, owners: dict[str, str]) -> str:
    if row.key is None:
        return _("Not stated")
    if dimension == "region":
        return f"{row.key} {HUNAN_PREFECTURE[row.key]}" if row.key in HUNAN_PREFECTURE else row.key
    if dimension == "industry":
        return f"{row.key} {INDUSTRY_SECTION[row.key]}" if row.key in INDUSTRY_SECTION else row.key
    owner = owners.get(row.key)
    return f"{row.label} ({owner})" if owner else (row.label or row.key)


def _breakdowns(report: Report) -> list[Table]:
    main = report.platform or (report.institutions[0] if report.institutions else None)
    if main is None:
        return []
    owners = {row.key: scope.name or "" for scope in report.institutions for row in scope.breakdowns["product"]
              if row.key is not None} if report.platform is not None else {}
    titles = {"region": (_("By region"), _("Region")), "industry": (_("By industry"), _("Industry")),
              "product": (_("By product"), _("Product"))}
    tables = []
    for dimension, (title, heading) in titles.items():
        columns = [Column(heading, "text"), Column(_("Received"), "count"),
                   Column(_("Enterprises that applied"), "count"),
                   Column(_("Enterprises that obtained a loan"), "count"),
                   Column(_("Loan success rate (获贷率, %)"), "percent"), Column(_("Loans disbursed"), "count"),
                   Column(_("Disbursed (yuan)"), "money")]
        rows = [[_breakdown_label(dimension, row, owners), row.received, row.enterprises_applied,
                 row.enterprises_obtained, percent(row.loan_success_rate), row.disbursed, row.amount_disbursed]
                for row in main.breakdowns.get(dimension, [])]
        tables.append(Table(f"report-{dimension}", title, heading, columns, rows))
    return tables


def report_tables(report: Report) -> list[Table]:
    """Every table of a report, in the page's order."""
    return [_counts(report), _loan_success(report), _timeliness(report), _plan_loans(report),
            _new_credit(report), *_breakdowns(report)]


def definitions(success_target_percent: int) -> list[str]:
    """What each figure means, for the page and the downloads."""
    return [
        _("Counts are of events in the period: an application submitted in it is received, a decision taken in "
          "it is decided, and so on. Periods run in Beijing time."),
        _("Loan success rate (获贷率, the plan's measure): enterprises that obtained a loan ÷ enterprises that "
          "applied. Each enterprise counts once however many applications it made: those that applied in the "
          "period, and of them those with a loan disbursed by the period's end. The plan's target is "
          "%(target)d %%.", target=success_target_percent),
        _("Approval rate: applications approved ÷ applications decided. It is not the loan success rate."),
        _("Average annual rate: of the loans disbursed in the period, weighted by the amount disbursed "
          "(Σ amount × rate ÷ Σ amount), as banks report it."),
        _("On-time rate per deadline: steps taken in the period before their deadline ÷ steps taken. Median "
          "working days: between the step before and this one, counted on the platform's holiday calendar."),
        _("首贷, 信用贷 and 中长期 (over one year): of the loans disbursed in the period, as the bank reported them; "
          "a term class not reported follows the approved term."),
        _("New credit: amounts approved from 1 January of the period's year to the period's end, against the "
          "plan's target for that year."),
    ]
