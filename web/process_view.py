"""The application's process diagram with its current position, for every page that shows an application."""

from __future__ import annotations

from flask import Blueprint, Flask, abort
from flask_login import login_required

from engine.loans import queries
from engine.loans.position import process_position
from engine.workflow.errors import NotFound
from web.auth import current_actor
from web.pages import engine

bp = Blueprint("process_view", __name__, url_prefix="/applications")


@bp.get("/<reference>/process.json")
@login_required
def position(reference: str) -> dict:
    """The BPMN XML of the application's process version and where it stands (404 if not visible)."""
    with engine().reading() as session:
        try:
            application = queries.application_for(session, current_actor(), reference)
        except NotFound:
            abort(404)
        found = process_position(session, application)
    if found is None:
        abort(404)
    return {"definition": {"key": found.definition_key, "version": found.definition_version},
            "xml": found.bpmn_xml, "active": found.active, "completed": found.completed,
            "fired_timers": found.fired_timers, "end_event": found.end_event}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
