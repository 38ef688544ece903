"""The banks' decision and disbursement feedback: loan type, first loan and term class, all optional."""

from __future__ import annotations

import json

from engine.workflow.definitions import BPMN_DIR, deploy, parse_model, shipped_decisions, shipped_forms
from tests.api.test_applications_api import _submit


def _approved(callers, parties, clock, **feedback):
    reference = _submit(callers, parties, clock)
    assert callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {}).status_code == 200
    response = callers.bank_a.post(f"/api/v1/applications/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": 12, **feedback})
    assert response.status_code == 200, response.json
    return reference, response.json


def test_the_decision_and_disbursement_store_the_reported_loan_facts(callers, parties, clock):
    reference, approved = _approved(callers, parties, clock, loan_type="guaranteed", first_loan=True,
                                    term_class="medium_long")
    assert (approved["loan_type"], approved["first_loan"], approved["term_class"]) == (
        "guaranteed", True, "medium_long")
    disbursed = callers.bank_a.post(f"/api/v1/applications/{reference}/disbursement", {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": "2026-09-30", "loan_type": "credit",
        "first_loan": False})
    assert disbursed.status_code == 200, disbursed.json
    # What the disbursement reports wins; what it leaves out stays as the decision reported it.
    assert (disbursed.json["loan_type"], disbursed.json["first_loan"], disbursed.json["term_class"]) == (
        "credit", False, "medium_long")


def test_without_the_new_fields_the_term_class_follows_the_approved_term(callers, parties, clock):
    reference, approved = _approved(callers, parties, clock)
    assert (approved["loan_type"], approved["first_loan"], approved["term_class"]) == (None, None, "short")
    longer = _submit(callers, parties, clock, term_months=36)
    callers.bank_a.post(f"/api/v1/applications/{longer}/accept", {})
    response = callers.bank_a.post(f"/api/v1/applications/{longer}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": 36})
    assert response.json["term_class"] == "medium_long"
    disbursed = callers.bank_a.post(f"/api/v1/applications/{longer}/disbursement", {
        "contract_number": "HT-2", "amount": "400000.00", "disbursed_on": "2026-09-30"})
    assert disbursed.status_code == 200 and disbursed.json["term_class"] == "medium_long"


def test_unknown_loan_types_and_term_classes_are_refused(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {})
    response = callers.bank_a.post(f"/api/v1/applications/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": 12,
        "loan_type": "friendly", "term_class": "forever", "first_loan": "perhaps"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"loan_type", "term_class", "first_loan"}


def test_a_rejection_ignores_loan_facts(callers, parties, clock):
    reference = _submit(callers, parties, clock)
    callers.bank_a.post(f"/api/v1/applications/{reference}/accept", {})
    response = callers.bank_a.post(f"/api/v1/applications/{reference}/decision", {
        "decision": "reject", "reason": "Not now", "loan_type": "credit"})
    assert response.status_code == 200 and response.json["loan_type"] is None


def test_a_case_on_a_model_whose_forms_lack_the_loan_facts_takes_the_step_without_them(
        callers, parties, clock, engine):
    """Cases on an earlier model version keep their forms: the optional facts are left out, not refused."""
    xml = (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")
    forms = shipped_forms(parse_model(xml, decisions=shipped_decisions(xml)))
    for key in ("loan_decide", "loan_disburse"):
        form = json.loads(forms[key])
        form["components"] = [c for c in form["components"]
                              if c.get("key") not in ("loan_type", "first_loan", "term_class")]
        forms[key] = json.dumps(form, ensure_ascii=False)
    with engine.transaction() as session:
        deploy(session, xml, "author", engine.clock, forms=forms, reason="before the loan facts",
               decisions=shipped_decisions(xml))
    reference, approved = _approved(callers, parties, clock, loan_type="credit", first_loan=True)
    assert approved["status"] == "approved" and approved["loan_type"] is None
    assert approved["term_class"] == "short"  # still follows the approved term
