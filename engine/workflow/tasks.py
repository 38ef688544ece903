"""The generic task runtime: every user task of every deployed process, listed, read, claimed,
assigned and completed the same way, with its form validated on the server.

Who may see and act on which task is the platform's decision (a `TaskPolicy` installed on the
engine): this module knows roles only as the strings a model's `role` property holds, and
effects on the domain only as the names in a task's `onComplete` property (the binding's
registry of operations). Each function is one transaction that locks the task's case first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow import adapter as spiff
from engine.workflow.errors import (
    ConcurrencyConflict,
    Forbidden,
    InvalidTransition,
    ModelError,
    NotFound,
    StepAlreadyTaken,
    ValidationFailed,
)
from engine.workflow.form_submissions import validate_submission
from engine.workflow.forms import FormDefinition
from engine.workflow.instance_lock import InstanceLock
from engine.workflow.journal import record_audit
from engine.workflow.models import ProcessDefinition, ProcessInstance, TaskRow
from engine.workflow.retry import retry_on_conflict
from engine.workflow.runtime import Engine, InstanceOperation
from engine.workflow.working_days import SHANGHAI

TASK_NOT_FOUND = "No such task."


class TaskActor(Protocol):
    """Whoever acts: the runtime needs only the id the audit trail shows."""

    @property
    def id(self) -> str: ...


class TaskPolicy(Protocol):
    """The platform's rules: which tasks an actor sees and may act on (tenancy, roles)."""

    def visible(self, actor: Any) -> sa.ColumnElement[bool]:
        """A condition on TaskRow (and whatever it joins through `join`) for the actor's tasks."""
        ...

    def join(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """Add the joins `visible` needs."""
        ...

    def may_act(self, session: Session, actor: Any, task: TaskRow) -> bool: ...

    def may_manage(self, actor: Any, task: TaskRow) -> bool:
        """Whether the actor may give back or assign a colleague's task (an institution admin)."""
        ...

    def acts_as_institution(self, actor: Any) -> bool:
        """A bank's own system acts for the whole institution: a colleague's claim does not stop it."""
        ...

    def assignable(self, session: Session, actor: Any, task: TaskRow, username: str) -> bool: ...

    def case_status(self, session: Session, task: TaskRow) -> str | None:
        """The status of the task's case, for the audit trail."""
        ...

    def may_start(self, session: Session, actor: Any, role: str, business_key: str) -> bool:
        """Whether the actor may start, for the case `business_key`, a process whose start event names `role`."""
        ...


class NoTasks:
    """The policy of an engine nobody configured: no task is anyone's."""

    def visible(self, actor: Any) -> sa.ColumnElement[bool]:
        return sa.false()

    def join(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query

    def may_act(self, session: Session, actor: Any, task: TaskRow) -> bool:
        return False

    def may_manage(self, actor: Any, task: TaskRow) -> bool:
        return False

    def acts_as_institution(self, actor: Any) -> bool:
        return False

    def assignable(self, session: Session, actor: Any, task: TaskRow, username: str) -> bool:
        return False

    def case_status(self, session: Session, task: TaskRow) -> str | None:
        return None

    def may_start(self, session: Session, actor: Any, role: str, business_key: str) -> bool:
        return False


@dataclass
class TaskView:
    """A task as its actor sees it: the projection row, its process and, when read alone, its form."""

    row: TaskRow
    process_key: str
    process_name: str
    process_version: int
    business_key: str
    form: FormDefinition | None = None
    documentation: str | None = None
    working_days_left: int | None = None
    # The task's and the process's names in English, from the model's `en.name` properties.
    name_en: str | None = None
    process_name_en: str | None = None
    # The process variables the form's display texts show (`{{ name }}`), read for one task only.
    shown: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.row.id

    def name_in(self, language: str) -> str:
        return (self.name_en if language == "en" else None) or self.row.name

    def process_name_in(self, language: str) -> str:
        return (self.process_name_en if language == "en" else None) or self.process_name


@dataclass(frozen=True)
class TaskPage:
    items: list[TaskView]
    total: int


def policy_of(engine: Engine) -> TaskPolicy:
    policy = getattr(engine, "task_policy", None)
    return policy if policy is not None else NoTasks()


def _visible_query(engine: Engine, actor: Any) -> sa.Select[Any]:
    policy = policy_of(engine)
    query: Any = (sa.select(TaskRow, ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.version,
                            ProcessInstance.business_key, ProcessDefinition.id)
             .join(ProcessInstance, ProcessInstance.id == TaskRow.instance_id)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id))
    return policy.join(query).where(policy.visible(actor))


def list_tasks(engine: Engine, actor: Any, *, state: str = "open", process_key: str | None = None,
               case_id: int | None = None, mine: bool = False, limit: int = 50, offset: int = 0) -> TaskPage:
    """The tasks an actor may act on across all processes, soonest deadline first."""
    with engine.reading() as session:
        query = _visible_query(engine, actor).where(TaskRow.state == state)
        if process_key is not None:
            query = query.where(ProcessDefinition.key == process_key)
        if case_id is not None:
            query = query.where(TaskRow.application_id == case_id)
        if mine:
            query = query.where(TaskRow.assignee == actor.id)
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        rows = session.execute(query.order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id)
                               .limit(limit).offset(offset)).all()
        calendar = engine.calendars.get(session) if rows else None
        now = engine.clock.now()
        items = []
        for row, key, name, version, business_key, definition_id in rows:
            view = _named(engine, session, definition_id, TaskView(row, key, name, version, business_key))
            if calendar is not None and row.due_at is not None and row.state == "open":
                view.working_days_left = _working_days_left(calendar, now, row.due_at)
            items.append(view)
        return TaskPage(items, total)


