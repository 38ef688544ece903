"""Moving a running case to another version of its process: preview, then migrate (system admins)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.loans.commands import single_line
from engine.platform.access import SYSTEM_ADMIN
from engine.workflow import migration
from engine.workflow.errors import NotFound
from web.api.auth import current_actor
from web.api.idempotent import idempotent
from web.api.schemas import ErrorOut

PREFIX = "/process-instances"
blp = Blueprint("process_instance_migration", __name__,
                description="Move running cases to another version of their process (system admins)")
MAX_ID = 2**31 - 1
VERSION = validate.Range(min=1, max=MAX_ID)


class PreviewQuery(Schema):
    to = fields.Integer(validate=VERSION, metadata={"description": "Target version (default: the latest)"})


class MigrateIn(Schema):
    to_version = fields.Integer(required=True, strict=True, validate=VERSION)
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=migration.MAX_REASON_LENGTH),
                                                    single_line])


class TaskOutcomeOut(Schema):
    bpmn_id = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "user_task, timer, event or task"})
    state = fields.String(metadata={"description": "ready, waiting or started"})
    outcome = fields.String(metadata={"description": "kept; reset (its element changed); removed (refused)"})
    changes = fields.List(fields.String(), metadata={"description": "Attributes of its element that differ"})
    target_bpmn_id = fields.String(allow_none=True)


class TimerOutcomeOut(Schema):
    bpmn_id = fields.String()
    due_before = fields.DateTime(allow_none=True)
    due_after = fields.DateTime(allow_none=True)
    re_evaluated = fields.Boolean(metadata={"description": "Its element changed: its expression ran again"})
    due_now = fields.Boolean(metadata={"description": "Due at once: it fires when the case is migrated"})


class ElementChangeOut(Schema):
    element = fields.String()
    attributes = fields.List(fields.String())


class _CaseMoveOut(Schema):
    """What a preview and a migration both say: the case, its version, what happens to its tasks and timers."""

    instance_id = fields.Integer()
    business_key = fields.String()
    process_key = fields.String()
    from_version = fields.Integer()
    tasks = fields.List(fields.Nested(TaskOutcomeOut))
    timers = fields.List(fields.Nested(TimerOutcomeOut))


class MigrationPreviewOut(_CaseMoveOut):
    to_version = fields.Integer(allow_none=True)
    possible = fields.Boolean()
    reason_code = fields.String(allow_none=True, metadata={
        "description": "Why not: not_running, same_version, no_target, other_process, active_task_removed, "
                       "finished_task_removed, subprocess_removed, incompatible_model, model_error"})
    reason = fields.String(allow_none=True)
    changed_elements = fields.List(fields.Nested(ElementChangeOut))
    added_elements = fields.List(fields.String())
    removed_elements = fields.List(fields.String())


class MigrationResultOut(_CaseMoveOut):
    to_version = fields.Integer()
    reason = fields.String()
    reset_tasks = fields.List(fields.String())


def _require_admin() -> None:
    if current_actor().role != SYSTEM_ADMIN:
        raise NotFound("No such resource.")


@blp.route(f"/<int(max={MAX_ID}):instance_id>/migration")
@blp.arguments(PreviewQuery, location="query")
@blp.response(200, MigrationPreviewOut)
@blp.alt_response(404, schema=ErrorOut)
def preview_migration(args: dict[str, Any], instance_id: int) -> Any:
    """Show what moving the case to another version would change, or why it cannot move."""
    _require_admin()
    return migration.preview(current_app.extensions["engine"], instance_id, args.get("to"))


@blp.route(f"/<int(max={MAX_ID}):instance_id>/migration", methods=["POST"])
@idempotent
@blp.arguments(MigrateIn)
@blp.response(200, MigrationResultOut)
@blp.alt_response(404, schema=ErrorOut)
@blp.alt_response(409, schema=ErrorOut)
def migrate_instance(args: dict[str, Any], instance_id: int) -> Any:
    """Move the running case to another version of its process (409 with the reason if it cannot)."""
    _require_admin()
    return migration.migrate(current_app.extensions["engine"], instance_id, args["to_version"],
                             current_actor().id, args["reason"])
