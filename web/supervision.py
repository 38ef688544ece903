"""Supervisors' board: today's numbers, institutions' records, the breach list and its CSV export."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Flask, Response, abort, render_template, request
from flask_babel import gettext as _

from engine import privacy
from engine.errors import NotFound
from engine.loans import metrics, queries
from engine.loans.actors import SUPERVISOR
from engine.loans.punctuality import step_punctuality
from engine.models import Institution
from web.auth import current_actor
from web.pages import TREND_WEEKS, engine, roles_required, weekly_chart

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


def _breach_filters() -> dict:
    args = request.args
    institution = args.get("institution", "")
    return {"institution_id": int(institution) if institution.isdigit() and len(institution) < 10 else None,
            "kind": args.get("kind") if args.get("kind") in ("accept", "decision") else None,
            "open_only": args.get("open") == "1"}


@bp.get("")
@roles_required(SUPERVISOR)
def board() -> str:
    """Show today's numbers, each institution's record, the weekly trend and the latest breaches."""
    filters = _breach_filters()
    now = engine().clock.now()
    with engine().reading() as session:
        figures, records, trend = metrics.board(session, now, weeks=TREND_WEEKS)
        breaches = queries.list_breaches(session, limit=200, **filters).items
    institutions = [record.institution for record in records]
    return render_template("supervision/board.html", figures=figures, records=records, trend=trend,
                           chart=weekly_chart(trend),
                           breaches=breaches, institutions=institutions, args=request.args)


@bp.get("/applications/<reference>")
@roles_required(SUPERVISOR)
def application(reference: str) -> str:
    """Any application, read-only: its facts, the applicant (masked), the diagram and the timeline."""
    with engine().reading() as session:
        try:
            found = queries.application_for(session, current_actor(), reference)
        except NotFound:
            abort(404)
        contact = privacy.enterprise_contact(session, found)
        events = queries.timeline(session, found.id)
        punctuality = step_punctuality(session, found)
        institution = session.get(Institution, found.institution_id)
    return render_template("supervision/application.html", application=found, contact=contact, events=events,
                           punctuality=punctuality, institution=institution)


@bp.get("/breaches.csv")
@roles_required(SUPERVISOR)
def breaches_csv() -> Response:
    """Download the filtered breach list as CSV (UTF-8 with BOM, for spreadsheet programs)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("Application"), _("Institution"), _("Kind"), _("Deadline"), _("Breached at"),
                     _("Provisional"), _("Resolved at"), _("Working days late")])
    with engine().reading() as session:
        for reference, institution, kind, due_at, breached_at, provisional, resolved_at, late in (
                metrics.breach_export(session, **_breach_filters())):
            writer.writerow([reference, institution, kind, due_at.isoformat(), breached_at.isoformat(),
                             "1" if provisional else "0", resolved_at.isoformat() if resolved_at else "",
                             late if late is not None else ""])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=sla-breaches.csv"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
