"""Delivery of outbox messages: who is told, at least once, retries with backoff, dead letters, crashes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from engine.loans import services
from engine.models import Delivery, Notification, OutboxMessage, UserAccount
from engine.workflow.timers import sweep_due_timers
from notifications.delivery import deliver_due, retry_dead_letter
from notifications.fanout import delivery_key
from tests.conftest import APPROVAL, cst, rows, scalar
from tests.notification_helpers import Receiver, add_people, connect_webhook, settings

ROOT = Path(__file__).resolve().parents[2]


def _notified(engine, topic: str) -> Counter:
    return Counter(name for (name,) in rows(engine, sa.select(UserAccount.username).join(
        Notification, Notification.user_id == UserAccount.id).where(Notification.topic == topic)))


def _breach(submit, engine, clock) -> None:
    submit()
    clock.set(cst("2026-10-10 00:00"))  # one working day before the accept deadline: the reminder
    assert sweep_due_timers(engine).claimed == 1
    clock.set(cst("2026-10-11 00:00"))  # the accept deadline has passed
    assert sweep_due_timers(engine).claimed == 1


def test_each_status_change_tells_the_officers_whose_task_it_is_and_the_enterprise(engine, parties, submit, clock):
    add_people(engine, parties)
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    deliver_due(engine, settings())
    assert _notified(engine, "application.submitted") == {"officer-a": 1, "ent-user": 1}
    assert _notified(engine, "application.accepted") == {"officer-a": 1, "ent-user": 1}
    assert _notified(engine, "application.approved") == {"officer-a": 1, "ent-user": 1}
    assert scalar(engine, sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status != "dispatched")) == 0


def test_a_reminder_tells_the_officers_and_a_breach_the_institutions_admins_and_the_supervisors(
        engine, parties, submit, clock):
    add_people(engine, parties)
    _breach(submit, engine, clock)
    deliver_due(engine, settings())
    assert _notified(engine, "sla.reminder") == {"officer-a": 1}
    assert _notified(engine, "sla.breached") == {"bank-admin-a": 1, "supervisor": 1}


def test_fanning_out_again_after_a_crash_makes_no_second_delivery(engine, parties, submit, clock):
    add_people(engine, parties)
    submit()
    deliver_due(engine, settings())
    with engine.transaction() as session:  # as if the worker had died before marking the message dispatched
        session.execute(sa.update(OutboxMessage).values(status="pending"))
    deliver_due(engine, settings())
    assert scalar(engine, sa.select(sa.func.count()).select_from(Delivery)) == 2
    assert _notified(engine, "application.submitted") == {"officer-a": 1, "ent-user": 1}
    message_key = scalar(engine, sa.select(OutboxMessage.idempotency_key))
    officer = scalar(engine, sa.select(UserAccount.id).where(UserAccount.username == "officer-a"))
    assert scalar(engine, sa.select(Delivery.idempotency_key).where(Delivery.recipient_id == officer)) == \
        delivery_key(message_key, "user", officer, "in_app")


def test_a_webhook_receiver_that_fails_twice_then_recovers_gets_the_message_once_signed(
        engine, parties, submit, clock):
    receiver = Receiver(failures=2)
    try:
        secret = connect_webhook(engine, parties, receiver.url)
        submit()
        waits = []
        for _ in range(5):
            deliver_due(engine, settings(backoff_seconds=10))
            delivery = scalar(engine, sa.select(Delivery).where(Delivery.channel == "webhook"))
            if delivery.status == "sent":
                break
            waits.append((delivery.next_attempt_at - clock.now()).total_seconds())
            clock.set(delivery.next_attempt_at)
        assert delivery.status == "sent" and delivery.attempts == 3
        assert waits == [10, 20]  # exponential backoff
        assert len(receiver.requests) == 3 and receiver.keys() == {delivery.idempotency_key: 3}
        assert all(receiver.signed_by(secret, request) for request in receiver.requests)
        assert not receiver.signed_by("another-secret", receiver.requests[-1])
        assert {body["topic"] for body in receiver.bodies()} == {"application.submitted"}
    finally:
        receiver.close()


def test_a_message_that_keeps_failing_ends_as_a_dead_letter_an_admin_can_retry(engine, parties, submit, clock):
    receiver = Receiver(failures=100)
    try:
        connect_webhook(engine, parties, receiver.url)
        submit()
        for _ in range(3):
            deliver_due(engine, settings(max_attempts=3, backoff_seconds=1))
            clock.advance(seconds=10)
        delivery = scalar(engine, sa.select(Delivery).where(Delivery.channel == "webhook"))
        assert (delivery.status, delivery.attempts) == ("dead", 3)
        assert "HTTP 500" in delivery.last_error
        deliver_due(engine, settings(max_attempts=3))
        assert len(receiver.requests) == 3  # a dead letter waits for an admin
        receiver.failures = 0
        retry_dead_letter(engine, delivery.id, "admin")
        deliver_due(engine, settings(max_attempts=3))
        assert scalar(engine, sa.select(Delivery.status).where(Delivery.id == delivery.id)) == "sent"
        assert len(receiver.requests) == 4
    finally:
        receiver.close()


def _start_worker(database_url: str, instant, timeout: float, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.engine.delivery_worker", database_url,
                             instant.isoformat(), str(timeout), mode], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_breach_is_delivered_once_per_recipient_and_channel_even_when_the_worker_is_killed(
        engine, parties, submit, clock, database_url):
    add_people(engine, parties)
    receiver = Receiver(stall_seconds=30)  # holds the first push while the worker is killed
    try:
        connect_webhook(engine, parties, receiver.url)
        _breach(submit, engine, clock)
        worker = _start_worker(database_url, clock.now(), 20, "loop")
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert receiver.requests, worker.communicate()[1][-3000:] if worker.poll() is not None else "no request"
        worker.kill()  # SIGKILL, mid-delivery
        worker.wait(10)
        assert worker.returncode == -9
        assert scalar(engine, sa.select(sa.func.count()).select_from(Delivery).where(
            Delivery.status == "sending")) >= 1
        receiver.stall_seconds = 0
        restarted = _start_worker(database_url, clock.now() + timedelta(seconds=41), 20, "once")
        out, err = restarted.communicate(timeout=120)
        assert restarted.returncode == 0, err[-3000:]
        statuses = Counter(s for (s,) in rows(engine, sa.select(Delivery.status)))
        assert statuses == {"sent": sum(statuses.values())}
        per_recipient = Counter(rows(engine, sa.select(Delivery.topic, Delivery.recipient_kind,
                                                       Delivery.recipient_id, Delivery.channel)))
        assert set(per_recipient.values()) == {1}
        assert _notified(engine, "sla.breached") == {"bank-admin-a": 1, "supervisor": 1}
        pushed = Counter(body["topic"] for body in {r["headers"]["X-Idempotency-Key"]: json_body
                                                   for r, json_body in zip(receiver.requests, receiver.bodies(),
                                                                           strict=True)}.values())
        assert pushed == {"application.submitted": 1, "sla.reminder": 1, "sla.breached": 1}
        assert max(receiver.keys().values()) == 2  # the killed push was sent again: at least once
    finally:
        receiver.close()


def test_the_delivery_job_runs_in_the_same_scheduler_as_the_timer_sweep(engine):
    from apscheduler.schedulers.background import BackgroundScheduler

    from engine.platform.scheduler import configure

    scheduler = configure(BackgroundScheduler(), engine, 15, 100, settings(poll_seconds=3))
    assert {job.id for job in scheduler.get_jobs()} == {"timer_sweep", "housekeeping", "period_reports", "delivery"}
    assert {job.id for job in configure(BackgroundScheduler(), engine, 15, 100).get_jobs()} == {
        "timer_sweep", "housekeeping", "period_reports"}
