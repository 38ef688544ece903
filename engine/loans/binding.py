"""What the loan process's service tasks do, and how an instance maps to its application."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.database import insert_ignoring_conflicts
from engine.errors import NotFound
from engine.journal import enqueue, record_audit
from engine.models import LoanApplication, ProcessInstance, SlaBreach, TimerRow, table_of
from engine.runtime import InstanceContext, InstanceOperation
from engine.spiff_adapter import ServiceHandler, SpiffTask, TimerEventDefinition, task_properties

TIMER_ACTOR = "system:timer"
_BREACH = table_of(SlaBreach)
_TIMER = table_of(TimerRow)


def application_of(session: Session, instance_id: int) -> LoanApplication | None:
    return session.scalars(sa.select(LoanApplication).where(LoanApplication.instance_id == instance_id)).first()


def _fired_timer(task: SpiffTask) -> tuple[str, datetime]:
    """The boundary timer whose branch led to this service task: its Spiff id and due time."""
    ancestor = task.parent
    while ancestor is not None:
        definition = getattr(ancestor.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            value = ancestor._get_internal_data("event_value")
            return str(ancestor.id), TimerEventDefinition.get_datetime(value)
        ancestor = ancestor.parent
    raise LookupError(f"{task.task_spec.bpmn_id} is not downstream of a timer")


class LoanBinding:
    """Binds the `loan_lifecycle` process to loan applications."""

    def context(self, session: Session, instance: ProcessInstance) -> InstanceContext:
        application = application_of(session, instance.id)
        if application is None:
            return InstanceContext()
        return InstanceContext(application.id, application.institution_id)

    def services(self, operation: InstanceOperation) -> dict[str, ServiceHandler]:
        return {
            "sla_breach": lambda task, params: record_breach(operation, task, params["kind"]),
            "sla_reminder": lambda task, params: send_reminder(operation, task, params["kind"]),
        }

    def after_save(self, operation: InstanceOperation) -> None:
        """Copy deadlines computed by this operation onto the application."""
        computed = operation.provisional_dues
        if not computed or operation.context.application_id is None:
            return
        application = _application(operation)
        if application is None:
            raise NotFound(f"Application {operation.context.application_id} doesn't exist.")
        for task, due in operation.snapshot.timers.values():
            properties = task_properties(task)
            if properties.get("timerKind") != "deadline" or due.isoformat() not in computed:
                continue
            provisional = computed[due.isoformat()]
            if properties.get("slaKind") == "accept":
                application.accept_due, application.accept_due_provisional = due, provisional
            elif properties.get("slaKind") == "decision":
                application.decision_due, application.decision_due_provisional = due, provisional


def _application(operation: InstanceOperation) -> LoanApplication | None:
    if operation.context.application_id is None:
        return None
    return operation.session.get(LoanApplication, operation.context.application_id)


def record_breach(operation: InstanceOperation, task: SpiffTask, kind: str) -> dict[str, Any]:
    """Hold a missed deadline against the institution (the task itself stays open)."""
    application = _application(operation)
    if application is None:
        return {"recorded": False}
    session = operation.session
    timer_id, due = _fired_timer(task)
    provisional = bool(session.execute(
        sa.select(_TIMER.c.provisional).where(
            _TIMER.c.instance_id == operation.instance.id, _TIMER.c.spiff_task_id == timer_id)
    ).scalar())
    # One breach per application and kind: a second firing (a re-run after a model change) adds nothing.
    inserted = session.execute(insert_ignoring_conflicts(session, _BREACH).returning(_BREACH.c.id), {
        "institution_id": application.institution_id, "application_id": application.id, "kind": kind,
        "due_at": due, "breached_at": operation.now, "provisional": provisional, "resolved_at": None,
        "late_seconds": None, "late_working_days": None, "resolution": None,
    }).first()
    if inserted is None:
        return {"recorded": False}
    record_audit(operation.session, operation.now, TIMER_ACTOR, "sla_breached", application_id=application.id,
                 instance_id=operation.instance.id, status_before=application.status,
                 status_after=application.status,
                 detail={"kind": kind, "due_at": due.isoformat(), "provisional": provisional})
    enqueue(operation.session, operation.now, "sla.breached", {
        "application": application.reference, "institution_id": application.institution_id,
        "kind": kind, "due_at": due.isoformat(), "provisional": provisional,
    })
    return {"recorded": True}


def send_reminder(operation: InstanceOperation, task: SpiffTask, kind: str) -> dict[str, Any]:
    """Queue a reminder that a deadline is one working day away."""
    application = _application(operation)
    if application is None:
        return {"sent": False}
    due = application.accept_due if kind == "accept" else application.decision_due
    if due is None:
        _, due = _fired_timer(task)
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
