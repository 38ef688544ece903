"""Reports for the plan's periods: supervisors see every institution and the platform, an
institution's staff their own institution only (another's is a 404); CSV and XLSX downloads."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask_login import current_user
from sqlalchemy.orm import Session

from config import new_credit_targets
from engine.loans.actors import INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.loans.reports import periods, produced
from engine.loans.reports.figures import DEADLINE_KINDS, Report
from engine.loans.reports.queries import compute
from engine.loans.reports.targets import Targets
from engine.models import Institution
from web.auth import current_actor
from web.pages import engine, roles_required
from web.report_exports import downloads
from web.report_tables import definitions as report_definitions
from web.report_tables import percent, period_label, report_tables, scope_name, shown

bp = Blueprint("reports", __name__, url_prefix="/reports")
STAFF = (OFFICER, INSTITUTION_ADMIN)
ID = "int(max=2147483647)"
# How many closed periods of each kind the page offers (besides the one in progress).
CHOICES = {periods.MONTH: 24, periods.QUARTER: 12, periods.HALF_YEAR: 6, periods.YEAR: 5}


def report_targets(config: Mapping[str, Any]) -> Targets:
    """The plan's targets the settings give now (the scheduler keeps them with each report it produces)."""
    return Targets(new_credit_targets(config.get("NEW_CREDIT_TARGETS_YI", "")),
                   int(config.get("LOAN_SUCCESS_TARGET_PERCENT", 50)))


def _success_target() -> int:
    return report_targets(current_app.config).loan_success_percent


def _targets() -> dict[int, Decimal]:
    """The plan's new credit per year, in yuan."""
    return report_targets(current_app.config).new_credit_by_year


def _period() -> periods.Period:
    """The period asked for; the last closed month by default, or for anything that is not a period yet."""
    now = engine().clock.now()
    kind = request.args.get("kind", periods.MONTH)
    if kind not in periods.KINDS:
        kind = periods.MONTH
    try:
        period = periods.parse(kind, request.args.get("period", ""))
    except periods.PeriodError:
        return periods.last_closed(kind, now)
    return period if period.starts_at <= now else periods.last_closed(kind, now)


def _institution() -> int | None:
    """Whose figures: staff always their own (asking for another institution's is a 404); supervisors choose."""
    asked = request.args.get("institution", "")
    if current_user.role in STAFF:
        own = current_actor().institution_id
        if own is None or (asked and asked != str(own)):
            abort(404)
        return own
    return int(asked) if asked.isdigit() and len(asked) < 10 else None


def _live(period: periods.Period, institution_id: int | None) -> Report:
    with engine().reading() as session:
        report = compute(session, engine().calendars.get(session), period, engine().clock.now(),
                         institution_id=institution_id, targets=_targets())
    if institution_id is not None and not report.institutions:
        abort(404)
    return report


def _chart(report: Report) -> dict[str, Any]:
    """What the charts draw (the same figures as the tables under them)."""
    main = report.platform or report.institutions[0]
    return {
        "institutions": [scope_name(scope) for scope in report.institutions],
        "on_time": {kind: [percent(scope.figures.on_time_rate(kind)) for scope in report.institutions]
                    for kind in DEADLINE_KINDS},
        "success": [percent(scope.figures.loan_success_rate) for scope in report.institutions],
        "success_target": _success_target(),
        "regions": [row.key or "—" for row in main.breakdowns["region"]],
        "region_amounts": [float(row.amount_disbursed) for row in main.breakdowns["region"]],
    }


@bp.get("")
@roles_required(SUPERVISOR, *STAFF)
def index() -> str:
    """Show the chosen period's report, the periods to choose from and the reports produced so far."""
    period, institution_id = _period(), _institution()
    report = _live(period, institution_id)
    now = engine().clock.now()
    choices = [periods.containing(period.kind, now.astimezone(periods.SHANGHAI).date())]
    choices += periods.recent(period.kind, now, CHOICES[period.kind])
    with engine().reading() as session:
        listed = produced.listed(session)
        institutions = [] if current_user.role in STAFF else _institution_choices(session)
    return render_template(
        "reports/index.html", report=report, period=period, tables=report_tables(report), shown=shown,
        choices=choices, period_label=period_label, kinds=periods.KINDS, listed=listed, chart=_chart(report),
        definitions=report_definitions(_success_target()), success_target=_success_target(),
        institutions=institutions, institution_id=institution_id, in_progress=not period.closed(now))


def _institution_choices(session: Session) -> list[tuple[int, str]]:
    """Institutions for the supervisors' choice."""
    return [(row.id, row.name) for row in session.execute(sa.select(Institution.id, Institution.name)
                                                          .order_by(Institution.name))]


@bp.get("/report.<any(csv, xlsx):fmt>")
@roles_required(SUPERVISOR, *STAFF)
def download(fmt: str) -> Response:
    """Download the chosen period's report (the page's tables) as CSV or XLSX."""
    period, institution_id = _period(), _institution()
    report = _live(period, institution_id)
    suffix = f"-{institution_id}" if institution_id is not None else ""
    return downloads(report, fmt, _success_target(), f"report-{period.key}{suffix}")


@bp.get(f"/produced/<{ID}:report_id>.<any(csv, xlsx):fmt>")
@roles_required(SUPERVISOR, *STAFF)
def produced_download(report_id: int, fmt: str) -> Response:
    """Download a report as it was produced when its period closed (staff: their institution's part)."""
    with engine().reading() as session:
        report = produced.stored(session, report_id)
    if report is None:
        abort(404)
    institution_id = _institution()
    if institution_id is not None:
        report = report.for_institution(institution_id)
        if not report.institutions:
            abort(404)
    if report.success_target_percent is None:  # produced before the targets were kept with it: today's
        report.new_credit_target = _targets().get(report.period.start.year)
        report.success_target_percent = _success_target()
    suffix = f"-{institution_id}" if institution_id is not None else ""
    return downloads(report, fmt, report.success_target_percent, f"report-{report.period.key}-produced{suffix}")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
