"""Moving running instances from the version of their process they started on to another one.

Spiff's diff aligns the old model's elements with the new one's by BPMN id. Every ready or
waiting task is reset onto its new element: a timer whose element changed evaluates its
expression again (its new due time goes to `timer`), one that did not change keeps its due time.
A case is refused, and nothing changes, when a task it is at, or one it has passed, has no
element in the target. A migration locks the case, moves it, points it at the new definition,
fires what is due by then, saves through the normal path (so `task` and `timer` follow by
difference: rows of tasks that no longer exist are cancelled) and is audited, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow import adapter as spiff
from engine.workflow.errors import EngineError, InvalidTransition, ModelError, NotFound, ValidationFailed
from engine.workflow.journal import record_audit
from engine.workflow.models import ProcessDefinition, ProcessInstance, TaskRow, TimerRow, table_of
from engine.workflow.runtime import Engine, InstanceOperation

AUDIT_ACTION = "instance_migrated"
MAX_REASON_LENGTH = 500
_TEXTS = {
    "not_running": "Instance {instance} is not running (it is {status}); only running cases are migrated.",
    "no_target": "Process {process} has no version {version}.",
    "other_process": "Version {version} of {target_process} belongs to another process than the case's "
                     "({process}); a case moves only between versions of its own process.",
    "same_version": "Instance {instance} already runs on {process} version {version}.",
    "active_task_removed": "The case is at {task}, which {process} version {version} no longer has.",
    "finished_task_removed": "The case has passed {task}, which {process} version {version} no longer has; "
                             "its history could not be read on that version.",
    "subprocess_removed": "The case runs subprocess {task}, which {process} version {version} no longer has.",
    "incompatible_model": "{process} version {version} cannot be aligned with the case's version: {detail}",
    "model_error": "Moving the case onto {process} version {version} fails: {detail}",
}


class MigrationRefused(InvalidTransition):
    """A case cannot move to the version asked for; `code` says why, `params` about what."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(_TEXTS[code].format(**params), **params)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class TaskOutcome:
    """A task the case is at (ready user task, waiting event or timer) and what migrating does to it."""

    bpmn_id: str
    name: str
    kind: str  # user_task | timer | event | task
    state: str  # ready | waiting | started
    outcome: str  # kept | reset (its element changed) | removed (no such element: refused)
    changes: tuple[str, ...]  # the attributes of its element that differ
    target_bpmn_id: str | None


@dataclass(frozen=True)
class TimerOutcome:
    """A waiting timer: its due time before and after; `re_evaluated` if its element changed."""

    bpmn_id: str
    due_before: datetime | None
    due_after: datetime | None
    re_evaluated: bool
    due_now: bool  # fires as soon as the case is migrated


@dataclass(frozen=True)
class ElementChange:
    element: str
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class MigrationPreview:
    """What migrating one case would do, or why it cannot be done (`possible` False, a reason)."""

    instance_id: int
    business_key: str
    process_key: str
    from_version: int
    to_version: int | None
    possible: bool
    reason_code: str | None
    reason: str | None
    tasks: tuple[TaskOutcome, ...] = ()
    timers: tuple[TimerOutcome, ...] = ()
    changed_elements: tuple[ElementChange, ...] = ()
    added_elements: tuple[str, ...] = ()
    removed_elements: tuple[str, ...] = ()


@dataclass(frozen=True)
class MigrationResult:
    """A case moved: from and to which version, what was reset, the timers' due times."""

    instance_id: int
    business_key: str
    process_key: str
    from_version: int
    to_version: int
    tasks: tuple[TaskOutcome, ...]
    timers: tuple[TimerOutcome, ...]
    reason: str

    @property
    def reset_tasks(self) -> list[str]:
        return [task.bpmn_id for task in self.tasks if task.outcome == "reset"]


@dataclass(frozen=True)
class CaseOutcome:
    """One case of a bulk migration: migrated, would_migrate (dry run), refused or failed."""

    instance_id: int
    business_key: str
    outcome: str
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class BulkMigration:
    key: str
    from_version: int
    to_version: int
    dry_run: bool
    cases: tuple[CaseOutcome, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)


def _definition(engine: Engine, session: Session, key: str, version: int) -> ProcessDefinition | None:
    found = session.scalar(sa.select(ProcessDefinition.id).where(
        ProcessDefinition.key == key, ProcessDefinition.version == version))
    return engine.definition(session, found) if found is not None else None


def _latest(engine: Engine, session: Session, key: str) -> ProcessDefinition | None:
    found = session.scalar(sa.select(ProcessDefinition.id).where(ProcessDefinition.key == key)
                           .order_by(ProcessDefinition.version.desc()).limit(1))
    return engine.definition(session, found) if found is not None else None


