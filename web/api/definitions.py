"""Process definitions: list, read, deploy a BPMN file as a new version (process authors)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint

from engine.loans.actors import SUPERVISOR
from engine.models import ProcessDefinition, ProcessInstance
from engine.platform.access import PROCESS_AUTHOR, SYSTEM_ADMIN
from engine.workflow.definitions import deploy
from engine.workflow.errors import NotFound
from web.api.auth import current_actor
from web.api.idempotent import idempotent
from web.api.schemas import DefinitionOut, DeployIn, ErrorOut, InstanceOut, InstancePageOut, InstanceQuery

PREFIX = "/process-definitions"
blp = Blueprint("process_definitions", __name__, description="Deployed BPMN models")
READERS = (PROCESS_AUTHOR, SYSTEM_ADMIN, SUPERVISOR)


def _require(roles: tuple[str, ...]) -> None:
    if current_actor().role not in roles:
        raise NotFound("No such resource.")


def _definition(session: Any, key: str, version: int) -> ProcessDefinition:
    found = session.scalars(sa.select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
    if found is None:
        raise NotFound("No such process definition version.")
    return found


@blp.route("")
@blp.response(200, DefinitionOut(many=True))
@blp.alt_response(401, schema=ErrorOut)
def list_definitions() -> Any:
    """List every deployed version, newest first."""
    _require(READERS)
    with current_app.extensions["engine"].reading() as session:
        return list(session.scalars(sa.select(ProcessDefinition).order_by(
            ProcessDefinition.key, ProcessDefinition.version.desc())))


@blp.route("/<key>/<int(max=2147483647):version>")
@blp.response(200, DefinitionOut)
@blp.alt_response(404, schema=ErrorOut)
def get_definition(key: str, version: int) -> Any:
    """Read one version."""
    _require(READERS)
    with current_app.extensions["engine"].reading() as session:
        return _definition(session, key, version)


@blp.route("", methods=["POST"])
@idempotent
@blp.arguments(DeployIn)
@blp.response(201, DefinitionOut)
@blp.alt_response(422, schema=ErrorOut)
def deploy_definition(args: dict[str, Any]) -> Any:
    """Deploy a BPMN model as the next version of its process (running instances keep theirs)."""
    _require((PROCESS_AUTHOR, SYSTEM_ADMIN))
    engine = current_app.extensions["engine"]
    with engine.transaction() as session:
        return deploy(session, args["bpmn_xml"], current_actor().id, engine.clock, forms=args["forms"],
                      decisions=args["decisions"], reason=args["reason"], operations=engine.operation_names())


@blp.route("/<key>/<int(max=2147483647):version>/instances")
@blp.arguments(InstanceQuery, location="query")
@blp.response(200, InstancePageOut)
@blp.alt_response(404, schema=ErrorOut)
def list_instances(args: dict[str, Any], key: str, version: int) -> Any:
    """List the instances of one version (running first), a page at a time."""
    _require(READERS)
    with current_app.extensions["engine"].reading() as session:
        definition = _definition(session, key, version)
        query = sa.select(ProcessInstance).where(ProcessInstance.definition_id == definition.id)
        if args.get("status"):
            query = query.where(ProcessInstance.status == args["status"])
        if args.get("cursor"):
            query = query.where(ProcessInstance.id > args["cursor"])
        rows = list(session.scalars(query.order_by(ProcessInstance.id).limit(args["limit"] + 1)))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return {"items": rows, "next_cursor": rows[-1].id if more else None}


@blp.route("/instances/<int(max=2147483647):instance_id>")
@blp.response(200, InstanceOut)
@blp.alt_response(404, schema=ErrorOut)
def get_instance(instance_id: int) -> Any:
    """Read one process instance (its status and the end it reached), without its internal state."""
    _require(READERS)
    with current_app.extensions["engine"].reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("No such process instance.")
        definition = session.get(ProcessDefinition, instance.definition_id)
        instance.key, instance.definition_version = definition.key, definition.version
        return instance
