"""Tasks of every process, in the style of Camunda's task API: list, read (with the form), claim,
give back, assign, complete; and start a process by key. Who sees what follows the model's roles
and the platform's tenancy (engine.loans.task_policy)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.loans import services
from engine.loans.binding import LOAN_PROCESS_KEY
from engine.workflow import process_starts, tasks
from engine.workflow.errors import ValidationFailed
from web.api.auth import current_actor
from web.api.idempotent import idempotent
from web.api.schemas import ErrorOut

PREFIX = ""
blp = Blueprint("task_api", __name__, description="Tasks of every process, their forms, and starting a process")
MAX_ID = 2**31 - 1
ERRORS = (401, 403, 404, 409, 422)
KEY = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def _engine() -> Any:
    return current_app.extensions["engine"]


def _documented_errors(view):  # noqa: ANN001, ANN202 - decorator over flask-smorest views
    for code in ERRORS:
        view = blp.alt_response(code, schema=ErrorOut, description="Error")(view)
    return view


class TaskQuery(Schema):
    process = fields.String(validate=KEY, metadata={"description": "Only tasks of this process key"})
    mine = fields.Boolean(load_default=False, metadata={"description": "Only tasks I hold"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class ProcessOut(Schema):
    key = fields.String(attribute="process_key")
    name = fields.String(attribute="process_name")
    version = fields.Integer(attribute="process_version")


class TaskOut(Schema):
    id = fields.Integer()
    name = fields.String(attribute="row.name", metadata={"description": "The task's name in the model"})
    name_en = fields.String(allow_none=True, metadata={
        "description": "Its English name (`en.name`), if the model gives one"})
    element = fields.String(attribute="row.bpmn_id", metadata={"description": "The BPMN element's id"})
    case = fields.String(attribute="business_key", metadata={"description": "The application's reference"})
    process = fields.Function(lambda view: ProcessOut().dump(view))
    role = fields.String(attribute="row.role", allow_none=True)
    step = fields.String(attribute="row.api_step", allow_none=True,
                         metadata={"description": "The banks' step name the model gives the task, if any"})
    commitment = fields.String(attribute="row.commitment", allow_none=True,
                               metadata={"description": "The commitment its deadline measures"})
    due_at = fields.DateTime(attribute="row.due_at", allow_none=True)
    due_provisional = fields.Boolean(attribute="row.due_provisional")
    working_days_left = fields.Integer(allow_none=True, metadata={
        "description": "Working days to the deadline; negative: working days late"})
    assignee = fields.String(attribute="row.assignee", allow_none=True)
    claimed_at = fields.DateTime(attribute="row.claimed_at", allow_none=True)
    state = fields.String(attribute="row.state")
    created_at = fields.DateTime(attribute="row.created_at")


class TaskDetailOut(TaskOut):
    documentation = fields.String(allow_none=True)
    form = fields.Function(lambda view: view.form.raw if view.form is not None else None, metadata={
        "description": "The task's form definition (@bpmn-io/form-js JSON); null for a task without data"})
    variables = fields.Dict(attribute="shown", metadata={
        "description": "The process variables the form's display texts show ({{ name }}), by name"})


class TaskPageOut(Schema):
    items = fields.List(fields.Nested(TaskOut))
    total = fields.Integer()


class ClaimIn(Schema):
    take_over = fields.Boolean(load_default=False, metadata={
        "description": "Take the task from the colleague who holds it (recorded in the audit log)"})


class AssignIn(Schema):
    assignee = fields.String(required=True, validate=validate.Length(min=1, max=100))


class CompleteIn(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "The form's values by field key, validated against the task's form"})


class CompletionOut(Schema):
    task = fields.Nested(TaskOut)
    status_before = fields.String(allow_none=True)
    status_after = fields.String(allow_none=True, metadata={"description": "The application's status now"})


class StartIn(Schema):
    case = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "The application the process runs for (not for loan_lifecycle, which creates one)"})
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "The start form's values; for loan_lifecycle, the application as POST /applications takes it"})


class StartedOut(Schema):
    instance_id = fields.Integer()
    process_key = fields.String()
    version = fields.Integer()
    case = fields.String(attribute="business_key")


def _view(task_id: int) -> tasks.TaskView:
    return tasks.get_task(_engine(), current_actor(), task_id)


@blp.route("/tasks")
@blp.arguments(TaskQuery, location="query")
@blp.response(200, TaskPageOut)
@_documented_errors
def list_tasks(args: dict[str, Any]) -> Any:
    """The open tasks I may act on, across every process, soonest deadline first."""
    return tasks.list_tasks(_engine(), current_actor(), process_key=args.get("process"), mine=args["mine"],
                            limit=args["limit"], offset=args["offset"])


@blp.route(f"/tasks/<int(max={MAX_ID}):task_id>")
@blp.response(200, TaskDetailOut)
@_documented_errors
def get_task(task_id: int) -> Any:
    """One task with its form definition and the model's documentation of it."""
    return _view(task_id)


@blp.route(f"/tasks/<int(max={MAX_ID}):task_id>/claim", methods=["POST"])
@idempotent
@blp.arguments(ClaimIn)
@blp.response(200, TaskOut)
@_documented_errors
def claim(args: dict[str, Any], task_id: int) -> Any:
    """Reserve the task for myself (409 when a colleague holds it, unless `take_over`)."""
    tasks.claim(_engine(), current_actor(), task_id, take_over=args["take_over"])
    return _view(task_id)


@blp.route(f"/tasks/<int(max={MAX_ID}):task_id>/unclaim", methods=["POST"])
@idempotent
@blp.response(200, TaskOut)
@_documented_errors
def unclaim(task_id: int) -> Any:
    """Give the task back to the pool."""
    tasks.unclaim(_engine(), current_actor(), task_id)
    return _view(task_id)


@blp.route(f"/tasks/<int(max={MAX_ID}):task_id>/assign", methods=["POST"])
@idempotent
@blp.arguments(AssignIn)
@blp.response(200, TaskOut)
@_documented_errors
def assign(args: dict[str, Any], task_id: int) -> Any:
    """Give the task to a colleague who may act on it."""
    tasks.assign(_engine(), current_actor(), task_id, args["assignee"])
    return _view(task_id)


@blp.route(f"/tasks/<int(max={MAX_ID}):task_id>/complete", methods=["POST"])
@idempotent
@blp.arguments(CompleteIn)
@blp.response(200, CompletionOut)
@_documented_errors
def complete(args: dict[str, Any], task_id: int) -> Any:
    """Complete the task with its form's values (422 with field errors; nothing changed then)."""
    done = tasks.complete(_engine(), current_actor(), task_id, args["data"])
    return {"task": _view(task_id), "status_before": done.status_before, "status_after": done.status_after}


@blp.route("/processes/<key>/start", methods=["POST"])
@idempotent
@blp.arguments(StartIn)
@blp.response(201, StartedOut)
@_documented_errors
def start(args: dict[str, Any], key: str) -> Any:
    """Start the latest version of a process for an application (its start event says who may)."""
    if key == LOAN_PROCESS_KEY:  # a lifecycle starts with a new application: the submission
        application = services.submit(_engine(), current_actor(), args["data"])
        return process_starts.started_of(_engine(), application.instance_id)
    if not args.get("case"):
        raise ValidationFailed({"case": ["Missing data for required field."]})
    return process_starts.start_process(_engine(), current_actor(), key, args["case"], args["data"])
