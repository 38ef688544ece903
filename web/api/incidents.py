"""Incidents: cases parked because their timers failed; list them and retry one (system admins)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.platform.access import SYSTEM_ADMIN
from engine.workflow.errors import NotFound
from engine.workflow.incidents import incident_summary, open_incident_summaries, retry_incident
from web.api.auth import current_actor
from web.api.idempotent import idempotent
from web.api.schemas import ErrorOut

PREFIX = "/incidents"
blp = Blueprint("incidents", __name__, description="Cases whose timers failed, parked and retried (system admins)")
MAX_ID = 2**31 - 1


class IncidentQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=200))


class IncidentOut(Schema):
    id = fields.Integer()
    reference = fields.String(attribute="business_key", metadata={"description": "The application's reference"})
    process_key = fields.String()
    process_version = fields.Integer()
    kind = fields.String(metadata={"description": "What failed: timer"})
    activity = fields.String(allow_none=True, metadata={"description": "The failing BPMN element's id, if known"})
    error_type = fields.String()
    message = fields.String(metadata={"description": "The engine's error message (English, for diagnosis)"})
    failures = fields.Integer()
    next_retry_at = fields.DateTime(allow_none=True, metadata={
        "description": "The next automatic retry; null when it waits for an admin's retry"})
    state = fields.String(validate=validate.OneOf(("open", "resolved")))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class RetryOut(Schema):
    resolved = fields.Boolean(metadata={"description": "Whether the retry fired the case's timers"})
    incident = fields.Nested(IncidentOut)


def _require_admin() -> None:
    if current_actor().role != SYSTEM_ADMIN:
        raise NotFound("No such resource.")


@blp.route("")
@blp.arguments(IncidentQuery, location="query")
@blp.response(200, IncidentOut(many=True))
@blp.alt_response(404, schema=ErrorOut)
def list_incidents(args: dict[str, Any]) -> Any:
    """List the open incidents, most recently changed first."""
    _require_admin()
    with current_app.extensions["engine"].reading() as session:
        return open_incident_summaries(session, args["limit"])


@blp.route(f"/<int(max={MAX_ID}):incident_id>/retry", methods=["POST"])
@idempotent
@blp.response(200, RetryOut)
@blp.alt_response(404, schema=ErrorOut)
def retry(incident_id: int) -> Any:
    """Fire the case's timers again now; `resolved` says whether the incident is resolved."""
    _require_admin()
    engine = current_app.extensions["engine"]
    resolved = retry_incident(engine, incident_id, current_actor().id)
    with engine.reading() as session:
        return {"resolved": resolved, "incident": incident_summary(session, incident_id)}
