"""E-mail reaches a real SMTP server (aiosmtpd): the right recipients, Chinese text correctly encoded,
and reminders digested into one e-mail per person within the window."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from engine.models import Delivery, LoanApplication, UserAccount
from engine.workflow.journal import enqueue
from engine.workflow.timers import sweep_due_timers
from notifications.delivery import deliver_due
from tests.conftest import cst, rows, scalar
from tests.notification_helpers import add_people, settings, smtp


class Mailbox:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[tuple[list[str], email.message.EmailMessage, bytes]]:
        return [(envelope.rcpt_tos, email.message_from_bytes(envelope.original_content, policy=email.policy.default),
                 envelope.original_content) for envelope in self.envelopes]


@pytest.fixture
def mailbox():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


def test_emails_arrive_with_the_right_recipients_and_chinese_text(engine, parties, submit, mailbox):
    add_people(engine, parties, emails=True)
    submit()
    run = deliver_due(engine, settings(smtp=smtp(mailbox.port)))
    assert run.failed == 0
    reference = scalar(engine, sa.select(LoanApplication.reference))
    received = {tuple(to): (message, raw) for to, message, raw in mailbox.messages()}
    assert set(received) == {("officer-a@example.cn",), ("ent-user@example.cn",)}
    officer, raw = received[("officer-a@example.cn",)]
    assert officer["Subject"] == f"新申请 {reference} 待受理"
    assert officer.get_content().strip() == f"申请 {reference} 已提交至贵机构，等待受理。"
    assert officer["To"] == "officer-a@example.cn" and officer["From"] == "platform@xinyidai.example.cn"
    assert b"=?utf-8?" in raw and "新申请".encode() not in raw.split(b"\r\n\r\n")[0]  # headers are encoded
    key = scalar(engine, sa.select(Delivery.idempotency_key).join(UserAccount, UserAccount.id == Delivery.recipient_id)
                 .where(Delivery.channel == "email", UserAccount.username == "officer-a"))
    assert officer["X-Idempotency-Key"].strip() == key and key in officer["Message-ID"]  # (folded: 64 characters)
    enterprise, _ = received[("ent-user@example.cn",)]
    assert enterprise["Subject"] == f"您的申请 {reference}：待受理"
    deliver_due(engine, settings(smtp=smtp(mailbox.port)))
    assert len(mailbox.envelopes) == 2  # sent once


def test_no_email_is_made_while_smtp_is_not_configured(engine, parties, submit):
    add_people(engine, parties, emails=True)
    submit()
    deliver_due(engine, settings())
    assert scalar(engine, sa.select(sa.func.count()).select_from(Delivery).where(Delivery.channel == "email")) == 0


def test_reminders_within_the_hour_become_one_email_per_person(engine, parties, submit, clock, mailbox):
    add_people(engine, parties, emails=True)
    submit()
    submit(purpose="Second")
    config = settings(smtp=smtp(mailbox.port), reminder_digest_minutes=60)
    deliver_due(engine, config)
    mailbox.envelopes.clear()
    clock.set(cst("2026-10-10 00:00"))
    assert sweep_due_timers(engine).claimed == 2
    deliver_due(engine, config)
    references = [r for (r,) in rows(engine, sa.select(LoanApplication.reference).order_by(LoanApplication.id))]
    (to, digest, _), = mailbox.messages()
    assert to == ["officer-a@example.cn"]
    assert digest["Subject"] == "一个工作日内届满的时限：2 项"
    assert all(reference in digest.get_content() for reference in references)
    clock.advance(minutes=10)
    with engine.transaction() as session:  # a third reminder inside the hour waits for the window
        enqueue(session, clock.now(), "sla.reminder", {"application": references[0], "institution_id":
                parties.bank_a_id, "kind": "decision", "due_at": (clock.now() + timedelta(days=1)).isoformat()})
    deliver_due(engine, config)
    assert len(mailbox.envelopes) == 1
    clock.advance(minutes=50)
    deliver_due(engine, config)
    assert len(mailbox.envelopes) == 2
    assert "授信决定" in mailbox.messages()[1][1].get_content()