def _versions(engine: Engine, session: Session, instance: ProcessInstance, target_version: int | None,
              target_key: str | None) -> tuple[ProcessDefinition, ProcessDefinition]:
    """The case's definition and the target; MigrationRefused when the case cannot move there."""
    source = engine.definition(session, instance.definition_id)
    if instance.status != "running":
        raise MigrationRefused("not_running", instance=instance.id, status=instance.status)
    key = target_key or source.key
    if target_version is None:
        target = _latest(engine, session, key)
    else:
        target = _definition(engine, session, key, target_version)
    if target is None:
        raise MigrationRefused("no_target", process=key, version=target_version)
    if target.key != source.key:
        raise MigrationRefused("other_process", process=source.key, target_process=target.key,
                               version=target.version)
    if target.id == source.id:
        raise MigrationRefused("same_version", instance=instance.id, process=source.key, version=source.version)
    return source, target


def _blocked(changes: spiff.WorkflowChanges, target: ProcessDefinition) -> MigrationRefused:
    blocker = changes.blockers[0]
    if blocker.code == "incompatible_model":
        return MigrationRefused(blocker.code, process=target.key, version=target.version, detail=blocker.message)
    return MigrationRefused(blocker.code, task=blocker.element, process=target.key, version=target.version)


def _task_outcomes(changes: spiff.WorkflowChanges) -> tuple[TaskOutcome, ...]:
    return tuple(TaskOutcome(task.bpmn_id, task.name, task.kind, task.state, task.outcome, task.changes,
                             task.target_bpmn_id) for task in changes.active)


def _timer_outcomes(changes: spiff.WorkflowChanges, before: dict[str, datetime], after: dict[str, datetime],
                    now: datetime) -> tuple[TimerOutcome, ...]:
    timers = [task for task in changes.active if task.kind == "timer"]
    return tuple(TimerOutcome(task.target_bpmn_id or task.bpmn_id, before.get(task.spiff_id),
                              after.get(task.spiff_id), task.outcome == "reset",
                              task.spiff_id in after and after[task.spiff_id] <= now) for task in timers)


def _operation_on(engine: Engine, session: Session, instance: ProcessInstance,
                  target: ProcessDefinition, source: ProcessDefinition) -> InstanceOperation:
    """An operation of the target version on the case, for a dry run (nothing of it is saved)."""
    context = engine.binding_of(source.key).context(session, instance)
    return InstanceOperation(engine, session, instance, target, context)


def preview(engine: Engine, instance_id: int, target_version: int | None = None,
            target_key: str | None = None) -> MigrationPreview:
    """What migrating a case to `target_version` (default: the latest of its process) would do.

    Nothing is written: the case is restored from its stored state and moved in memory.
    """
    with engine.reading() as session:
        instance = session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound("No such process instance.")
        source = engine.definition(session, instance.definition_id)
        base: dict[str, Any] = {"instance_id": instance.id, "business_key": instance.business_key,
                                "process_key": source.key, "from_version": source.version}
        try:
            source, target = _versions(engine, session, instance, target_version, target_key)
        except MigrationRefused as refused:
            return MigrationPreview(**base, to_version=target_version, possible=False, reason_code=refused.code,
                                    reason=refused.message)
        operation = _operation_on(engine, session, instance, target, source)
        workflow = spiff.load_state(instance.state, engine.specs.get(source, session), operation.script_engine)
        changes = spiff.diff_instance(workflow, operation.model)
        refusal, timers = _simulate(engine, workflow, operation.model, changes, target)
        return MigrationPreview(
            **base, to_version=target.version, possible=refusal is None,
            reason_code=refusal.code if refusal else None, reason=refusal.message if refusal else None,
            tasks=_task_outcomes(changes), timers=timers,
            changed_elements=tuple(ElementChange(element, attributes)
                                   for element, attributes in sorted(changes.changed_elements.items())),
            added_elements=changes.added_elements, removed_elements=changes.removed_elements)


def _simulate(engine: Engine, workflow: Any, model: Any, changes: spiff.WorkflowChanges,
              target: ProcessDefinition) -> tuple[MigrationRefused | None, tuple[TimerOutcome, ...]]:
    """Migrate a throwaway copy of the case to learn the timers' new due times (or that it fails)."""
    if not changes.possible:
        return _blocked(changes, target), ()
    before = spiff.timer_dues(workflow)
    try:
        spiff.migrate_instance(workflow, model)
    except ModelError as error:
        return MigrationRefused("model_error", process=target.key, version=target.version, detail=error.message), ()
    return None, _timer_outcomes(changes, before, spiff.timer_dues(workflow), engine.clock.now())


_INSTANCE = table_of(ProcessInstance)
_TASK = table_of(TaskRow)
_TIMER = table_of(TimerRow)


