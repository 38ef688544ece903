"""The 银行直连 push of a new application: what it carries, and the bank's own verifier (examples/)."""

from __future__ import annotations

import importlib.util
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.models import LoanApplication
from notifications.channels import webhook_request
from notifications.delivery import _live_secrets, deliver_due
from notifications.endpoints import rotate_secret, set_endpoint
from tests.conftest import scalar
from tests.notification_helpers import connect_webhook, settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bank_system():
    spec = importlib.util.spec_from_file_location("bank_system", ROOT / "examples" / "bank_system.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bank_receiver(bank_system):
    holder = {}

    def start(secret: str):
        pushes = []
        server = bank_system.webhook_server(0, secret, pushes.append)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        holder["server"] = server
        return f"http://127.0.0.1:{server.server_address[1]}/", pushes
    yield start
    if "server" in holder:
        holder["server"].shutdown()
        holder["server"].server_close()


def test_the_push_of_a_new_application_carries_it_with_the_enterprise_and_its_authorization(
        engine, parties, submit, clock, bank_receiver):
    secret = connect_webhook(engine, parties, "http://127.0.0.1:9/not-yet")  # the secret comes first
    url, pushes = bank_receiver(secret)
    with engine.transaction() as session:
        set_endpoint(session, clock.now(), "A", url, "test")
    submit()
    run = deliver_due(engine, settings())
    assert run.failed == 0 and run.sent == 1
    (push,) = pushes
    application = scalar(engine, sa.select(LoanApplication))
    assert push["topic"] == "application.submitted"
    assert push["data"]["application"] == {
        "reference": application.reference, "amount": "500000.00", "term_months": 12,
        "purpose": "Working capital", "product": {"code": "PA", "name": "Product A"},
        "submitted_at": application.submitted_at.isoformat()}
    assert push["data"]["enterprise"] == {"name": "Ent", "credit_code": "91430100MA4L000001"}
    authorization = push["data"]["authorization"]
    assert authorization["scope"] == "Enterprise credit report, this application only"
    assert authorization["granted_at"] == clock.now().isoformat()
    assert authorization["expires_at"] == (clock.now() + timedelta(days=90)).isoformat()


def test_the_banks_verifier_rejects_a_tampered_body_a_stale_timestamp_and_a_wrong_secret(bank_system):
    body = {"id": "k1", "topic": "application.submitted", "data": {"application": {"amount": "500000.00"}}}
    request = webhook_request("http://bank.example/", ["s3cret"], "k1", body)
    headers = {name.lower(): value for name, value in request.header_items()}
    timestamp, signature = headers["x-xyd-timestamp"], headers["x-xyd-signature"]
    assert bank_system.verify_webhook("s3cret", timestamp, signature, request.data)["id"] == "k1"
    tampered = request.data.replace(b"500000.00", b"900000.00")
    with pytest.raises(bank_system.WebhookRejected):
        bank_system.verify_webhook("s3cret", timestamp, signature, tampered)
    with pytest.raises(bank_system.WebhookRejected):
        bank_system.verify_webhook("other", timestamp, signature, request.data)
    with pytest.raises(bank_system.WebhookRejected):
        bank_system.verify_webhook("s3cret", timestamp, signature, request.data, now=time.time() + 3600)


def test_during_a_rotation_both_secrets_sign_until_the_grace_period_ends(
        engine, parties, submit, clock, bank_receiver, bank_system):
    old = connect_webhook(engine, parties, "http://127.0.0.1:9/not-yet")
    url, pushes = bank_receiver(old)  # the bank has not switched to the new secret yet
    with engine.transaction() as session:
        set_endpoint(session, clock.now(), "A", url, "test")
        new = rotate_secret(session, clock.now(), "A", timedelta(hours=24), "test")
    submit()
    assert deliver_due(engine, settings()).sent == 1
    assert len(pushes) == 1
    with engine.reading() as session:
        assert _live_secrets(session, clock.now(), parties.bank_a_id)[1] == [new, old]
        assert _live_secrets(session, clock.now() + timedelta(hours=25), parties.bank_a_id)[1] == [new]
    request = webhook_request(url, [new, old], "k", {"id": "k"})
    headers = {name.lower(): value for name, value in request.header_items()}
    assert headers["x-xyd-signature"].count("v1=") == 2
    for secret in (new, old):
        assert bank_system.verify_webhook(secret, headers["x-xyd-timestamp"], headers["x-xyd-signature"],
                                          request.data) == {"id": "k"}
