"""APScheduler wiring: the scheduler only wakes the sweep up; the database decides what fires."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine.platform.housekeeping import purge_expired
from engine.workflow.jobs import run_once_per_period
from engine.workflow.runtime import Engine
from engine.workflow.timers import sweep_due_timers

if TYPE_CHECKING:
    from engine.loans.reports.targets import Targets
    from notifications.settings import DeliverySettings

log = logging.getLogger(__name__)


def _sweep_job(engine: Engine, batch_size: int) -> None:
    result = sweep_due_timers(engine, batch_size)
    if result.claimed:
        log.info("Fired %s timers on %s instances (%s failed)", result.claimed, result.instances, result.failed)


HOUSEKEEPING_PERIOD = timedelta(hours=1)


def _housekeeping_job(engine: Engine) -> None:
    purged = run_once_per_period(engine, "housekeeping", HOUSEKEEPING_PERIOD, lambda: purge_expired(engine))
    if purged is None:
        return  # another process purged within the hour
    log.info("Housekeeping: purged %s idempotency records, %s sign-in failures, %s expired tokens",
             purged.idempotency_records, purged.login_failures, purged.user_tokens)


def _reports_job(engine: Engine, targets: Targets | None = None) -> None:
    from engine.loans.reports.produced import scheduled_job

    produced = scheduled_job(engine, targets)
    if produced:
        log.info("Reports: produced %s", ", ".join(f"{item.period.kind} {item.period.key}" for item in produced))


def _delivery_job(engine: Engine, settings: DeliverySettings) -> None:
    from notifications.delivery import deliver_due

    run = deliver_due(engine, settings)
    if run.messages or run.sent or run.failed:
        log.info("Delivery: %s messages fanned out, %s sent, %s failed, %s dead letters",
                 run.messages, run.sent, run.failed, run.dead)


def configure(scheduler: BaseScheduler, engine: Engine, interval_seconds: int, batch_size: int,
              delivery: DeliverySettings | None = None, report_targets: Targets | None = None) -> BaseScheduler:
    scheduler.add_job(
        _sweep_job, "interval", seconds=interval_seconds, args=(engine, batch_size),
        id="timer_sweep", max_instances=1, coalesce=True, replace_existing=True,
    )
    scheduler.add_job(_housekeeping_job, "interval", seconds=HOUSEKEEPING_PERIOD.total_seconds(), args=(engine,),
                      id="housekeeping",
                      max_instances=1, coalesce=True, replace_existing=True)
    # A closed period's report (month, quarter, half-year, year) is produced within the hour after it closes.
    scheduler.add_job(_reports_job, "interval", seconds=HOUSEKEEPING_PERIOD.total_seconds(),
                      args=(engine, report_targets),
                      id="period_reports", max_instances=1, coalesce=True, replace_existing=True,
                      next_run_time=datetime.now(UTC) + timedelta(seconds=30))
    if delivery is not None:  # drains the outbox (notifications/)
        scheduler.add_job(_delivery_job, "interval", seconds=delivery.poll_seconds, args=(engine, delivery),
                          id="delivery", max_instances=1, coalesce=True, replace_existing=True)
    return scheduler


def start_background(engine: Engine, interval_seconds: int, batch_size: int,
                     delivery: DeliverySettings | None = None,
                     report_targets: Targets | None = None) -> BackgroundScheduler:
    """Run the sweep in a thread of this process (the embedded default)."""
    scheduler = configure(BackgroundScheduler(daemon=True), engine, interval_seconds, batch_size, delivery,
                          report_targets)
    scheduler.start()
    return scheduler


def run_blocking(engine: Engine, interval_seconds: int, batch_size: int,
                 delivery: DeliverySettings | None = None, report_targets: Targets | None = None) -> None:
    """Run the sweep as the whole process (`flask worker`); several may run at once."""
    scheduler = configure(BlockingScheduler(), engine, interval_seconds, batch_size, delivery, report_targets)
    scheduler.start()
