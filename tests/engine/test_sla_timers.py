"""Deadlines, reminders and breaches, driven by moving a controlled clock (never by sleeping)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, OutboxMessage, SlaBreach, TaskRow, TimerRow
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, cst, rows, scalar


@pytest.fixture(params=["straight", "restored"])
def between_steps(request, engine):
    return (lambda: None) if request.param == "straight" else engine.forget_live_workflows


def _breaches(engine):
    with engine.transaction() as session:
        return list(session.scalars(sa.select(SlaBreach).order_by(SlaBreach.id)))


def _topics(engine):
    return [r.topic for r in rows(engine, sa.select(OutboxMessage.topic).order_by(OutboxMessage.id))]


def test_nothing_fires_before_the_reminder_time(engine, submit, clock):
    submit()  # due 2026-10-10 24:00 CST; reminder 2026-10-09 24:00 CST
    clock.set(cst("2026-10-09 23:59"))
    assert sweep_due_timers(engine).claimed == 0
    assert _breaches(engine) == []


def test_reminder_fires_one_working_day_before_the_deadline(engine, submit, clock):
    application_id = submit()
    clock.set(cst("2026-10-10 00:00"))
    result = sweep_due_timers(engine)
    assert (result.claimed, result.failed) == (1, 0)
    assert "sla.reminder" in _topics(engine)
    reminder = scalar(engine, sa.select(AuditEvent).where(AuditEvent.action == "sla_reminder"))
    assert reminder.application_id == application_id
    assert reminder.detail == {"kind": "accept", "due_at": "2026-10-10T16:00:00+00:00"}
    assert _breaches(engine) == []


def test_both_breaches_then_late_completion(engine, parties, submit, clock, between_steps):
    application_id = submit()
    between_steps()
    clock.set(cst("2026-10-11 00:00"))  # the accept deadline has just passed
    assert sweep_due_timers(engine).claimed == 2  # reminder and deadline
    [breach] = _breaches(engine)
    assert (breach.kind, breach.institution_id, breach.application_id) == ("accept", parties.bank_a_id, application_id)
    assert breach.due_at.isoformat() == "2026-10-10T16:00:00+00:00"
    assert breach.breached_at == clock.now() and breach.resolved_at is None and not breach.provisional
    # Non-interrupting: the task stays open for the bank.
    assert [r.state for r in rows(engine, sa.select(TaskRow.state).where(TaskRow.bpmn_id == "Accept"))] == ["open"]
    assert sweep_due_timers(engine).claimed == 0  # fired once only

    between_steps()
    clock.set(cst("2026-10-12 09:30"))  # Monday: one working day late
    services.accept(engine, parties.officer_a, application_id)
    [breach] = _breaches(engine)
    assert breach.resolved_at == clock.now() and breach.resolution == "acted"
    assert breach.late_seconds == (clock.now() - breach.due_at).total_seconds()
    assert breach.late_working_days == 1

    between_steps()
    # Decision due 10 working days after 2026-10-12: 10/13 ... 10/26 -> 2026-10-26 24:00 CST.
    clock.set(cst("2026-10-27 08:00"))
    assert sweep_due_timers(engine).claimed == 2
    breaches = _breaches(engine)
    assert [(b.kind, b.resolved_at is None) for b in breaches] == [("accept", False), ("decision", True)]
    assert breaches[1].due_at.isoformat() == "2026-10-26T16:00:00+00:00"

    between_steps()
    clock.set(cst("2026-10-29 15:00"))
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    decision = _breaches(engine)[1]
    assert decision.resolution == "acted" and decision.late_working_days == 3
    assert _topics(engine).count("sla.breached") == 2
    assert "sla.reminder" not in _topics(engine)  # reminders whose deadline had passed are not sent


def test_a_late_step_before_the_sweep_still_records_the_breach(engine, parties, submit, clock):
    application_id = submit()
    clock.set(cst("2026-10-12 09:00"))  # no sweep ran; the bank acts late
    services.accept(engine, parties.officer_a, application_id)
    [breach] = _breaches(engine)
    assert breach.kind == "accept" and breach.resolved_at == clock.now()
    assert scalar(engine, sa.select(sa.func.count()).select_from(TimerRow).where(TimerRow.state == "waiting")) == 2


def test_withdrawal_after_a_breach_closes_it_as_withdrawn(engine, parties, submit, clock):
    application_id = submit()
    clock.set(cst("2026-10-11 00:00"))
    sweep_due_timers(engine)
    services.withdraw(engine, parties.enterprise, application_id)
    [breach] = _breaches(engine)
    assert breach.resolution == "withdrawn"
    assert scalar(engine, sa.select(sa.func.count()).select_from(TimerRow).where(TimerRow.state == "waiting")) == 0


def test_sweep_in_batches_fires_every_due_timer_once(engine, submit, clock):
    for _ in range(7):
        submit()
    clock.set(cst("2026-10-11 00:00"))
    result = sweep_due_timers(engine, batch_size=3)
    assert (result.claimed, result.failed) == (14, 0)
    assert len(_breaches(engine)) == 7
    assert sweep_due_timers(engine, batch_size=3).claimed == 0
