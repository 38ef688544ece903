"""The bell, the notifications page (each user's own, in their language), dead letters for admins."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic import command

from engine.models import Delivery, LoanApplication, Notification, UserAccount
from engine.platform.migrate import alembic_config
from notifications.delivery import deliver_due
from tests.conftest import rows, scalar
from tests.notification_helpers import Receiver, connect_webhook, settings

BELL = re.compile(r'id="bell-count">(\d+)<')


@pytest.fixture
def submitted(browser, parties, engine):
    """An application submitted on the web by ent-user to bank A, with its notifications delivered."""
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    deliver_due(engine, settings())
    return scalar(engine, sa.select(LoanApplication.reference))


def _bell(page) -> int:
    match = BELL.search(page.get_data(as_text=True))
    return int(match.group(1)) if match else 0


def _notification_of(engine, username: str) -> int:
    return scalar(engine, sa.select(Notification.id).join(UserAccount, UserAccount.id == Notification.user_id)
                  .where(UserAccount.username == username))


def test_the_bell_counts_unread_notifications_and_opening_one_marks_it_read(browser, engine, submitted):
    officer = browser("officer-a")
    assert _bell(officer.get("/inbox")) == 1
    page = officer.get("/notifications").get_data(as_text=True)
    assert f"新申请 {submitted} 待受理" in page and "application.submitted" not in page and '"audience"' not in page
    english = officer.get("/notifications?lang=en").get_data(as_text=True)
    assert f"New application {submitted} to accept" in english
    opened = officer.get(f"/notifications/{_notification_of(engine, 'officer-a')}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/inbox/{submitted}")
    assert _bell(officer.get("/inbox")) == 0


def test_mark_all_read_clears_the_bell(browser, engine, submitted, parties):
    from engine.loans import services

    application_id = scalar(engine, sa.select(LoanApplication.id))
    services.accept(engine, parties.officer_a, application_id)
    deliver_due(engine, settings())
    enterprise = browser("ent-user")
    assert _bell(enterprise.get("/my/applications")) == 2
    assert enterprise.post("/notifications/read").status_code == 302
    assert _bell(enterprise.get("/my/applications")) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(Notification).where(
        Notification.read_at.is_(None))) == 2  # officer-a's are untouched


def test_users_see_and_open_only_their_own_notifications(browser, engine, submitted):
    others = browser("officer-b")
    assert _bell(others.get("/inbox")) == 0
    assert submitted not in others.get("/notifications").get_data(as_text=True)
    notification_id = _notification_of(engine, "officer-a")
    assert others.get(f"/notifications/{notification_id}").status_code == 404
    assert others.post("/notifications/read").status_code == 302
    assert scalar(engine, sa.select(Notification.read_at).where(Notification.id == notification_id)) is None


@pytest.fixture
def dead_letter(engine, parties, browser):
    receiver = Receiver(failures=100)
    connect_webhook(engine, parties, receiver.url)
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    deliver_due(engine, settings(max_attempts=1))
    delivery = scalar(engine, sa.select(Delivery).where(Delivery.channel == "webhook"))
    assert delivery.status == "dead"
    yield receiver, delivery.id
    receiver.close()


def test_admins_see_dead_letters_with_the_error_and_retry_them_on_the_page(browser, engine, dead_letter):
    receiver, delivery_id = dead_letter
    admin = browser("admin")
    page = admin.get("/admin/deliveries").get_data(as_text=True)
    assert f'id="delivery-{delivery_id}"' in page
    assert "HTTP 500" in page and "application.submitted" in page and "institution:A" in page
    assert admin.post(f"/admin/deliveries/{delivery_id}/retry", csrf=False).status_code == 400
    assert admin.post(f"/admin/deliveries/{delivery_id}/retry").status_code == 302
    assert scalar(engine, sa.select(Delivery.status).where(Delivery.id == delivery_id)) == "pending"
    receiver.failures = 0
    deliver_due(engine, settings())
    assert scalar(engine, sa.select(Delivery.status).where(Delivery.id == delivery_id)) == "sent"
    assert f'id="delivery-{delivery_id}"' not in admin.get("/admin/deliveries").get_data(as_text=True)
    assert browser("bank-admin-a").get("/admin/deliveries").status_code == 404


def test_the_cli_lists_dead_letters_and_retries_one(web_app, database_url, engine, dead_letter):
    receiver, delivery_id = dead_letter
    command.stamp(alembic_config(database_url), "head")
    cli = web_app.test_cli_runner()
    listed = cli.invoke(args=["deliveries", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"#{delivery_id} application.submitted via webhook to institution:A: 1 attempt(s)" in listed.output
    assert "HTTP 500" in listed.output
    receiver.failures = 0
    retried = cli.invoke(args=["deliveries", "retry", str(delivery_id)])
    assert retried.exit_code == 0, retried.output
    assert rows(engine, sa.select(Delivery.status).where(Delivery.id == delivery_id)) == [("sent",)]
    assert cli.invoke(args=["deliveries", "retry", str(delivery_id)]).exit_code == 1
    assert "No dead letters." in cli.invoke(args=["deliveries", "list"]).output


def test_the_cli_sets_webhooks_rotates_secrets_and_users_email(web_app, database_url, engine, parties):
    command.stamp(alembic_config(database_url), "head")
    cli = web_app.test_cli_runner()
    made = cli.invoke(args=["webhook", "set", "A", "https://bank-a.example.cn/hooks"])
    assert made.exit_code == 0 and made.output.startswith("whsec_")
    assert cli.invoke(args=["webhook", "set", "A", "ftp://x"]).exit_code == 1
    rotated = cli.invoke(args=["webhook", "rotate", "A"])
    assert rotated.exit_code == 0 and rotated.output.startswith("whsec_") and rotated.output != made.output
    assert cli.invoke(args=["webhook", "rotate", "B"]).exit_code == 1
    assert cli.invoke(args=["user-email", "officer-a", "officer@bank-a.example.cn"]).exit_code == 0
    assert cli.invoke(args=["user-email", "officer-a", "not-an-address"]).exit_code == 1
    assert scalar(engine, sa.select(UserAccount.email).where(UserAccount.username == "officer-a")) == \
        "officer@bank-a.example.cn"
