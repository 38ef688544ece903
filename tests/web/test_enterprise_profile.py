"""An enterprise keeps its own contact data; institutions then see it masked."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.models import AuditEvent, Enterprise, LoanApplication
from engine.platform.enterprise_profile import id_number_is_valid
from tests.conftest import scalar
from web.labels import translate

GOOD = {"legal_representative": "王建国", "representative_id_number": "11010519491231002X",
        "contact_phone": "139 1234 5678"}


def _contact(engine, parties):
    with engine.transaction() as session:
        enterprise = session.get(Enterprise, parties.enterprise.enterprise_id)
        return enterprise.legal_representative, enterprise.representative_id_number, enterprise.contact_phone


def test_the_enterprise_sets_its_contact_data_and_the_bank_sees_it_masked(browser, engine, parties):
    enterprise = browser("ent-user")
    assert enterprise.post("/my/profile", GOOD).status_code == 302
    assert _contact(engine, parties) == ("王建国", "11010519491231002X", "13912345678")
    assert "13912345678" in enterprise.get("/my/profile").get_data(as_text=True)  # their own data, in full
    detail = scalar(engine, sa.select(AuditEvent.detail).where(AuditEvent.action == "contact_updated"))
    assert detail["fields"] == ["legal_representative", "representative_id_number", "contact_phone"]
    assert "13912345678" not in str(detail)

    enterprise.post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    reference = scalar(engine, sa.select(LoanApplication.reference))
    page = browser("officer-a").get(f"/inbox/{reference}").get_data(as_text=True)
    assert "139****5678" in page and "110***********002X" in page and "13912345678" not in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("legal_representative", "", "Length must be between 1 and 100."),
    ("representative_id_number", "110105194912310021", "Not a valid resident ID number (18 characters, "
                                                       "the last one a check digit or X)."),
    ("representative_id_number", "1101051949123100", "Not a valid resident ID number (18 characters, "
                                                     "the last one a check digit or X)."),
    ("contact_phone", "12345678901", "A mobile number (11 digits) or a landline with its area code, "
                                     "e.g. 0731-88881234."),
    ("contact_phone", "", "A mobile number (11 digits) or a landline with its area code, e.g. 0731-88881234."),
])
def test_bad_contact_data_gets_its_message_and_changes_nothing(browser, engine, parties, web_app, field, value,
                                                               message):
    before = _contact(engine, parties)
    response = browser("ent-user").post("/my/profile", {**GOOD, field: value})
    assert response.status_code == 422
    with web_app.test_request_context("/?lang=zh"):
        translated = translate(message)
    assert translated != message and translated in response.get_data(as_text=True)
    assert _contact(engine, parties) == before
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize(("number", "valid"), [
    ("11010519491231002X", True), ("430102198001011234", False), ("43010219800101123X", False),
    ("110105194912310021", False), ("11010519491231002x", False), ("1101051949123100", False),
])
def test_resident_id_check_character(number, valid):
    assert id_number_is_valid(number) is valid
