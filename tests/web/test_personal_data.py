"""Personal data is masked on the pages; the handling institution may reveal it, and that is recorded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, Enterprise, LoanApplication
from tests.conftest import APPROVAL, rows, scalar

PHONE, ID_NUMBER, ACCOUNT = "13912345678", "430102198001011234", "6222021234567890123"


@pytest.fixture
def reference(engine, parties, submit):
    with engine.transaction() as session:
        enterprise = session.get(Enterprise, parties.enterprise.enterprise_id)
        enterprise.legal_representative, enterprise.representative_id_number = "王建国", ID_NUMBER
        enterprise.contact_phone = PHONE
    application_id = submit()
    return scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))


def _actions(engine, action):
    return rows(engine, sa.select(AuditEvent.actor, AuditEvent.detail).where(AuditEvent.action == action))


def test_the_officer_sees_masked_contact_data_and_the_view_is_recorded(browser, reference, engine):
    page = browser("officer-a").get(f"/inbox/{reference}").get_data(as_text=True)
    assert "139****5678" in page and "430***********1234" in page and "王建国" in page
    assert PHONE not in page and ID_NUMBER not in page
    assert _actions(engine, "viewed") == [("officer-a", {})]
    assert _actions(engine, "personal_data_revealed") == []


def test_revealing_shows_the_data_in_full_and_records_the_disclosure(browser, reference, engine):
    officer = browser("officer-a")
    officer.get(f"/inbox/{reference}")
    response = officer.post(f"/inbox/{reference}/contact")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert PHONE in page and ID_NUMBER in page
    assert _actions(engine, "personal_data_revealed") == [
        ("officer-a", {"fields": ["representative_id_number", "contact_phone"]})]


def test_revealing_needs_the_csrf_token(browser, reference, engine):
    officer = browser("officer-a")
    response = officer.post(f"/inbox/{reference}/contact", csrf=False)
    assert response.status_code == 400
    assert PHONE not in response.get_data(as_text=True)
    assert _actions(engine, "personal_data_revealed") == []


@pytest.mark.parametrize("intruder", ["officer-b", "supervisor", "ent-user", "other-user", "admin"])
def test_nobody_else_can_reveal(browser, reference, engine, intruder):
    response = browser(intruder).post(f"/inbox/{reference}/contact")
    assert response.status_code == 404
    assert PHONE not in response.get_data(as_text=True)
    assert _actions(engine, "personal_data_revealed") == []


def test_the_disbursement_account_is_masked_for_everyone(browser, engine, parties, reference, clock):
    services.accept(engine, parties.officer_a, reference)
    services.approve(engine, parties.officer_a, reference, APPROVAL)
    services.disburse(engine, parties.officer_a, reference, {
        "contract_number": "HT-2026-001", "amount": Decimal("400000.00"), "disbursed_on": date(2026, 9, 30),
        "account": ACCOUNT})
    for user, path in (("officer-a", f"/inbox/{reference}"), ("ent-user", f"/my/applications/{reference}")):
        page = browser(user).get(path).get_data(as_text=True)
        assert "HT-2026-001" in page, user
        assert "***************0123" in page and ACCOUNT not in page, user
