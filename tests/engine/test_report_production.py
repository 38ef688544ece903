"""Each closed period's report is produced once, kept, and the supervisors are told once."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from engine.loans.actors import SUPERVISOR
from engine.loans.reports import periods, produced
from engine.models import Notification, OutboxMessage, ProducedReport
from engine.platform import scheduler
from engine.platform.access import create_user
from notifications.delivery import deliver_due
from notifications.texts import SUPERVISION, catalog, render
from tests.conftest import cst, scalar
from tests.notification_helpers import add_people, settings


def _count(engine, model, *conditions) -> int:
    return scalar(engine, sa.select(sa.func.count()).select_from(model).where(*conditions))


def test_the_closed_periods_are_produced_once_and_supervisors_told_once(engine, parties, submit, clock):
    people = add_people(engine, parties)
    with engine.transaction() as session:
        second = create_user(session, clock.now(), "supervisor-2", "long-enough-password", SUPERVISOR).id
    submit()  # 2026-09-30: in September, Q3, H2 (still open) and 2026 (still open)
    clock.set(cst("2026-11-02 08:00"))

    first_run = produced.produce_closed_periods(engine)
    # September closed before any run: caught up (back to the first application), oldest first.
    assert [item.period.key for item in first_run] == ["2026-09", "2026-10", "2026-Q3", "2026-H1", "2025"]
    assert produced.produce_closed_periods(engine) == []  # run it twice: nothing more
    assert _count(engine, ProducedReport) == 5
    assert _count(engine, OutboxMessage, OutboxMessage.topic == produced.TOPIC) == 5

    deliver_due(engine, settings())
    deliver_due(engine, settings())
    supervisors = [people["supervisor"], second]
    for user in supervisors:
        assert _count(engine, Notification, Notification.user_id == user, Notification.topic == produced.TOPIC) == 5
    others = [user for name, user in people.items() if name != "supervisor"]
    assert _count(engine, Notification, Notification.user_id.in_(others), Notification.topic == produced.TOPIC) == 0

    with engine.reading() as session:
        quarter = produced.stored(session, produced.stored_for(session, periods.QUARTER, date(2026, 7, 1)))
        listed = produced.listed(session)
    assert quarter.platform.figures.received == 1 and quarter.period.key == "2026-Q3"
    assert [item.period.key for item in listed] == ["2026-10", "2026-09", "2026-Q3", "2026-H1", "2025"]

    # A month later only the new month closed.
    clock.set(cst("2026-12-01 00:30"))
    assert [item.period.key for item in produced.produce_closed_periods(engine)] == ["2026-11"]


def test_the_report_message_reads_in_each_language():
    params = {"audience": SUPERVISION, "period_kind": "quarter", "period": "2026-Q3", "report_id": 1}
    subject, body = render(produced.TOPIC, params, catalog("zh"))
    assert "2026-Q3" in subject and "季度" in subject
    subject, body = render(produced.TOPIC, params, catalog("en"))
    assert subject == "The quarterly report for 2026-Q3 is ready"


def test_the_scheduled_job_runs_once_per_hour_across_processes(engine, clock):
    clock.set(cst("2026-11-02 08:00"))
    assert len(produced.scheduled_job(engine)) == 4
    clock.advance(minutes=10)
    assert produced.scheduled_job(engine) is None  # another tick within the hour: the job_run lock says no
    clock.advance(hours=1)
    assert produced.scheduled_job(engine) == []  # ran, nothing new closed
    scheduler._reports_job(engine)  # the scheduler's wrapper runs (and logs) the same way


def test_a_period_closes_at_beijing_midnight(engine, clock):
    clock.set(cst("2026-10-31 23:59"))
    assert periods.last_closed(periods.MONTH, clock.now()).key == "2026-09"
    clock.set(cst("2026-11-01 00:00"))
    assert periods.last_closed(periods.MONTH, clock.now()).key == "2026-10"
    assert periods.last_closed(periods.HALF_YEAR, clock.now()).key == "2026-H1"


def test_periods_missed_while_nothing_ran_are_produced_once_oldest_first(engine, submit, clock):
    submit()  # 2026-09-30
    clock.set(cst("2026-10-01 01:00"))
    assert "2026-09" in [item.period.key for item in produced.produce_closed_periods(engine)]
    clock.set(cst("2027-02-03 09:00"))  # no process ran from October to February
    caught_up = [item.period.key for item in produced.produce_closed_periods(engine)]
    assert caught_up == ["2026-10", "2026-11", "2026-12", "2027-01", "2026-Q4", "2026-H2", "2026"]
    assert produced.produce_closed_periods(engine) == []
    clock.set(cst("2031-02-03 09:00"))  # four years later: a bounded catch-up
    months = [item.period.key for item in produced.produce_closed_periods(engine, catch_up=3)
              if item.period.kind == periods.MONTH]
    assert months == ["2030-11", "2030-12", "2031-01"]


def test_a_platform_without_applications_gets_the_latest_periods_only(engine, clock):
    clock.set(cst("2026-11-02 08:00"))
    assert sorted(item.period.key for item in produced.produce_closed_periods(engine)) == [
        "2025", "2026-10", "2026-H1", "2026-Q3"]


def test_a_report_is_kept_with_the_targets_of_its_production(engine, parties, submit, clock):
    from decimal import Decimal

    from engine.loans.reports.figures import Report
    from engine.loans.reports.targets import Targets

    submit()
    clock.set(cst("2026-11-02 08:00"))
    made = produced.produce_closed_periods(engine, targets=Targets({2026: 1500, 2025: 1200}, 60))
    with engine.reading() as session:
        kept = {row.period_start: Report.from_data(row.content) for row in session.scalars(sa.select(ProducedReport))}
    assert len(kept) == len(made) == 5
    assert kept[date(2026, 10, 1)].new_credit_target == Decimal("150000000000")
    assert kept[date(2025, 1, 1)].new_credit_target == Decimal("120000000000")
    assert {report.success_target_percent for report in kept.values()} == {60}


def test_the_scheduler_produces_reports_against_the_targets_it_was_given(engine):
    from apscheduler.schedulers.background import BackgroundScheduler

    from engine.loans.reports.targets import Targets

    targets = Targets({2026: 1500}, 70)
    configured = scheduler.configure(BackgroundScheduler(), engine, 15, 100, report_targets=targets)
    assert configured.get_job("period_reports").args == (engine, targets)
