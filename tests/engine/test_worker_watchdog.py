"""A case stuck in a C-level operation the guards missed costs the worker that case only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from engine.models import Incident, LoanApplication, SlaBreach
from tests.conftest import rows, scalar
from tests.engine.test_hostile_models import _one_poisoned_case_then_innocent_ones

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_kills_a_stuck_sweep_parks_the_case_and_fires_the_others(engine, submit, database_url):
    poisoned, innocent = _one_poisoned_case_then_innocent_ones(engine, submit, "stuck = hang()")
    done = subprocess.run([sys.executable, "-m", "tests.engine.watched_worker", database_url, "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "child swept 12 cases" in done.stdout, (done.stdout, done.stderr[-2000:])
    assert {a for (a,) in rows(engine, sa.select(SlaBreach.application_id))} == set(innocent)
    instance = scalar(engine, sa.select(LoanApplication.instance_id).where(LoanApplication.id == poisoned))
    incident = scalar(engine, sa.select(Incident).where(Incident.instance_id == instance))
    assert (incident.error_type, incident.state, incident.failures) == ("CaseTimedOut", "open", 1)
    assert "more than 2 s" in incident.message
