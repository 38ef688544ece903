"""One message or delivery that cannot be handled is parked; every other one still goes out."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from engine.models import Notification, OutboxMessage, UserAccount
from engine.workflow.journal import enqueue
from notifications.delivery import deliver_due
from tests.conftest import rows, scalar
from tests.notification_helpers import add_people, settings


def test_a_message_that_cannot_be_addressed_is_parked_and_the_next_ones_are_delivered(engine, parties, submit):
    add_people(engine, parties)
    with engine.transaction() as session:  # written by an older release, say, in another shape
        enqueue(session, engine.clock.now(), "sla.breached", {"application": {"reference": "LA-1"}})
    submit()
    run = deliver_due(engine, settings())
    assert run.messages == 2
    broken = scalar(engine, sa.select(OutboxMessage).where(OutboxMessage.topic == "sla.breached"))
    assert broken.status == "pending" and broken.attempts == 1 and broken.last_error
    assert broken.next_attempt_at > engine.clock.now()  # tried again later, with backoff
    told = Counter(name for (name,) in rows(engine, sa.select(UserAccount.username).join(
        Notification, Notification.user_id == UserAccount.id)))
    assert told == {"officer-a": 1, "ent-user": 1}  # the submission still reached its people


def test_a_delivery_that_breaks_unexpectedly_is_retried_later_and_the_run_goes_on(engine, parties, submit,
                                                                                   monkeypatch):
    from notifications import delivery
    from tests.notification_helpers import connect_webhook

    connect_webhook(engine, parties, "http://127.0.0.1:9/hook")

    def broken_webhook(*args, **kwargs):
        raise ValueError("a payload the sender cannot encode")

    monkeypatch.setattr(delivery, "send_webhook", broken_webhook)
    submit()
    submit()
    run = deliver_due(engine, settings())
    assert run.failed == 2 and run.sent == 0  # both tried, neither stopped the run
    assert {e for (e,) in rows(engine, sa.select(delivery.Delivery.last_error).where(
        delivery.Delivery.channel == "webhook"))} == {"ValueError: a payload the sender cannot encode"}