def _refresh_rows(session: Session, instance: ProcessInstance, changes: spiff.WorkflowChanges) -> None:
    """Rows of tasks that stay (same Spiff id) but whose element changed take what the projections
    derive from the element: names, lane, role, form, API step; a timer's id, kind and commitment."""
    for task in changes.active:
        if task.outcome != "reset" or task.target_bpmn_id is None:
            continue
        properties = task.target_properties
        if task.kind == "user_task":
            session.connection().execute(sa.update(_TASK).where(
                _TASK.c.instance_id == instance.id, _TASK.c.spiff_task_id == task.spiff_id, _TASK.c.state == "open",
            ).values(bpmn_id=task.target_bpmn_id, name=task.target_name, lane=task.target_lane,
                     role=properties.get("role"), form_key=properties.get("form"),
                     api_step=properties.get("apiStep")))
        elif task.kind == "timer":
            session.connection().execute(sa.update(_TIMER).where(
                _TIMER.c.instance_id == instance.id, _TIMER.c.spiff_task_id == task.spiff_id,
            ).values(bpmn_id=task.target_bpmn_id, kind=properties.get("timerKind"),
                     sla_kind=properties.get("commitment") or properties.get("slaKind")))


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed({"reason": [f"Say why the case is migrated (1 to {MAX_REASON_LENGTH} characters)."]})
    return reason


def migrate(engine: Engine, instance_id: int, target_version: int, actor: str, reason: str,
            target_key: str | None = None) -> MigrationResult:
    """Move a running case onto `target_version` of its process, or refuse and change nothing."""
    reason = _check_reason(reason)

    def run() -> MigrationResult:
        with engine.transaction() as session:
            instance = engine.lock_instance(session, instance_id)
            if instance is None:
                raise NotFound("No such process instance.")
            source, target = _versions(engine, session, instance, target_version, target_key)
            # Restored on its own version (the snapshot is the projections as they are), run and
            # saved as the target: saving writes the difference and points the case at the target.
            operation = engine.open(session, instance, definition=target)
            before = spiff.timer_dues(operation.workflow)
            changes = spiff.migrate_instance(operation.workflow, operation.model)
            if not changes.possible:
                raise _blocked(changes, target)
            now = engine.clock.now()
            re_evaluated = spiff.timer_dues(operation.workflow)
            spiff.run_due_timers(operation.workflow)
            operation.save(actor)
            _refresh_rows(session, instance, changes)
            result = MigrationResult(instance.id, instance.business_key, source.key, source.version,
                                     target.version, _task_outcomes(changes),
                                     _timer_outcomes(changes, before, re_evaluated, now), reason)
            record_audit(session, now, actor, AUDIT_ACTION, application_id=operation.context.case_id,
                         instance_id=instance.id, detail=_audit_detail(result))
            return result

    return engine.retrying(run)


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def _audit_detail(result: MigrationResult) -> dict[str, Any]:
    return {
        "process": result.process_key, "from_version": result.from_version, "to_version": result.to_version,
        "reason": result.reason, "reset_tasks": result.reset_tasks,
        "kept_tasks": [task.bpmn_id for task in result.tasks if task.outcome == "kept"],
        "timers": [{"timer": timer.bpmn_id, "due_before": _iso(timer.due_before), "due_after": _iso(timer.due_after),
                    "re_evaluated": timer.re_evaluated} for timer in result.timers],
    }


def migrate_all(engine: Engine, key: str, from_version: int, to_version: int, actor: str, reason: str,
                dry_run: bool = False) -> BulkMigration:
    """Migrate every running case of `key` version `from_version`, each in its own transaction.

    A refusal or failure of one case is noted and the others go on. With `dry_run` nothing is
    written: each case is previewed.
    """
    reason = _check_reason(reason)
    with engine.reading() as session:
        source = _definition(engine, session, key, from_version)
        if source is None:
            raise NotFound(f"Process {key} has no version {from_version}.")
        if _definition(engine, session, key, to_version) is None:
            raise MigrationRefused("no_target", process=key, version=to_version)
        cases = list(session.execute(sa.select(ProcessInstance.id, ProcessInstance.business_key).where(
            ProcessInstance.definition_id == source.id, ProcessInstance.status == "running",
        ).order_by(ProcessInstance.id)))
    outcomes = []
    for instance_id, business_key in cases:
        if dry_run:
            found = preview(engine, instance_id, to_version, key)
            outcomes.append(CaseOutcome(instance_id, business_key, "would_migrate" if found.possible else "refused",
                                        found.reason_code, found.reason))
            continue
        try:
            migrate(engine, instance_id, to_version, actor, reason, key)
            outcomes.append(CaseOutcome(instance_id, business_key, "migrated"))
        except MigrationRefused as refusal:
            outcomes.append(CaseOutcome(instance_id, business_key, "refused", refusal.code, refusal.message))
        except EngineError as error:  # the target's model fails on this case, or a conflict persisted
            outcomes.append(CaseOutcome(instance_id, business_key, "failed", error.code, error.message))
    return BulkMigration(key, from_version, to_version, dry_run, tuple(outcomes))
