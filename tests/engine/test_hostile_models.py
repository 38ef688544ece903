"""A broken or hostile model harms only its own case: the sweep parks it as an incident and goes on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent, Incident, LoanApplication, SlaBreach, TimerRow
from engine.workflow.definitions import deploy
from engine.workflow.incidents import retry_incident
from engine.workflow.timers import sweep_due_timers
from tests.conftest import cst, rows, scalar
from tests.engine.hostile_models import POISONS, SHIPPED, poisoned_model

ROOT = Path(__file__).resolve().parents[2]
INNOCENT = 12
AFTER_DEADLINE = cst("2026-10-11 00:30")


def _deploy(engine, xml):
    with engine.transaction() as session:
        return deploy(session, xml, "author", engine.clock).version


def _one_poisoned_case_then_innocent_ones(engine, submit, script):
    _deploy(engine, poisoned_model(script))
    poisoned = submit()
    _deploy(engine, SHIPPED.read_text(encoding="utf-8"))  # the next cases start on a good version
    innocent = [submit() for _ in range(INNOCENT)]
    return poisoned, innocent


def _sweep_in_a_worker_process(database_url, hatch=None):
    command = [sys.executable, "-m", "tests.engine.hostile_sweep", database_url, AFTER_DEADLINE.isoformat()]
    done = subprocess.run(command + ([hatch] if hatch else []), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _breached_applications(engine):
    return {a for (a,) in rows(engine, sa.select(SlaBreach.application_id))}


@pytest.mark.parametrize("poison, hatch", [
    ("c_level_loop", None), ("huge_allocation", None), ("huge_power", None), ("huge_format_width", None),
    ("plain_error", None), ("system_exit", "SystemExit"), ("system_exit", "KeyboardInterrupt"),
])
def test_a_poisoned_case_is_parked_and_every_other_case_fires(engine, submit, database_url, poison, hatch):
    poisoned, innocent = _one_poisoned_case_then_innocent_ones(engine, submit, POISONS[poison])
    result = _sweep_in_a_worker_process(database_url, hatch)
    assert result == {"claimed": 2 * INNOCENT, "instances": INNOCENT, "failed": 1}
    assert _breached_applications(engine) == set(innocent)
    poisoned_instance = scalar(engine, sa.select(LoanApplication.instance_id).where(
        LoanApplication.id == poisoned))
    incident = scalar(engine, sa.select(Incident).where(Incident.instance_id == poisoned_instance))
    assert (incident.state, incident.failures, incident.kind) == ("open", 1, "timer")
    assert incident.activity == "Poison" and incident.message
    assert incident.next_retry_at is not None  # retried automatically later
    assert {state for (state,) in rows(engine, sa.select(TimerRow.state).where(
        TimerRow.instance_id == poisoned_instance))} == {"failed"}


def test_automatic_retries_back_off_then_wait_for_an_admin(engine, submit, clock):
    _one_poisoned_case_then_innocent_ones(engine, submit, POISONS["plain_error"])
    clock.set(AFTER_DEADLINE)
    assert sweep_due_timers(engine).failed == 1
    waits = []
    for _ in range(engine.retry_policy.retries):
        incident = scalar(engine, sa.select(Incident))
        waits.append(incident.next_retry_at - clock.now())
        clock.set(incident.next_retry_at)
        sweep_due_timers(engine)
    incident = scalar(engine, sa.select(Incident))
    assert [w.total_seconds() for w in waits] == [60, 120, 240]
    assert (incident.failures, incident.next_retry_at, incident.state) == (4, None, "open")
    clock.advance(days=30)
    sweep_due_timers(engine)
    assert scalar(engine, sa.select(Incident.failures)) == 4  # no more automatic retries


def test_an_admins_retry_resolves_the_incident_once_the_cause_is_gone(engine, submit, clock, monkeypatch):
    from engine.loans import binding

    application_id = submit()
    real = binding.record_breach

    def failing(operation, task, kind):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(binding, "record_breach", failing)
    clock.set(AFTER_DEADLINE)
    assert sweep_due_timers(engine).failed == 1
    incident_id = scalar(engine, sa.select(Incident.id))
    assert retry_incident(engine, incident_id, "user:admin") is False
    assert scalar(engine, sa.select(Incident.failures)) == 2
    monkeypatch.setattr(binding, "record_breach", real)
    assert retry_incident(engine, incident_id, "user:admin") is True
    incident = scalar(engine, sa.select(Incident))
    assert (incident.state, incident.resolved_by) == ("resolved", "user:admin")
    retried = rows(engine, sa.select(AuditEvent.actor, AuditEvent.detail).where(
        AuditEvent.action == "incident_retried").order_by(AuditEvent.id))
    assert [(a, d["resolved"]) for a, d in retried] == [("user:admin", False), ("user:admin", True)]
    assert _breached_applications(engine) == {application_id}
    assert {s for (s,) in rows(engine, sa.select(TimerRow.state))} == {"fired"}


def test_a_timer_asking_for_a_billion_working_days_fails_at_once_and_leaves_nothing(engine, submit):
    from engine.workflow.errors import ModelError

    _deploy(engine, SHIPPED.read_text(encoding="utf-8").replace(
        "decision_paused_working_days = 0",
        "decision_paused_working_days = 0\naccept_working_days = int('1' + '0' * 18)", 1))
    with pytest.raises(ModelError, match="at most"):
        submit()
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0
