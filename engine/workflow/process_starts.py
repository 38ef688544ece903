"""Starting processes: by key for a case, by an actor through the task API (`start_process`, the start
event's role and form), or by a model's service task (the `start_process` operator, once per case).

The operator: a service task that starts another process for the same case, once.

A model calls it as `<spiffworkflow:serviceTaskOperator id="start_process">` with the parameter
`process` (an expression giving a process key, e.g. `'satisfaction_survey'`) and optionally `data`
(an expression giving a dictionary of start data). It runs inside the operation that reached the
service task, so the new instance is created in the same transaction and by the same session:
it commits or rolls back with the step that started it.

Why a nested start is safe:
- the caller's operation already holds its own instance's lock; the new instance is a new row,
  so no other instance's lock is taken (no lock-order deadlock with other steps of the case);
- idempotency is a claim in `process_start` (unique business key and process key) inserted with
  ON CONFLICT DO NOTHING before anything is started: a second start for the case, even by a
  concurrent transaction (which waits on PostgreSQL until the first commits), inserts nothing
  and starts nothing. A case that already has an instance of the process (started another way)
  gets none either;
- the new workflow goes to the live cache only when the transaction commits, like any other
  (`Engine.transaction` moves what operations saved into the cache after the commit; a timer
  sweep that rolls a case back to its savepoint drops what that savepoint saved);
- the new process's model code runs under its own script engine and budgets; a failure in it
  is a ModelError of the step that started it (a user's step is refused, a timer's case parked).

The new instance's start data: `started_at`, `started_by`, `application_reference` (the business
key, as for processes started through the task API), `parent_process`, plus whatever `data` gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow import adapter as spiff
from engine.workflow.database import insert_ignoring_conflicts
from engine.workflow.definitions import latest_definition
from engine.workflow.errors import ModelError, NotFound, ValidationFailed
from engine.workflow.form_submissions import validate_submission
from engine.workflow.journal import record_audit
from engine.workflow.models import ProcessDefinition, ProcessInstance, ProcessStart, table_of
from engine.workflow.runtime import Engine, InstanceOperation
from engine.workflow.tasks import policy_of
from engine.workflow.working_days import SHANGHAI

OPERATOR = "start_process"
# Who started it when nobody acts in the operation (a timer's branch).
SYSTEM_ACTOR = "system:timer"
_START = table_of(ProcessStart)
_RESERVED = frozenset({"started_at", "started_by", "application_reference", "parent_process"})


def start_process_handler(operation: InstanceOperation) -> spiff.ServiceHandler:
    """The `start_process` operator bound to one operation (a binding's `services` entry)."""

    def handler(task: spiff.SpiffTask, params: dict[str, Any]) -> dict[str, Any]:
        activity = spiff.task_bpmn_id(task)
        key = params.get("process")
        if not isinstance(key, str) or not key:
            raise ModelError(f"{OPERATOR} in {activity} needs the parameter process, a process key "
                             f"(found {key!r})", activity=activity)
        data = params.get("data") or {}
        if not isinstance(data, Mapping) or not all(isinstance(name, str) for name in data):
            raise ModelError(f"The data parameter of {OPERATOR} in {activity} must be a dictionary",
                             activity=activity)
        return start_once(operation, key, dict(data), activity)

    return handler


def start_once(operation: InstanceOperation, key: str, data: dict[str, Any] | None = None,
               activity: str | None = None) -> dict[str, Any]:
    """Start the latest version of `key` for the operation's case unless it was started for it already.

    Returns `{"started": True, "instance_id": …}` or `{"started": False}` (started before).
    """
    engine, session = operation.engine, operation.session
    business_key = operation.instance.business_key
    definition = engine.latest_definition(session, key, required=False)
    if definition is None:
        raise ModelError(f"{OPERATOR}{f' in {activity}' if activity else ''}: no process {key!r} is deployed",
                         activity=activity)
    if _has_instance(session, business_key, key):
        return {"started": False}
    now = engine.clock.now()
    actor = getattr(operation.actor, "id", None) or SYSTEM_ACTOR
    claimed = session.execute(insert_ignoring_conflicts(session, _START, _START.c.id), {
        "business_key": business_key, "process_key": key, "instance_id": None,
        "parent_instance_id": operation.instance.id, "started_at": now, "started_by": actor,
    }).first()
    if claimed is None:  # started for this case before, or by a concurrent step that committed first
        return {"started": False}
    binding = engine.binding_of(key)
    # Same business key, same case: the caller's context, unless another binding says what a case is.
    context = (operation.context if binding is operation.binding
               else binding.context(session, ProcessInstance(business_key=business_key)))
    start_data = {**{k: v for k, v in (data or {}).items() if k not in _RESERVED},
                  "started_at": now.isoformat(), "started_by": actor, "application_reference": business_key,
                  "parent_process": operation.definition.key}
    child = engine.start(session, definition, business_key, start_data, context)
    child.actor = operation.actor
    child.save(actor)
    session.execute(sa.update(_START).where(_START.c.id == claimed.id).values(instance_id=child.instance.id))
    record_audit(session, now, actor, "process_started", application_id=context.case_id,
                 instance_id=child.instance.id,
                 detail={"process": key, "version": definition.version, "by": OPERATOR,
                         "parent_instance": operation.instance.id, "parent_process": operation.definition.key})
    return {"started": True, "instance_id": child.instance.id}


def _has_instance(session: Session, business_key: str, key: str) -> bool:
    """Whether the case has an instance of `key` already (started by this operator or otherwise)."""
    return session.scalar(sa.select(sa.literal(True)).select_from(ProcessInstance)
                          .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                          .where(ProcessInstance.business_key == business_key, ProcessDefinition.key == key)
                          .limit(1)) is not None


# By an actor -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Started:
    instance_id: int
    process_key: str
    version: int
    business_key: str


def start_process(engine: Engine, actor: Any, key: str, business_key: str, data: Mapping[str, Any]) -> Started:
    """Start the latest version of process `key` for a case, as the start event's `role` allows,
    with data validated against the start event's `form` (if it names one)."""
    return engine.retrying(lambda: _start(engine, actor, key, business_key, data))


def _start(engine: Engine, actor: Any, key: str, business_key: str, data: Mapping[str, Any]) -> Started:
    with engine.transaction() as session:
        definition = latest_definition(session, key, required=False)
        if definition is None:
            raise NotFound("No such process.")
        properties = spiff.start_event_properties(engine.specs.get(definition, session))
        role = properties.get("role")
        policy = policy_of(engine)
        if role is None or not policy.may_start(session, actor, role, business_key):
            raise NotFound("No such process.")  # nothing said about processes one may not start
        form_key = properties.get("form")
        form = engine.forms(session, definition).get(form_key) if form_key else None
        today = engine.clock.now().astimezone(SHANGHAI).date()
        if form is None and data:
            raise ValidationFailed({k: ["This process takes no start data."] for k in data},
                                   problems={k: [("unknown_field", {})] for k in data})
        values = validate_submission(form, data, today) if form is not None else {}
        now = engine.clock.now()
        probe = ProcessInstance(business_key=business_key)
        context = engine.binding_of(key).context(session, probe)
        operation = engine.start(session, definition, business_key,
                                 {**values, "started_at": now.isoformat(), "started_by": actor.id,
                                  "application_reference": business_key}, context)
        operation.actor = actor
        operation.save(actor.id)
        record_audit(session, now, actor.id, "process_started", application_id=context.case_id,
                     instance_id=operation.instance.id,
                     detail={"process": key, "version": definition.version})
        return Started(operation.instance.id, key, definition.version, business_key)


def started_of(engine: Engine, instance_id: int) -> Started:
    """What `start_process` answers, for an instance started another way (a façade)."""
    with engine.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("No such process instance.")
        definition = engine.definition(session, instance.definition_id)
        return Started(instance.id, definition.key, definition.version, instance.business_key)
