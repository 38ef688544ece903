"""Jobs that must run once per period however many processes schedule them (purge, reports).

Every web process and every `flask worker` has the same APScheduler jobs. For the sweep and the
delivery that is what scaling out wants (each claims its own rows), but the hourly purge or a
period's report must run once: before running, a process takes the job's row lock and checks
when the job last started; if another process started it within this period, it skips.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import sqlalchemy as sa

from engine.workflow.database import insert_ignoring_conflicts, is_postgresql
from engine.workflow.models import JobRun, table_of
from engine.workflow.runtime import Engine

T = TypeVar("T")
_JOB = table_of(JobRun)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def claim_period(engine: Engine, name: str, period: timedelta) -> bool:
    """Whether this process may run `name` now (no other started it in the last `period`)."""
    with engine.transaction() as session:
        now = engine.clock.now()
        session.execute(insert_ignoring_conflicts(session, _JOB), {
            "name": name, "last_started_at": None, "last_finished_at": None, "holder": None})
        query = sa.select(_JOB.c.last_started_at).where(_JOB.c.name == name)
        if is_postgresql(session):
            query = query.with_for_update()  # the other processes wait here, then see our start
        last_started = session.execute(query).scalar()
        # A little slack so that one process's hourly tick a second early still counts as the next period.
        if last_started is not None and last_started > now - period * 0.9:
            return False
        session.execute(sa.update(_JOB).where(_JOB.c.name == name).values(
            last_started_at=now, holder=HOLDER))
        return True


def run_once_per_period(engine: Engine, name: str, period: timedelta, job: Callable[[], T]) -> T | None:
    """Run `job` unless another process already ran it in this period; return its result or None."""
    if not claim_period(engine, name, period):
        return None
    result = job()
    with engine.transaction() as session:
        session.execute(sa.update(_JOB).where(_JOB.c.name == name).values(last_finished_at=engine.clock.now()))
    return result
