"""Every bad input on the web forms gets its own message, in the interface language, and changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, LoanApplication
from tests.conftest import APPROVAL, scalar
from web.labels import translate

GOOD_APPLICATION = {"amount": "500000.00", "term_months": "12", "purpose": "Working capital", "authorize": "yes"}


def _in_chinese(web_app, message: str) -> str:
    with web_app.test_request_context("/?lang=zh"):
        translated = translate(message)
    assert translated != message, f"no Chinese translation for {message!r}"
    return translated


def _state(engine):
    return (scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)),
            scalar(engine, sa.select(sa.func.max(LoanApplication.updated_at))),
            scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent)))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("amount", "", "Not a valid number."),
    ("amount", "abc", "Not a valid number."),
    ("amount", "0", "Must be between 0.01 and 100000000000.00 yuan."),
    ("amount", "-5", "Must be between 0.01 and 100000000000.00 yuan."),
    ("amount", "100000000000.01", "Must be between 0.01 and 100000000000.00 yuan."),
    ("amount", "12.345", "At most two decimal places (yuan and fen)."),
    ("term_months", "0", "Must be greater than or equal to 1 and less than or equal to 360."),
    ("term_months", "361", "Must be greater than or equal to 1 and less than or equal to 360."),
    ("term_months", "twelve", "Not a valid integer."),
    ("purpose", "", "Length must be between 1 and 500."),
    ("purpose", "x" * 501, "Length must be between 1 and 500."),
    ("product", "", "Not a valid integer."),
    ("product", "999:999", "No such product at this institution."),
    ("authorize", "", "The bank may only query your credit report with your authorization."),
])
def test_bad_applications(browser, parties, engine, web_app, field, value, message):
    data = {**GOOD_APPLICATION, "product": f"{parties.bank_a_id}:{parties.product_a_id}", field: value}
    before = _state(engine)
    response = browser("ent-user").post("/my/applications/new", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _in_chinese(web_app, message) in body
    if value and field != "product":
        assert value[:100] in body  # the input is kept
    assert _state(engine) == before


def test_a_product_of_another_institution_is_refused(browser, parties, engine, web_app):
    data = {**GOOD_APPLICATION, "product": f"{parties.bank_a_id}:{parties.product_b_id}"}
    response = browser("ent-user").post("/my/applications/new", data)
    assert response.status_code == 422
    assert _in_chinese(web_app, "No such product at this institution.") in response.get_data(as_text=True)
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0


@pytest.fixture
def at_step(engine, parties, submit):
    """An application of bank A brought to the given step."""
    def bring(step: str) -> str:
        reference = scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == submit()))
        if step in ("Decide", "Disburse", "Settle"):
            services.accept(engine, parties.officer_a, reference)
        if step in ("Disburse", "Settle"):
            services.approve(engine, parties.officer_a, reference, APPROVAL)
        if step == "Settle":
            services.disburse(engine, parties.officer_a, reference, {
                "contract_number": "HT-1", "amount": Decimal("400000.00"), "disbursed_on": date(2026, 9, 30)})
        return reference
    return bring


GOOD_APPROVAL = {"decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": "12"}
GOOD_DISBURSEMENT = {"contract_number": "HT-9", "amount": "400000.00", "disbursed_on": "2026-09-30"}


@pytest.mark.parametrize(("step", "path", "data", "message"), [
    ("Accept", "accept", {"note": "n" * 501}, "Longer than maximum length 500."),
    ("Decide", "decision", {}, "Choose approve or reject."),
    ("Decide", "decision", {**GOOD_APPROVAL, "amount": ""}, "Not a valid number."),
    ("Decide", "decision", {**GOOD_APPROVAL, "amount": "0.001"}, "Must be between 0.01 and 100000000000.00 yuan."),
    ("Decide", "decision", {**GOOD_APPROVAL, "annual_rate": "37"}, "Must be between 0.0001 and 36 (%)."),
    ("Decide", "decision", {**GOOD_APPROVAL, "annual_rate": "3.123456"}, "At most four decimal places."),
    ("Decide", "decision", {**GOOD_APPROVAL, "term_months": "0"},
     "Must be greater than or equal to 1 and less than or equal to 360."),
    ("Decide", "decision", {"decision": "reject", "reason": ""}, "Length must be between 1 and 1000."),
    ("Decide", "decision", {"decision": "reject", "reason": "   "}, "A reason is required."),
    ("Disburse", "disbursement", {**GOOD_DISBURSEMENT, "contract_number": ""}, "Length must be between 1 and 64."),
    ("Disburse", "disbursement", {**GOOD_DISBURSEMENT, "amount": "400000.01"}, "Cannot exceed the approved amount."),
    ("Disburse", "disbursement", {**GOOD_DISBURSEMENT, "disbursed_on": "2026-13-01"}, "Not a valid date."),
    ("Disburse", "disbursement", {**GOOD_DISBURSEMENT, "disbursed_on": "2026-10-01"}, "Cannot be in the future."),
    ("Disburse", "disbursement", {**GOOD_DISBURSEMENT, "disbursed_on": "2026-09-29"},
     "Cannot be before the previous step."),
    ("Disburse", "disbursement", {**GOOD_DISBURSEMENT, "account": "9" * 65}, "Longer than maximum length 64."),
    ("Settle", "settlement", {"settled_on": ""}, "Not a valid date."),
    ("Settle", "settlement", {"settled_on": "2026-10-01"}, "Cannot be in the future."),
    ("Settle", "settlement", {"settled_on": "2026-09-29"}, "Cannot be before the previous step."),
])
def test_bad_step_forms(browser, engine, web_app, at_step, step, path, data, message):
    reference = at_step(step)
    before = _state(engine)
    officer = browser("officer-a")
    response = officer.post(f"/inbox/{reference}/{path}", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _in_chinese(web_app, message) in body
    for value in data.values():
        if value.strip() and len(value) < 100 and value not in ("approve", "reject"):
            assert f'value="{value}"' in body or f">{value}<" in body, value  # the input is kept
    events_before = before[2] + 1  # the re-rendered page records the officer's view, nothing else
    assert _state(engine)[:2] == before[:2] and _state(engine)[2] == events_before


def test_refused_steps_are_explained_in_chinese(browser, engine, at_step, web_app):
    reference = at_step("Decide")
    officer = browser("officer-a")
    response = officer.post(f"/inbox/{reference}/accept", {})  # taken already
    page = officer.get(response.headers["Location"]).get_data(as_text=True)
    assert f"申请 {reference} 已是“已受理”状态。" in page
    response = officer.post(f"/inbox/{reference}/settlement", {"settled_on": "2026-09-30"})  # too early
    page = officer.get(response.headers["Location"]).get_data(as_text=True)
    assert f"申请 {reference} 处于“已受理”状态，不能办理此步骤。" in page
