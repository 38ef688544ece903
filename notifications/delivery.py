"""The delivery worker: fan due outbox messages out, then send due deliveries, at least once.

A delivery is claimed in a short transaction (status `sending`, a lease, one more attempt; `FOR
UPDATE SKIP LOCKED` on PostgreSQL, SQLite's write lock elsewhere), sent with no transaction
open, and marked `sent` only after the channel accepted it. A worker killed in between leaves it
`sending`: once the lease has passed it is claimed and sent again, and the receiver deduplicates on
its idempotency key. A failure waits `backoff_seconds`, doubling; after `max_attempts` the
delivery is a dead letter until an admin retries it. In-app notifications are written in the
claiming transaction itself, so they are exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.models import Delivery, Notification, OutboxMessage, WebhookEndpoint, table_of
from engine.workflow.database import insert_ignoring_conflicts, is_postgresql
from engine.workflow.errors import NotFound
from engine.workflow.journal import record_audit
from engine.workflow.runtime import Engine
from notifications import texts
from notifications.channels import DeliveryFailed, build_email, send_email, send_webhook
from notifications.fanout import EMAIL, IN_APP, SECRET_TOPICS, WEBHOOK, claim_due_messages, fan_out
from notifications.settings import DeliverySettings

log = logging.getLogger(__name__)
MAX_BATCHES = 20  # per run: a run ends even when failures keep coming due at once


@dataclass
class Claimed:
    """A delivery taken for sending (with the reminders digested into it, for e-mail)."""

    id: int
    channel: str
    topic: str
    key: str
    address: str | None
    params: dict[str, Any]
    attempts: int
    group: list[int]
    digest: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


@dataclass
class DeliveryRun:
    messages: int = 0
    deliveries_made: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    postponed: int = 0


def _lock(query: sa.Select, session: Session) -> sa.Select:
    return query.with_for_update(skip_locked=True) if is_postgresql(session) else query


def _write_in_app(session: Session, now: datetime, delivery: Delivery) -> None:
    session.execute(insert_ignoring_conflicts(session, table_of(Notification)), {
        "user_id": delivery.recipient_id, "delivery_id": delivery.id, "topic": delivery.topic,
        "params": delivery.params, "created_at": now, "read_at": None})
    delivery.status, delivery.sent_at, delivery.lease_until = "sent", now, None
    delivery.attempts += 1


def _last_reminder_email(session: Session, recipient_id: int) -> datetime | None:
    return session.scalar(sa.select(sa.func.max(Delivery.sent_at)).where(
        Delivery.channel == EMAIL, Delivery.topic == "sla.reminder", Delivery.recipient_id == recipient_id,
        Delivery.status == "sent"))


def _digest_siblings(session: Session, delivery: Delivery) -> list[Delivery]:
    return list(session.scalars(_lock(sa.select(Delivery).where(
        Delivery.channel == EMAIL, Delivery.topic == "sla.reminder", Delivery.recipient_id == delivery.recipient_id,
        Delivery.status == "pending", Delivery.id != delivery.id).order_by(Delivery.id), session)))


def _live_secrets(session: Session, now: datetime, institution_id: int) -> tuple[str | None, list[str]]:
    endpoint = session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.institution_id == institution_id))
    if endpoint is None or not endpoint.active:
        return None, []
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        secrets.append(endpoint.previous_secret)
    return endpoint.url, secrets


def claim_due_deliveries(engine: Engine, settings: DeliverySettings, run: DeliveryRun) -> list[Claimed]:
    """Take due deliveries (and those whose lease ran out); write in-app ones at once."""
    claimed: list[Claimed] = []
    with engine.transaction() as session:
        now = engine.clock.now()
        lease = now + timedelta(seconds=settings.lease_seconds)
        due = sa.or_(sa.and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
                     sa.and_(Delivery.status == "sending", Delivery.lease_until <= now))
        rows = list(session.scalars(_lock(sa.select(Delivery).where(due).order_by(Delivery.id)
                                          .limit(settings.batch_size), session)))
        taken: set[int] = set()
        for delivery in rows:
            if delivery.id in taken:
                continue
            if delivery.channel == IN_APP:
                _write_in_app(session, now, delivery)
                run.sent += 1
                continue
            group, digest, address = [delivery], [], delivery.address
            secrets: list[str] = []
            if delivery.channel == EMAIL and delivery.topic == "sla.reminder":
                last = _last_reminder_email(session, delivery.recipient_id)
                window = timedelta(minutes=settings.reminder_digest_minutes)
                if last is not None and last + window > now:
                    delivery.status, delivery.next_attempt_at, delivery.lease_until = "pending", last + window, None
                    run.postponed += 1
                    continue
                group += [d for d in _digest_siblings(session, delivery) if d.id not in taken]
                digest = [(d.topic, d.params) for d in group] if len(group) > 1 else []
            if delivery.channel == WEBHOOK:
                address, secrets = _live_secrets(session, now, delivery.recipient_id)
            for member in group:
                member.status, member.lease_until = "sending", lease
                taken.add(member.id)
            delivery.attempts += 1
            claimed.append(Claimed(delivery.id, delivery.channel, delivery.topic, delivery.idempotency_key,
                                   address, delivery.params, delivery.attempts, [d.id for d in group], digest,
                                   secrets))
    return claimed


def _send(claimed: Claimed, settings: DeliverySettings) -> None:
    if claimed.channel == EMAIL:
        if not settings.smtp.enabled:
            raise DeliveryFailed("SMTP is not configured (SMTP_HOST is empty)")
        gettext = texts.catalog("zh")
        subject, body = (texts.render_digest(claimed.digest, gettext) if claimed.digest
                         else texts.render(claimed.topic, claimed.params, gettext))
        send_email(settings.smtp, build_email(settings.smtp, claimed.address or "", subject, body, claimed.key))
    elif claimed.channel == WEBHOOK:
        if not claimed.address:
            raise DeliveryFailed("The institution has no active webhook endpoint")
        send_webhook(claimed.address, claimed.secrets, claimed.key, claimed.params,
                     settings.webhook_timeout_seconds)
    else:
        raise DeliveryFailed(f"Unknown channel {claimed.channel}")


def _settle(engine: Engine, settings: DeliverySettings, claimed: Claimed, error: str | None) -> str:
    with engine.transaction() as session:
        now = engine.clock.now()
        members = list(session.scalars(sa.select(Delivery).where(Delivery.id.in_(claimed.group))))
        if error is None:
            for member in members:
                member.status, member.sent_at, member.lease_until = "sent", now, None
                if member.topic in SECRET_TOPICS:  # a verification code is not kept once sent
                    member.params = {key: value for key, value in member.params.items() if key != "code"}
            return "sent"
        dead = claimed.attempts >= settings.max_attempts
        retry_at = now + timedelta(seconds=settings.backoff_after(claimed.attempts))
        for member in members:
            if member.status == "sent":
                continue
            member.last_error = error[:2000]
            member.lease_until = None
            member.status = "dead" if dead and member.id == claimed.id else "pending"
            member.next_attempt_at = retry_at
        return "dead" if dead else "failed"


def send_claimed(engine: Engine, settings: DeliverySettings, claimed: Claimed, run: DeliveryRun) -> None:
    try:
        _send(claimed, settings)
    except DeliveryFailed as failure:
        outcome = _settle(engine, settings, claimed, str(failure))
        log.warning("Delivery %s (%s, %s) failed: %s", claimed.id, claimed.channel, claimed.topic, failure)
    except Exception as error:  # noqa: BLE001 - one broken delivery (a text, a payload) must not stop the rest
        outcome = _settle(engine, settings, claimed, f"{type(error).__name__}: {error}")
        log.exception("Delivery %s (%s, %s) could not be sent", claimed.id, claimed.channel, claimed.topic)
    else:
        outcome = _settle(engine, settings, claimed, None)
    setattr(run, outcome, getattr(run, outcome) + 1)


def dispatch_due_messages(engine: Engine, settings: DeliverySettings, run: DeliveryRun) -> None:
    for _ in range(MAX_BATCHES):
        with engine.transaction() as session:
            now = engine.clock.now()
            messages = claim_due_messages(session, now, settings.batch_size)
            for message in messages:
                # A savepoint per message: one that cannot be fanned out is parked, the others go on.
                message_id, topic = message.id, message.topic
                savepoint = session.begin_nested()
                try:
                    run.deliveries_made += fan_out(session, now, message, settings)
                    savepoint.commit()
                except (sa.exc.OperationalError, sa.exc.InterfaceError):
                    raise  # the database's trouble, not the message's: the whole batch is tried again
                except Exception as error:  # noqa: BLE001 - a message we cannot address must not block the queue
                    savepoint.rollback()
                    _park_message(session, now, message_id, topic, error, settings)
        run.messages += len(messages)
        if len(messages) < settings.batch_size:
            return


def _park_message(session: Session, now: datetime, message_id: int, topic: str, error: Exception,
                  settings: DeliverySettings) -> None:
    """Try the message again later with backoff; after the last attempt it stays `failed` (logged)."""
    attempts = (session.scalar(sa.select(OutboxMessage.attempts).where(OutboxMessage.id == message_id)) or 0) + 1
    dead = attempts >= settings.max_attempts
    session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id).values(
        attempts=attempts, status="failed" if dead else "pending", last_error=f"{type(error).__name__}: {error}"[:2000],
        next_attempt_at=now + timedelta(seconds=settings.backoff_after(attempts))))
    log.exception("Outbox message %s (%s) could not be fanned out (attempt %s)", message_id, topic, attempts)


def deliver_due(engine: Engine, settings: DeliverySettings) -> DeliveryRun:
    """Fan out due outbox messages, then send every due delivery once."""
    run = DeliveryRun()
    engine.retrying(lambda: dispatch_due_messages(engine, settings, run))
    for _ in range(MAX_BATCHES):
        batch = engine.retrying(lambda: claim_due_deliveries(engine, settings, run))
        for claimed in batch:
            send_claimed(engine, settings, claimed, run)
        if not batch:
            break
    return run


@dataclass(frozen=True)
class DeadLetter:
    id: int
    topic: str
    channel: str
    recipient: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime


def dead_letters(session: Session, limit: int = 200) -> list[DeadLetter]:
    """Deliveries that kept failing, newest first, with whom they were for."""
    from engine.models import Institution, UserAccount

    user = sa.select(UserAccount.username).where(UserAccount.id == Delivery.recipient_id).scalar_subquery()
    institution = sa.select(Institution.code).where(Institution.id == Delivery.recipient_id).scalar_subquery()
    query = (sa.select(Delivery, sa.case((Delivery.recipient_kind == "user", user),
                                         (Delivery.recipient_kind == "institution", institution), else_=None))
             .where(Delivery.status == "dead").order_by(Delivery.id.desc()).limit(limit))
    return [DeadLetter(d.id, d.topic, d.channel, f"{d.recipient_kind}:{name or d.recipient_id}", d.attempts,
                       d.last_error or "", d.created_at, d.next_attempt_at)
            for d, name in session.execute(query)]


def retry_dead_letter(engine: Engine, delivery_id: int, actor: str) -> None:
    """Give a dead letter a fresh round of attempts, due now."""
    with engine.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != "dead":
            raise NotFound(f"No dead letter #{delivery_id}.")
        now = engine.clock.now()
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
        record_audit(session, now, actor, "delivery_retried",
                     detail={"delivery": delivery.id, "topic": delivery.topic, "channel": delivery.channel})
