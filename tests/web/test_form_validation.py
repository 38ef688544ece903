"""Every bad input on the web forms gets its own message, in the interface language, and changes nothing."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, LoanApplication, TaskRow
from tests.conftest import APPROVAL, scalar
from web.labels import translate
from web.task_forms import translate_problem

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


def _task(engine, application_id: int, bpmn_id: str, state: str = "open") -> int:
    return scalar(engine, sa.select(TaskRow.id).where(TaskRow.application_id == application_id,
                                                      TaskRow.bpmn_id == bpmn_id, TaskRow.state == state))


def _application_id(engine, reference: str) -> int:
    return scalar(engine, sa.select(LoanApplication.id).where(LoanApplication.reference == reference))


def _problem_in_chinese(web_app, code: str, params: dict) -> str:
    with web_app.test_request_context("/?lang=zh"):
        translated = translate_problem(code, params)
    with web_app.test_request_context("/?lang=en"):
        assert translated != translate_problem(code, params), f"no Chinese translation for {code!r}"
    return translated


def _field_error(html: str, key: str) -> str:
    match = re.search(rf'<span id="field-{key}-error" class="error" role="alert">([^<]*)</span>', html)
    assert match, f"no error shown for {key}"
    return match.group(1)


# Each step's task page (/tasks/<id>, the form from bpmn/forms/): the problem shown on the field it names.
@pytest.mark.parametrize(("step", "data", "field", "code", "params"), [
    ("Accept", {"note": "n" * 501}, "note", "max_length", {"max": 500}),
    ("Decide", {}, "decision", "required", {}),
    ("Decide", {**GOOD_APPROVAL, "amount": ""}, "amount", "required", {}),
    ("Decide", {**GOOD_APPROVAL, "amount": "0.001"}, "amount", "min", {"min": "0.01"}),
    ("Decide", {**GOOD_APPROVAL, "amount": "0.001"}, "amount", "decimal_places", {"max": 2}),
    ("Decide", {**GOOD_APPROVAL, "annual_rate": "37"}, "annual_rate", "max", {"max": "36"}),
    ("Decide", {**GOOD_APPROVAL, "annual_rate": "3.123456"}, "annual_rate", "decimal_places", {"max": 4}),
    ("Decide", {**GOOD_APPROVAL, "term_months": "0"}, "term_months", "min", {"min": 1}),
    ("Decide", {"decision": "reject", "reason": ""}, "reason", "required", {}),
    ("Decide", {"decision": "reject", "reason": "   "}, "reason", "required", {}),
    ("Disburse", {**GOOD_DISBURSEMENT, "contract_number": ""}, "contract_number", "required", {}),
    ("Disburse", {**GOOD_DISBURSEMENT, "amount": "400000.01"}, "amount", "above_approved", {}),
    ("Disburse", {**GOOD_DISBURSEMENT, "disbursed_on": "2026-13-01"}, "disbursed_on", "not_a_date", {}),
    ("Disburse", {**GOOD_DISBURSEMENT, "disbursed_on": "2026-10-01"}, "disbursed_on", "in_future", {}),
    ("Disburse", {**GOOD_DISBURSEMENT, "disbursed_on": "2026-09-29"}, "disbursed_on", "before_previous_step", {}),
    ("Disburse", {**GOOD_DISBURSEMENT, "account": "9" * 65}, "account", "max_length", {"max": 64}),
    ("Settle", {"settled_on": ""}, "settled_on", "required", {}),
    ("Settle", {"settled_on": "2026-10-01"}, "settled_on", "in_future", {}),
    ("Settle", {"settled_on": "2026-09-29"}, "settled_on", "before_previous_step", {}),
])
def test_bad_step_forms(browser, engine, web_app, at_step, step, data, field, code, params):
    reference = at_step(step)
    task = _task(engine, _application_id(engine, reference), step)
    before = _state(engine)
    officer = browser("officer-a")
    response = officer.post(f"/tasks/{task}", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _problem_in_chinese(web_app, code, params) in _field_error(body, field)
    for key, value in data.items():
        if value.strip() and len(value) < 100 and value not in ("approve", "reject"):
            assert f'id="field-{key}" value="{value}"' in body, value  # the input is kept
    assert _state(engine) == before  # nothing changed, nothing recorded
    assert _task(engine, _application_id(engine, reference), step) == task  # the task is still open


def test_refused_steps_are_explained_in_chinese(browser, engine, at_step, web_app):
    reference = at_step("Decide")
    application_id = _application_id(engine, reference)
    officer = browser("officer-a")
    before = _state(engine)
    response = officer.post(f"/tasks/{_task(engine, application_id, 'Accept', 'completed')}", {})  # taken already
    assert response.status_code == 409 and "该任务已不在待办中" in response.get_data(as_text=True)
    assert _state(engine)[:2] == before[:2]
    # A step the case has not reached has no task to work: the page offers the open one only.
    page = officer.get(f"/inbox/{reference}").get_data(as_text=True)
    assert f'href="/tasks/{_task(engine, application_id, "Decide")}">办理</a>' in page
    assert page.count(">办理</a>") == 1 and "结清" not in page.split('id="open-tasks"')[1].split("</section>")[0]
    # The engine's own refusals of a step, as pages still show them (the enterprise withdrawing).
    enterprise = browser("ent-user")
    enterprise.post(f"/my/applications/{reference}/withdraw", {})
    response = enterprise.post(f"/my/applications/{reference}/withdraw", {})  # withdrawn already
    page = enterprise.get(response.headers["Location"]).get_data(as_text=True)
    assert f"申请 {reference} 已是“已撤销”状态。" in page
    approved = at_step("Disburse")
    response = enterprise.post(f"/my/applications/{approved}/withdraw", {})  # too late
    page = enterprise.get(response.headers["Location"]).get_data(as_text=True)
    assert f"申请 {approved} 处于“已授信”状态，不能办理此步骤。" in page