def _named(engine: Engine, session: Session, definition_id: int, view: TaskView) -> TaskView:
    """The English names the model gives (parsed models are cached: no reads)."""
    model = engine.specs.get(engine.definition(session, definition_id), session)
    view.name_en = spiff.element_properties(model, view.row.bpmn_id).get("en.name")
    view.process_name_en = model.properties.get("en.name")
    return view


def _working_days_left(calendar: Any, now: datetime, due: datetime) -> int:
    """Working days from today to the due day (negative: how many working days late)."""
    if due > now:
        return int(calendar.working_days_left(now, due))
    return -int(calendar.working_days_late(due, now))


def get_task(engine: Engine, actor: Any, task_id: int) -> TaskView:
    """One task the actor may see, with its form and the model's documentation of it."""
    with engine.reading() as session:
        found = session.execute(_visible_query(engine, actor).where(TaskRow.id == task_id)).first()
        if found is None:
            raise NotFound(TASK_NOT_FOUND)
        row, key, name, version, business_key, definition_id = found
        view = _named(engine, session, definition_id, TaskView(row, key, name, version, business_key))
        definition = engine.definition(session, definition_id)
        if row.form_key:
            view.form = engine.forms(session, definition).get(row.form_key)
        view.documentation = engine.documentation(session, definition, row.bpmn_id)
        if view.form is not None and view.form.shown_variables and row.state == "open":
            instance = session.get(ProcessInstance, row.instance_id)
            data = spiff.task_data(instance.state, row.spiff_task_id) if instance is not None else {}
            view.shown = {name: data.get(name) for name in sorted(view.form.shown_variables)}
        if row.due_at is not None and row.state == "open":
            view.working_days_left = _working_days_left(engine.calendars.get(session), engine.clock.now(), row.due_at)
        return view


def _lock_task(engine: Engine, session: Session, actor: Any, task_id: int) -> tuple[TaskRow, ProcessInstance]:
    """Lock the task's case, then read the task as it stands; NotFound unless the actor may see it."""
    instance = engine.lock_instance(session, _INSTANCE_OF_TASK, {"task_id": task_id})
    found = session.execute(_visible_query(engine, actor).where(TaskRow.id == task_id)
                            .execution_options(populate_existing=True)).first()
    if instance is None or found is None:
        raise NotFound(TASK_NOT_FOUND)
    return found[0], instance


_INSTANCE_OF_TASK = InstanceLock.where_id(
    sa.select(TaskRow.instance_id).where(TaskRow.id == sa.bindparam("task_id")).scalar_subquery())


def _claimed_by(assignee: str | None) -> ConcurrencyConflict:
    """A colleague holds the task: running again would not change that (not retryable)."""
    conflict = ConcurrencyConflict("Already claimed by a colleague", status="claimed", assignee=assignee)
    conflict.retryable = False
    return conflict


def _ensure_open(task: TaskRow) -> None:
    if task.state == "completed":
        raise StepAlreadyTaken("This task is no longer open", status=task.state)
    if task.state != "open":
        raise ConcurrencyConflict("This task is no longer open", status=task.state)


def _audit(session: Session, engine: Engine, actor: Any, task: TaskRow, action: str, **detail: Any) -> None:
    status = policy_of(engine).case_status(session, task)
    record_audit(session, engine.clock.now(), actor.id, action, application_id=task.application_id,
                 instance_id=task.instance_id, status_before=status, status_after=status,
                 detail={"task": task.bpmn_id, "name": task.name, **detail})


@retry_on_conflict
def claim(engine: Engine, actor: Any, task_id: int, take_over: bool = False) -> TaskRow:
    """Reserve a task for myself; a colleague's claim is taken over only when asked (audited)."""
    with engine.transaction() as session:
        task, _ = _lock_task(engine, session, actor, task_id)
        _ensure_open(task)
        if not policy_of(engine).may_act(session, actor, task):
            raise Forbidden("You may not act on this task")
        previous = task.assignee
        if previous not in (None, actor.id) and not take_over:
            raise _claimed_by(previous)
        if previous == actor.id:
            return task
        task.assignee, task.claimed_at = actor.id, engine.clock.now()
        if previous is None:
            _audit(session, engine, actor, task, "task_claimed", assignee=actor.id)
        else:
            _audit(session, engine, actor, task, "task_taken_over", assignee=actor.id, previous=previous)
        return task


