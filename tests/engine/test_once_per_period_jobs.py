"""Jobs that must run once per period do, however many processes schedule them."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from engine.models import AuditEvent
from engine.workflow.jobs import run_once_per_period
from tests.conftest import scalar

ROOT = Path(__file__).resolve().parents[2]


def _runs(engine) -> int:
    return scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "housekeeping_ran"))


def test_two_processes_ticking_at_the_same_instant_purge_once(engine, database_url):
    start = time.time() + 3  # both processes are up by then
    command = [sys.executable, "-m", "tests.engine.once_job_process", database_url, str(start)]
    processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
    assert _runs(engine) == 1


def test_the_next_period_runs_again_and_a_tick_within_the_period_does_not(engine, clock):
    ran = []
    period = timedelta(hours=1)
    assert run_once_per_period(engine, "report", period, lambda: ran.append(1) or "first") == "first"
    clock.advance(minutes=30)
    assert run_once_per_period(engine, "report", period, lambda: ran.append(2)) is None
    clock.advance(minutes=30)
    run_once_per_period(engine, "report", period, lambda: ran.append(3))
    assert ran == [1, 3]
