"""What the loan process's service tasks do, and how an instance maps to its application."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.loans import figures
from engine.loans.financing_problems import PROBLEM_EFFECTS, PROBLEM_OPERATORS, problem_services
from engine.loans.objections import OBJECTION_EFFECTS, OBJECTION_OPERATORS, objection_services
from engine.loans.operations import EFFECTS, close_open_breaches
from engine.loans.satisfaction import SURVEY_EFFECTS
from engine.models import LoanApplication, ProcessInstance, SlaBreach, TaskRow, TimerRow, table_of
from engine.workflow.adapter import ServiceHandler, SpiffTask, fired_timer_of, task_bpmn_id, task_properties
from engine.workflow.binding import InstanceContext
from engine.workflow.database import insert_ignoring_conflicts
from engine.workflow.errors import ModelError, NotFound
from engine.workflow.journal import enqueue, insert_then, is_deferred, record_audit
from engine.workflow.process_starts import start_process_handler
from engine.workflow.runtime import InstanceOperation

LOAN_PROCESS_KEY = "loan_lifecycle"
TIMER_ACTOR = "system:timer"
# `sla_breach`/`sla_reminder` are the names models deployed before the registry used.
SERVICE_OPERATORS = {"record_breach", "sla_breach", "send_reminder", "sla_reminder", "start_process"}
_BREACH = table_of(SlaBreach)
_TIMER = table_of(TimerRow)
BREACH_KINDS = "breach_kinds"  # InstanceContext.prefetched: the kinds held against the application
_BREACH_KINDS = sa.select(_BREACH.c.application_id, _BREACH.c.kind).where(
    _BREACH.c.application_id.in_(sa.bindparam("application_ids", expanding=True)))
_TIMER_PROVISIONAL = sa.select(_TIMER.c.provisional).where(
    _TIMER.c.instance_id == sa.bindparam("instance_id"), _TIMER.c.spiff_task_id == sa.bindparam("spiff_task_id"))


def application_of(session: Session, instance_id: int) -> LoanApplication | None:
    return session.scalars(sa.select(LoanApplication).where(LoanApplication.instance_id == instance_id)).first()




class LoanBinding:
    """Binds the `loan_lifecycle` process to loan applications."""

    def context(self, session: Session, instance: ProcessInstance) -> InstanceContext:
        """The application a case runs for: the lifecycle's own, or the one its business key names."""
        application = application_of(session, instance.id)
        if application is None:
            application = session.scalars(sa.select(LoanApplication).where(
                LoanApplication.reference == instance.business_key)).first()
        if application is None:
            return InstanceContext()
        return InstanceContext(application.id, application.institution_id, application)

    def contexts(self, session: Session, instances: list[ProcessInstance]) -> dict[int, InstanceContext]:
        """As `context`, for many instances: the lifecycles' applications in one query, the applications
        other processes run for (by business key) in one more."""
        found = {application.instance_id: application for application in session.scalars(
            sa.select(LoanApplication).where(LoanApplication.instance_id.in_([i.id for i in instances])))}
        keyed = {instance.business_key: instance.id for instance in instances if instance.id not in found}
        if keyed:
            for application in session.scalars(sa.select(LoanApplication).where(
                    LoanApplication.reference.in_(list(keyed)))):
                found[keyed[application.reference]] = application
        # The kinds already held against each application, read under the sweep's lock: a breach is written
        # only by an operation holding its case's lock, so the batch's new ones can go out together.
        breaches: dict[int, set[str]] = {application.id: set() for application in found.values()}
        if breaches:
            for application_id, kind in session.execute(_BREACH_KINDS, {"application_ids": list(breaches)}):
                breaches[application_id].add(kind)
        return {instance.id: (InstanceContext(found[instance.id].id, found[instance.id].institution_id,
                                              found[instance.id],
                                              {BREACH_KINDS: breaches[found[instance.id].id]})
                              if instance.id in found else InstanceContext())
                for instance in instances}

    def effects(self, operation: InstanceOperation) -> dict[str, Any]:
        return {**EFFECTS, **SURVEY_EFFECTS, **OBJECTION_EFFECTS, **PROBLEM_EFFECTS}

    def operation_names(self) -> set[str]:
        return (set(EFFECTS) | set(SURVEY_EFFECTS) | set(OBJECTION_EFFECTS) | set(PROBLEM_EFFECTS)
                | SERVICE_OPERATORS | set(OBJECTION_OPERATORS) | set(PROBLEM_OPERATORS))

    def task_completed(self, operation: InstanceOperation, task: Any) -> None:
        """Acting on a task settles the open breach of the commitment its deadline measured."""
        if task.commitment is None or operation.context.case_id is None:
            return
        if task.due_at is not None and task.due_at > operation.now:
            # Breaches are recorded only when a deadline fires, and an earlier task's breach of this
            # commitment was settled when that task completed: nothing can be open (one SELECT saved).
            return
        application = _application(operation)
        if application is not None:
            close_open_breaches(operation.session, application, operation, "acted", (task.commitment,))

    def services(self, operation: InstanceOperation) -> dict[str, ServiceHandler]:
        def breach(task: SpiffTask, params: dict[str, Any]) -> dict[str, Any]:
            return record_breach(operation, task, params.get("kind"))

        def reminder(task: SpiffTask, params: dict[str, Any]) -> dict[str, Any]:
            return send_reminder(operation, task, params.get("kind"))

        return {"record_breach": breach, "sla_breach": breach, "send_reminder": reminder, "sla_reminder": reminder,
                "start_process": start_process_handler(operation), **objection_services(operation),
                **problem_services(operation)}

    def after_save(self, operation: InstanceOperation) -> None:
        """Copy deadlines computed by this operation onto the application."""
        computed = operation.provisional_dues
        if not computed or operation.context.case_id is None:
            return
        application = _application(operation)
        if application is None:
            raise NotFound(f"Application {operation.context.case_id} doesn't exist.")
        for task, due in operation.snapshot.timers.values():
            properties = task_properties(task)
            if properties.get("timerKind") != "deadline" or due.isoformat() not in computed:
                continue
            provisional = computed[due.isoformat()]
            commitment = properties.get("commitment") or properties.get("slaKind")
            if commitment == "accept":
                application.accept_due, application.accept_due_provisional = due, provisional
            elif commitment == "decision":
                application.decision_due, application.decision_due_provisional = due, provisional


