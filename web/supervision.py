"""Supervisors' board: today's numbers, institutions' records, the breach list and its CSV export."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask_babel import gettext as _

from engine.loans import listing, metrics, queries, satisfaction
from engine.loans.actors import SUPERVISOR
from engine.loans.punctuality import step_punctuality
from engine.models import Institution
from engine.platform import privacy
from engine.workflow.errors import NotFound
from web.auth import current_actor
from web.csv_export import csv_stream
from web.formatting import beijing, deadline
from web.labels import STATUS, commitment_kinds, commitment_label
from web.pages import TREND_WEEKS, engine, roles_required, weekly_chart
from web.paging import PER_PAGE, keyset_pager, requested_cursor, requested_sort

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


def _breach_filters() -> dict:
    args = request.args
    institution = args.get("institution", "")
    return {"institution_id": int(institution) if institution.isdigit() and len(institution) < 10 else None,
            "kind": args.get("kind") if args.get("kind") in commitment_kinds() else None,
            "open_only": args.get("open") == "1"}


@bp.get("")
@roles_required(SUPERVISOR)
def board() -> str:
    """Show today's numbers, each institution's record, the weekly trend and the latest breaches."""
    filters = _breach_filters()
    now = engine().clock.now()
    after, before, start = requested_cursor()
    with engine().reading() as session:
        figures, records, trend = metrics.board(session, now, weeks=TREND_WEEKS)
        breaches = listing.breach_page(session, after=after, before=before, limit=PER_PAGE, **filters)
        survey = satisfaction.survey_figures(session, metrics.status_counts(session))
    institutions = [record.institution for record in records]
    return render_template("supervision/board.html", figures=figures, records=records, trend=trend,
                           chart=weekly_chart(trend), breaches=breaches.items,
                           pager=keyset_pager(breaches, start),
                           institutions=institutions, args=request.args, survey=survey,
                           survey_targets=_survey_targets(), commitment_kinds=commitment_kinds())


def _survey_targets() -> dict[str, float]:
    """The follow-up's targets (config.py), as shares like the rates."""
    config = current_app.config
    return {"invitation": config.get("SURVEY_INVITATION_TARGET_PERCENT", 80) / 100,
            "response": config.get("SURVEY_RESPONSE_TARGET_PERCENT", 60) / 100,
            "satisfaction": config.get("SURVEY_SATISFACTION_TARGET_PERCENT", 90) / 100}


@bp.get("/applications")
@roles_required(SUPERVISOR)
def applications() -> str:
    """Find applications of every institution by reference, enterprise name or credit code."""
    args = request.args
    text = args.get("q", "").strip()[:100]
    status = args.get("status") if args.get("status") in STATUS else None
    institution = args.get("institution", "")
    institution_id = int(institution) if institution.isdigit() and len(institution) < 10 else None
    sort, descending = requested_sort(tuple(listing.SEARCH_SORTS), "submitted", descending=True)
    after, before, start = requested_cursor()
    with engine().reading() as session:
        found = listing.find_applications(session, current_actor(), text, status=status,
                                          institution_id=institution_id, sort=sort, descending=descending,
                                          after=after, before=before, limit=PER_PAGE)
        institutions = session.scalars(sa.select(Institution).order_by(Institution.name)).all()
    return render_template("supervision/applications.html", found=found.items, args=args, sort=sort,
                           descending=descending, institutions=institutions,
                           pager=keyset_pager(found, start))


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
        events = queries.timeline_entries(session, found)
        punctuality = step_punctuality(session, found)
        institution = session.get(Institution, found.institution_id)
    return render_template("supervision/application.html", application=found, contact=contact, events=events,
                           punctuality=punctuality, institution=institution)


@bp.get("/breaches.csv")
@roles_required(SUPERVISOR)
def breaches_csv() -> Response:
    """Download the filtered breach list as CSV, times in Beijing time (UTF-8 with BOM)."""
    header = [_("Application"), _("Institution"), _("Kind"), _("Deadline (Beijing time)"),
              _("Breached at (Beijing time)"), _("Provisional"), _("Resolved at (Beijing time)"),
              _("Working days late")]
    kinds = {kind: commitment_label(kind) for kind in commitment_kinds()}  # translated once
    yes, no = _("Yes"), _("No")  # translated once: tens of thousands of rows
    filters = _breach_filters()

    def rows() -> Iterator[list]:
        # Read while the response is sent, in a transaction of its own (the view has returned by then).
        with engine().reading() as session:
            for reference, institution, kind, due_at, breached_at, provisional, resolved_at, late in \
                    metrics.breach_export(session, **filters):
                yield [reference, institution, kinds.get(kind, kind), deadline(due_at), beijing(breached_at),
                       yes if provisional else no, beijing(resolved_at), late if late is not None else ""]

    return csv_stream(header, rows(), "sla-breaches.csv")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
