"""The sweep fires a batch of cases side by side and writes their journal together: a statement
per case, nothing lost or fired twice when its process is killed in the middle of a batch."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from engine.models import AuditEvent, LoanApplication, OutboxMessage, SlaBreach, TimerRow
from engine.workflow.timers import sweep_due_timers
from tests.conftest import cst, rows, scalar

ROOT = Path(__file__).resolve().parents[2]
CASES = 30
REMINDER_DUE = cst("2026-10-10 00:30")  # a working day before the acceptance deadline
BOTH_DUE = cst("2026-10-11 00:30")  # the reminder and the deadline


def _swept_with_statements(engine):
    """Sweep now; the result and every statement the sweep sent."""
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        statements.append(statement)

    database = engine.session_factory.kw["bind"]
    sa.event.listen(database, "before_cursor_execute", count)
    try:
        return sweep_due_timers(engine, batch_size=100), statements
    finally:
        sa.event.remove(database, "before_cursor_execute", count)


def _count(engine, model, *where):
    return scalar(engine, sa.select(sa.func.count()).select_from(model).where(*where))


def test_a_batch_costs_one_statement_a_case_besides_a_few_for_the_batch(engine, submit, clock):
    for _ in range(CASES):
        submit()
    engine.forget_live_workflows()  # as a worker that has not seen these cases since they were submitted
    clock.set(REMINDER_DUE)
    result, statements = _swept_with_statements(engine)
    assert (result.instances, result.claimed, result.failed) == (CASES, CASES, 0)
    per_case = [s for s in statements if s.lstrip().upper().startswith("UPDATE PROCESS_INSTANCE")]
    assert len(per_case) == CASES  # the case's saved state, version-checked
    fired = [s for s in statements if s.lstrip().upper().startswith("UPDATE TIMER")]
    assert len(fired) == 1  # the batch's fired timers together, after the saves
    assert len(statements) - len(per_case) <= 15  # claim, due timers, cases, journal: per batch, not per case
    assert _count(engine, AuditEvent, AuditEvent.action == "sla_reminder") == CASES
    assert _count(engine, OutboxMessage, OutboxMessage.topic == "sla.reminder") == CASES


def test_a_batchs_breaches_go_out_in_one_statement_and_a_breach_held_already_is_not_recorded_again(
        engine, submit, clock):
    application_ids = [submit() for _ in range(CASES)]
    clock.set(REMINDER_DUE)
    sweep_due_timers(engine, batch_size=100)
    with engine.transaction() as session:  # as if an earlier firing had recorded the first case's breach
        first = session.get(LoanApplication, application_ids[0])
        session.add(SlaBreach(institution_id=first.institution_id, application_id=first.id, kind="accept",
                              due_at=BOTH_DUE, breached_at=BOTH_DUE, provisional=False))
    clock.set(BOTH_DUE)
    result, statements = _swept_with_statements(engine)
    assert (result.instances, result.failed) == (CASES, 0)
    breach_inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO SLA_BREACH")]
    assert len(breach_inserts) == 1  # the batch's, after the cases' version-checked saves
    assert _count(engine, SlaBreach) == CASES
    assert _count(engine, AuditEvent, AuditEvent.action == "sla_breached") == CASES - 1
    assert _count(engine, OutboxMessage, OutboxMessage.topic == "sla.breached") == CASES - 1


def test_a_sweep_killed_mid_batch_loses_nothing_and_fires_nothing_twice(engine, submit, database_url):
    for _ in range(CASES):
        submit()
    command = [sys.executable, "-m", "tests.engine.killed_sweep", database_url, BOTH_DUE.isoformat(), "17"]
    worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "stopped"
        worker.send_signal(signal.SIGKILL)  # 16 cases fired in its open transaction, the 17th under way
    finally:
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL
    assert _count(engine, SlaBreach) == 0 and _count(engine, TimerRow, TimerRow.state == "fired") == 0

    engine.clock.set(BOTH_DUE)
    result = sweep_due_timers(engine, batch_size=100)
    assert (result.instances, result.claimed, result.failed) == (CASES, 2 * CASES, 0)
    assert dict(rows(engine, sa.select(TimerRow.state, sa.func.count()).group_by(TimerRow.state))) == {
        "fired": 2 * CASES}
    assert _count(engine, SlaBreach) == CASES
    assert _count(engine, AuditEvent, AuditEvent.action == "sla_breached") == CASES
    assert _count(engine, OutboxMessage, OutboxMessage.topic == "sla.breached") == CASES
    assert sweep_due_timers(engine).claimed == 0
