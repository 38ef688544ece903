"""The scheduler only wakes the sweep; the sweep job fires what the clock says is due."""

from __future__ import annotations

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from engine.models import SlaBreach
from engine.platform import scheduler
from tests.conftest import cst, scalar


def test_the_sweep_job_fires_due_timers_and_never_overlaps_itself(engine, submit, clock):
    submit()
    background = scheduler.configure(BackgroundScheduler(), engine, interval_seconds=15, batch_size=10)
    job, housekeeping, reports = background.get_jobs()
    assert reports.id == "period_reports" and reports.trigger.interval.total_seconds() == 3600
    assert job.id == "timer_sweep" and job.trigger.interval.total_seconds() == 15
    assert housekeeping.id == "housekeeping" and housekeeping.trigger.interval.total_seconds() == 3600
    housekeeping.func(*housekeeping.args)  # runs, with nothing to purge
    assert job.max_instances == 1 and job.coalesce is True

    job.func(*job.args)  # nothing due yet
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 0
    clock.set(cst("2026-10-11 00:00"))
    job.func(*job.args)
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 1


def test_the_web_app_starts_the_scheduler_only_when_configured(tmp_path):
    from web import create_app

    url = f"sqlite:///{tmp_path / 'app.db'}"
    quiet = create_app({"TESTING": True, "DATABASE_URL": url})
    assert "scheduler" not in quiet.extensions
    busy = create_app({"TESTING": True, "DATABASE_URL": url, "SCHEDULER_ENABLED": True})
    try:
        assert busy.extensions["scheduler"].running
        assert sorted(job.id for job in busy.extensions["scheduler"].get_jobs()) == [
            "delivery", "housekeeping", "period_reports", "timer_sweep"]
    finally:
        busy.extensions["scheduler"].shutdown(wait=False)
