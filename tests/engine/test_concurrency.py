"""Concurrent completions and concurrent sweeps: the database decides, each thing happens once."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, LoanApplication, ProcessInstance, SlaBreach, TimerRow
from engine.workflow.errors import ConcurrencyConflict
from tests.conftest import cst, rows, scalar
from tests.engine.racing import race

ROOT = Path(__file__).resolve().parents[2]


def test_two_completions_of_the_same_task_at_once_one_wins(engine, parties, submit):
    for _ in range(5):
        application_id = submit()
        engine.forget_live_workflows()
        version_before = scalar(engine, sa.select(ProcessInstance.version).join(
            LoanApplication, LoanApplication.instance_id == ProcessInstance.id
        ).where(LoanApplication.id == application_id))
        def accept(application_id=application_id):
            return services.accept(engine, parties.officer_a, application_id)

        outcomes = race(accept, accept)
        winners = [o for o in outcomes if not isinstance(o, Exception)]
        losers = [o for o in outcomes if isinstance(o, Exception)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert isinstance(losers[0], ConcurrencyConflict), repr(losers[0])
        accepted = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.application_id == application_id, AuditEvent.action == "accepted"))
        assert accepted == 1
        version_after = scalar(engine, sa.select(ProcessInstance.version).where(
            ProcessInstance.id == winners[0].instance_id))
        assert version_after == version_before + 1


def test_two_worker_processes_fire_each_due_timer_exactly_once(engine, submit, clock, database_url):
    count = 12
    for _ in range(count):
        submit()
    due_instant = cst("2026-10-11 00:00").isoformat()
    command = [sys.executable, "-m", "tests.engine.sweep_worker", database_url, due_instant]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    claimed = [int(out.split()[0]) for out, _ in outputs]
    assert sum(claimed) == 2 * count  # a reminder and a deadline per application, none twice
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == count
    fired = rows(engine, sa.select(TimerRow.state, sa.func.count()).group_by(TimerRow.state))
    assert dict((state, n) for state, n in fired) == {"fired": 2 * count}
    breach_events = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "sla_breached"))
    assert breach_events == count


def test_reads_go_on_while_a_writer_holds_its_transaction(engine, submit):
    submit()
    with engine.transaction() as writer:
        writer.execute(sa.update(LoanApplication).values(purpose="changed, not yet committed"))
        done = []

        def read():
            with engine.reading() as session:
                done.append(session.scalar(sa.select(LoanApplication.purpose)))

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=5)
        assert done == ["Working capital"]  # the committed value, without waiting for the writer
