"""Supervisors' read-only views: the breach ledger and institutions' scorecards."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from engine.loans import queries
from engine.loans.actors import SUPERVISOR
from engine.workflow.errors import NotFound
from web.api.auth import current_actor
from web.api.schemas import BreachPageOut, BreachQuery, ErrorOut, ScorecardOut

PREFIX = "/supervision"
blp = Blueprint("api_supervision", __name__, description="SLA breaches and institutions' records")


def _require_supervisor() -> None:
    if current_actor().role != SUPERVISOR:
        raise NotFound("No such resource.")


@blp.route("/breaches")
@blp.arguments(BreachQuery, location="query")
@blp.response(200, BreachPageOut)
@blp.alt_response(401, schema=ErrorOut)
@blp.alt_response(404, schema=ErrorOut)
def breaches(args: dict[str, Any]) -> dict[str, Any]:
    """List SLA breaches, oldest first, filtered by institution, kind and whether still open."""
    _require_supervisor()
    with current_app.extensions["engine"].reading() as session:
        page = queries.list_breaches(session, institution_id=args.get("institution_id"), kind=args.get("kind"),
                                     open_only=args["open"], after_id=args.get("cursor"), limit=args["limit"])
    items = []
    for breach, reference in page.items:
        breach.application = reference
        items.append(breach)
    return {"items": items, "next_cursor": page.next_cursor}


@blp.route("/institutions/<int(max=2147483647):institution_id>/scorecard")
@blp.response(200, ScorecardOut)
@blp.alt_response(401, schema=ErrorOut)
@blp.alt_response(404, schema=ErrorOut)
def scorecard(institution_id: int) -> Any:
    """An institution's on-time and approval record."""
    _require_supervisor()
    with current_app.extensions["engine"].reading() as session:
        return queries.scorecard(session, institution_id)