def _application(operation: InstanceOperation) -> LoanApplication | None:
    context = operation.context
    if context.case_id is None:
        return None
    if isinstance(context.record, LoanApplication):
        return context.record
    return operation.session.get(LoanApplication, context.case_id)


def record_breach(operation: InstanceOperation, task: SpiffTask, kind: str | None) -> dict[str, Any]:
    """Hold a missed deadline against the institution (the task itself stays open).

    `kind` defaults to the commitment the fired timer measures; a timer whose `breachAgainst`
    is `none` records nothing (a deadline that only routes the process).
    """
    application = _application(operation)
    if application is None:
        return {"recorded": False}
    session = operation.session
    timer_id, due, properties = fired_timer_of(task)
    if properties.get("breachAgainst", "institution") == "none":
        return {"recorded": False}
    kind = kind or properties.get("commitment") or properties.get("slaKind")
    if not kind:
        raise ModelError("record_breach needs a kind, or a timer with a commitment property",
                         activity=task_bpmn_id(task))
    provisional = operation.timer_provisional.get(timer_id)  # read with the sweep's claim, else now
    if provisional is None:
        provisional = bool(session.connection().execute(_TIMER_PROVISIONAL, {
            "instance_id": operation.instance.id, "spiff_task_id": timer_id}).scalar())
    breach = {
        "institution_id": application.institution_id, "application_id": application.id, "kind": kind,
        "due_at": due, "breached_at": operation.now, "provisional": provisional, "resolved_at": None,
        "late_seconds": None, "late_working_days": None, "resolution": None,
    }
    # One breach per application and kind: a second firing (a re-run after a model change, or another
    # process of the same application recording the same kind meanwhile) adds nothing, and tells no one.
    held = operation.context.prefetched.get(BREACH_KINDS)
    if held is not None and is_deferred(session):  # a sweep's batch: the kinds read under its lock
        if kind in held:
            return {"recorded": False}
        held.add(kind)

    def consequences() -> None:
        figures.note_breach_recorded(session, application.institution_id, kind, operation.now)
        record_audit(session, operation.now, TIMER_ACTOR, "sla_breached", application_id=application.id,
                     instance_id=operation.instance.id, status_before=application.status,
                     status_after=application.status,
                     detail={"kind": kind, "due_at": due.isoformat(), "provisional": provisional})
        enqueue(session, operation.now, "sla.breached", {
            "application": application.reference, "institution_id": application.institution_id,
            "kind": kind, "due_at": due.isoformat(), "provisional": provisional,
        })

    inserted = insert_then(session, insert_ignoring_conflicts(session, _BREACH, _BREACH.c.application_id,
                                                              _BREACH.c.kind), breach, (application.id, kind),
                           consequences)
    # In a sweep's batch (None) recorded as far as the batch knows; the ledger's unique key decides.
    return {"recorded": inserted is not False}

def send_reminder(operation: InstanceOperation, task: SpiffTask, kind: str | None) -> dict[str, Any]:
    """Queue a reminder that a deadline is one working day away."""
    application = _application(operation)
    if application is None:
        return {"sent": False}
    if not kind:
        properties = fired_timer_of(task)[2]
        kind = properties.get("commitment") or properties.get("slaKind") or "deadline"
    due = {"accept": application.accept_due, "decision": application.decision_due}.get(kind)
    if due is None:  # another commitment: the deadline of the open task it measures
        due = operation.session.scalar(sa.select(TaskRow.due_at).where(
            TaskRow.instance_id == operation.instance.id, TaskRow.commitment == kind, TaskRow.state == "open"))
    if due is None:
        _, due = fired_timer_of(task)[:2]
    if due <= operation.now:
        return {"sent": False}  # the deadline passed already (a late sweep): a breach says more
    record_audit(operation.session, operation.now, TIMER_ACTOR, "sla_reminder", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status, detail={"kind": kind, "due_at": due.isoformat()})
    enqueue(operation.session, operation.now, "sla.reminder", {
        "application": application.reference, "institution_id": application.institution_id,
        "kind": kind, "due_at": due.isoformat(),
    })
    return {"sent": True}
