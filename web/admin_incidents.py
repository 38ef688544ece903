"""System admins: cases parked as incidents because their timers failed, with the error and a retry."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from engine.platform.access import SYSTEM_ADMIN
from engine.workflow.errors import NotFound
from engine.workflow.incidents import incident_summary, open_incident_summaries, retry_incident
from web.auth import current_actor
from web.pages import engine, roles_required

bp = Blueprint("admin_incidents", __name__, url_prefix="/admin/incidents")
LISTED = 200
ID = "int(max=2147483647)"


@bp.get("")
@roles_required(SYSTEM_ADMIN)
def index() -> str:
    """List the open incidents: the case, the failing element, the error and the next automatic retry."""
    with engine().reading() as session:
        rows = open_incident_summaries(session, LISTED)
    return render_template("admin/incidents.html", rows=rows, limit=LISTED)


@bp.post(f"/<{ID}:incident_id>/retry")
@roles_required(SYSTEM_ADMIN)
def retry(incident_id: int) -> Response:
    """Fire the case's timers again now and say whether that resolved the incident."""
    try:
        resolved = retry_incident(engine(), incident_id, current_actor().id)
    except NotFound:
        flash(_("This incident is no longer open."), "error")
        return redirect(url_for("admin_incidents.index"))
    with engine().reading() as session:
        incident = incident_summary(session, incident_id)
    reference = incident.business_key if incident else str(incident_id)
    if resolved:
        flash(_("%(reference)s: the retry succeeded and the incident is resolved.", reference=reference), "success")
    else:
        flash(_("%(reference)s: the retry failed again (%(failures)d failures so far).", reference=reference,
                failures=incident.failures if incident else 0), "error")
    return redirect(url_for("admin_incidents.index"))
