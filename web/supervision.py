"""Supervisors' board: today's numbers, institutions' records, the breach list and its CSV export."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Flask, Response, render_template, request
from flask_babel import gettext as _

from engine.loans import queries
from engine.loans.actors import SUPERVISOR
from engine.models import Institution
from web.pages import engine, roles_required

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
    """Show today's numbers, each institution's record and the latest breaches."""
    filters = _breach_filters()
    with engine().reading() as session:
        summary = queries.platform_summary(session)
        institutions = session.query(Institution).order_by(Institution.id).all()
        cards = [(institution, queries.scorecard(session, institution.id)) for institution in institutions]
        breaches = queries.list_breaches(session, limit=200, **filters).items
    return render_template("supervision/board.html", summary=summary, cards=cards, breaches=breaches,
                           institutions=institutions, args=request.args)


@bp.get("/breaches.csv")
@roles_required(SUPERVISOR)
def breaches_csv() -> Response:
    """Download the filtered breach list as CSV (UTF-8 with BOM, for spreadsheet programs)."""
    with engine().reading() as session:
        rows = queries.list_breaches(session, limit=100_000, **_breach_filters()).items
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("Application"), _("Institution"), _("Kind"), _("Deadline"), _("Breached at"),
                     _("Provisional"), _("Resolved at"), _("Working days late")])
    for breach, reference in rows:
        writer.writerow([reference, breach.institution_id, breach.kind, breach.due_at.isoformat(),
                         breach.breached_at.isoformat(), "1" if breach.provisional else "0",
                         breach.resolved_at.isoformat() if breach.resolved_at else "",
                         breach.late_working_days if breach.late_working_days is not None else ""])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=sla-breaches.csv"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
