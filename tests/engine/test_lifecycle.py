"""Every path of the loan lifecycle, straight through and with the workflow restored from JSON."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import (
    AuditEvent,
    LoanApplication,
    OutboxMessage,
    ProcessDefinition,
    ProcessInstance,
    TaskRow,
    TimerRow,
)
from tests.conftest import APPROVAL, rows, scalar


@pytest.fixture(params=["straight", "restored"])
def between_steps(request, engine):
    """In 'restored' mode every step rebuilds the workflow from its stored JSON."""
    if request.param == "straight":
        return lambda: None
    return engine.forget_live_workflows


def _application(engine, application_id) -> LoanApplication:
    with engine.transaction() as session:
        return session.get(LoanApplication, application_id)


def _open_tasks(engine, application_id, process="loan_lifecycle") -> list[str]:
    """The open tasks of the application's `process` (its lifecycle, or e.g. the follow-up it started)."""
    return [r.bpmn_id for r in rows(engine, sa.select(TaskRow.bpmn_id).join(
        ProcessInstance, ProcessInstance.id == TaskRow.instance_id).join(
        ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id).where(
        TaskRow.application_id == application_id, TaskRow.state == "open", ProcessDefinition.key == process))]


def _timers(engine, application_id, state="waiting") -> list[str]:
    app = _application(engine, application_id)
    return sorted(r.bpmn_id for r in rows(engine, sa.select(TimerRow.bpmn_id).where(
        TimerRow.instance_id == app.instance_id, TimerRow.state == state)))


def test_approved_loan_runs_to_settlement(engine, parties, submit, clock, between_steps):
    application_id = submit()
    assert _open_tasks(engine, application_id) == ["Accept"]
    assert _timers(engine, application_id) == ["Accept_Deadline", "Accept_Reminder"]
    between_steps()
    clock.advance(hours=2)
    services.accept(engine, parties.officer_a, application_id, {"note": "complete file"})
    assert _open_tasks(engine, application_id) == ["Decide"]
    assert _timers(engine, application_id) == ["Decide_Deadline", "Decide_Reminder"]
    assert _timers(engine, application_id, "cancelled") == ["Accept_Deadline", "Accept_Reminder"]
    between_steps()
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    assert _open_tasks(engine, application_id) == ["Disburse"]
    assert _timers(engine, application_id) == ["Disburse_Deadline"]  # the 放款 commitment
    between_steps()
    services.disburse(engine, parties.officer_a, application_id, {
        "contract_number": "HT-2026-001", "amount": "400000.00", "disbursed_on": "2026-09-30"})
    assert _timers(engine, application_id) == []
    assert "Disburse_Deadline" in _timers(engine, application_id, "cancelled")
    between_steps()
    clock.advance(days=30)
    services.settle(engine, parties.officer_a, application_id, {"settled_on": "2026-10-30"})

    app = _application(engine, application_id)
    assert app.status == "settled"
    assert app.approved_amount == APPROVAL["amount"] and app.annual_rate == APPROVAL["annual_rate"]
    assert app.disbursed_on == date(2026, 9, 30) and app.settled_on == date(2026, 10, 30)
    assert _open_tasks(engine, application_id) == []
    assert _open_tasks(engine, application_id, "satisfaction_survey") == ["Survey"]  # started at disbursement
    instance = scalar(engine, sa.select(ProcessInstance).where(ProcessInstance.id == app.instance_id))
    assert (instance.status, instance.end_event) == ("completed", "End_Settled")
    actions = [r.action for r in rows(engine, sa.select(AuditEvent.action).where(
        AuditEvent.application_id == application_id).order_by(AuditEvent.id))]
    assert actions == ["submitted", "accepted", "approved", "disbursed", "process_started", "settled"]
    transitions = rows(engine, sa.select(AuditEvent.status_before, AuditEvent.status_after).where(
        AuditEvent.application_id == application_id, AuditEvent.action != "process_started").order_by(AuditEvent.id))
    assert [tuple(t) for t in transitions] == [
        (None, "submitted"), ("submitted", "accepted"), ("accepted", "approved"),
        ("approved", "disbursed"), ("disbursed", "settled")]
    topics = [r.topic for r in rows(engine, sa.select(OutboxMessage.topic).order_by(OutboxMessage.id))]
    assert topics == ["application.submitted", "application.accepted", "application.approved",
                      "application.disbursed", "application.settled"]


def test_rejected_application_ends_with_the_reason_kept(engine, parties, submit, between_steps):
    application_id = submit()
    between_steps()
    services.accept(engine, parties.officer_a, application_id)
    between_steps()
    services.reject(engine, parties.officer_a, application_id, {"reason": "  Insufficient cash flow  "})
    app = _application(engine, application_id)
    assert (app.status, app.rejection_reason) == ("rejected", "Insufficient cash flow")
    assert _open_tasks(engine, application_id) == [] and _timers(engine, application_id) == []
    assert _open_tasks(engine, application_id, "satisfaction_survey") == ["Survey"]  # started at the rejection
    instance = scalar(engine, sa.select(ProcessInstance).where(ProcessInstance.id == app.instance_id))
    assert (instance.status, instance.end_event) == ("completed", "End_Rejected")


@pytest.mark.parametrize("accept_first", [False, True])
def test_withdrawal_cancels_open_tasks_and_timers(engine, parties, submit, between_steps, accept_first):
    application_id = submit()
    between_steps()
    if accept_first:
        services.accept(engine, parties.officer_a, application_id)
        between_steps()
    services.withdraw(engine, parties.enterprise, application_id, {"reason": "Found other funding"})
    app = _application(engine, application_id)
    assert app.status == "withdrawn" and app.withdrawal_reason == "Found other funding"
    assert _open_tasks(engine, application_id) == []
    assert _timers(engine, application_id) == []
    cancelled = rows(engine, sa.select(TaskRow.bpmn_id).where(
        TaskRow.application_id == application_id, TaskRow.state == "cancelled"))
    assert [r.bpmn_id for r in cancelled] == (["Decide"] if accept_first else ["Accept"])
    instance = scalar(engine, sa.select(ProcessInstance).where(ProcessInstance.id == app.instance_id))
    assert (instance.status, instance.end_event) == ("completed", "End_Withdrawn")


def test_deadlines_are_stored_on_the_application_and_its_tasks(engine, parties, submit, clock):
    application_id = submit()  # 2026-09-30 10:00 CST: 10/8, 10/9, 10/10 (make-up Saturday)
    app = _application(engine, application_id)
    assert app.accept_due.isoformat() == "2026-10-10T16:00:00+00:00"
    assert app.accept_due_provisional is False
    task_due = scalar(engine, sa.select(TaskRow.due_at).where(TaskRow.application_id == application_id))
    assert task_due == app.accept_due
    clock.advance(days=8)  # 2026-10-08 10:00 CST; decision within 10 working days from 10/9
    services.accept(engine, parties.officer_a, application_id)
    app = _application(engine, application_id)
    # 10/9, 10/10, 10/12-10/16, 10/19-10/21 -> 2026-10-21 24:00 CST
    assert app.decision_due.isoformat() == "2026-10-21T16:00:00+00:00"


def test_settling_uses_dates_after_disbursement(engine, parties, submit, clock):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    services.disburse(engine, parties.officer_a, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": "2026-09-30"})
    clock.advance(days=400)
    settled_on = (clock.now() - timedelta(days=1)).date().isoformat()
    assert services.settle(engine, parties.officer_a, application_id, {"settled_on": settled_on}).status == "settled"