@retry_on_conflict
def unclaim(engine: Engine, actor: Any, task_id: int) -> TaskRow:
    """Give a task back to the pool (its assignee, or whoever manages the task's team)."""
    with engine.transaction() as session:
        task, _ = _lock_task(engine, session, actor, task_id)
        _ensure_open(task)
        if task.assignee != actor.id and not policy_of(engine).may_manage(actor, task):
            raise Forbidden("Only the assignee or an institution admin can give the task back")
        task.assignee, task.claimed_at = None, None
        _audit(session, engine, actor, task, "task_unclaimed", assignee=None)
        return task


@retry_on_conflict
def assign(engine: Engine, actor: Any, task_id: int, username: str) -> TaskRow:
    """Give a task to a colleague who may act on it."""
    with engine.transaction() as session:
        task, _ = _lock_task(engine, session, actor, task_id)
        _ensure_open(task)
        policy = policy_of(engine)
        if not policy.may_act(session, actor, task):
            raise Forbidden("You may not act on this task")
        if not policy.assignable(session, actor, task, username):
            raise ValidationFailed({"assignee": ["No such colleague at your institution."]},
                                   problems={"assignee": [("no_such_colleague", {})]})
        task.assignee, task.claimed_at = username, engine.clock.now()
        _audit(session, engine, actor, task, "task_assigned", assignee=username)
        return task


@dataclass(frozen=True)
class Completion:
    """What completing a task did: the validated values and the case's status around it."""

    task: TaskRow
    values: dict[str, Any]
    status_before: str | None
    status_after: str | None


# Named operations a task's `onComplete` property may call: (operation, task row, values) -> data
# merged into the task's data before the BPMN task completes (so gateways and timers can use it).
CompletionEffect = Callable[[InstanceOperation, TaskRow, dict[str, Any]], Mapping[str, Any] | None]


def complete(engine: Engine, actor: Any, task_id: int, data: Mapping[str, Any]) -> Completion:
    """Complete a task with data validated against its form; effects run as the model declares."""
    return engine.retrying(lambda: _complete(engine, actor, task_id, data))


def _complete(engine: Engine, actor: Any, task_id: int, data: Mapping[str, Any]) -> Completion:
    with engine.transaction() as session:
        task, instance = _lock_task(engine, session, actor, task_id)
        operation = engine.open(session, instance)
        # Timers that came due before this step fire first, so a late step is seen as late.
        operation.fire_due_timers()
        return complete_in(operation, actor, task, data)


def complete_in(operation: InstanceOperation, actor: Any, task: TaskRow, data: Mapping[str, Any]) -> Completion:
    """Complete `task` inside an open operation (the façade and `complete` share this)."""
    engine, session = operation.engine, operation.session
    _ensure_open(task)
    policy = policy_of(engine)
    if not policy.may_act(session, actor, task):
        raise Forbidden("You may not act on this task")
    if task.assignee not in (None, actor.id) and not policy.acts_as_institution(actor):
        raise _claimed_by(task.assignee)
    spiff_task = spiff.find_task(operation.workflow, task.spiff_task_id)
    if spiff_task is None or not spiff.is_ready_user_task(spiff_task):
        raise InvalidTransition("The process has no open task for this step", status=task.state)
    form = engine.forms(session, operation.definition).get(task.form_key) if task.form_key else None
    today = engine.clock.now().astimezone(SHANGHAI).date()
    values = validate_submission(form, data, today) if form is not None else {}
    if form is None and data:
        raise ValidationFailed({key: ["This task takes no data."] for key in data},
                               problems={key: [("unknown_field", {})] for key in data})
    status_before = policy.case_status(session, task)
    operation.actor = actor
    merged = dict(values)
    effect_name = spiff.task_properties(spiff_task).get("onComplete")
    if effect_name:
        effect = operation.effects().get(effect_name)
        if effect is None:
            raise ModelError(f"User task {task.bpmn_id} names the unknown operation {effect_name!r}",
                             activity=task.bpmn_id)
        merged.update(effect(operation, task, values) or {})
    merged.setdefault("completed_by", actor.id)
    operation.complete(spiff_task, merged)
    operation.binding.task_completed(operation, task)
    operation.save(actor.id)
    status_after = policy.case_status(session, task)
    if not effect_name:  # an effect journals the step in the domain's own words
        record_audit(session, engine.clock.now(), actor.id, "task_completed", application_id=task.application_id,
                     instance_id=task.instance_id, status_before=status_before, status_after=status_after,
                     detail={"task": task.bpmn_id, "name": task.name, "form": task.form_key})
    return Completion(task, values, status_before, status_after)
