"""A refused step raises a named error and leaves everything as it was."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.loans.actors import ENTERPRISE, SUPERVISOR, Actor
from engine.models import AuditEvent, LoanApplication, OutboxMessage, ProcessDefinition, ProcessInstance, TaskRow
from engine.workflow.errors import Forbidden, InvalidTransition, NotFound, StepAlreadyTaken, ValidationFailed
from tests.conftest import APPROVAL, application_input, rows, scalar


def _snapshot(engine) -> tuple:
    """Everything a refused step must not touch."""
    apps = rows(engine, sa.select(LoanApplication.id, LoanApplication.status, LoanApplication.updated_at))
    instances = rows(engine, sa.select(ProcessInstance.id, ProcessInstance.version, ProcessInstance.state))
    tasks = rows(engine, sa.select(TaskRow.id, TaskRow.state))
    counts = (scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent)),
              scalar(engine, sa.select(sa.func.count()).select_from(OutboxMessage)))
    return [tuple(a) for a in apps], [tuple(i) for i in instances], [tuple(t) for t in tasks], counts


def _refused(engine, error, call):
    before = _snapshot(engine)
    with pytest.raises(error) as info:
        call()
    assert _snapshot(engine) == before
    return info.value


def test_settling_before_disbursement_is_refused(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    err = _refused(engine, InvalidTransition, lambda: services.settle(
        engine, parties.officer_a, application_id, {"settled_on": "2026-09-30"}))
    assert err.context["status"] == "approved"


def test_approving_a_withdrawn_application_is_refused(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.withdraw(engine, parties.enterprise, application_id)
    _refused(engine, InvalidTransition, lambda: services.approve(engine, parties.officer_a, application_id, APPROVAL))


def test_deciding_before_acceptance_is_refused(engine, parties, submit):
    application_id = submit()
    _refused(engine, InvalidTransition, lambda: services.approve(engine, parties.officer_a, application_id, APPROVAL))


def test_withdrawing_after_the_decision_is_refused(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.reject(engine, parties.officer_a, application_id, {"reason": "No collateral"})
    _refused(engine, InvalidTransition, lambda: services.withdraw(engine, parties.enterprise, application_id))


def test_accepting_twice_is_a_conflict_not_a_second_event(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    err = _refused(engine, StepAlreadyTaken, lambda: services.accept(engine, parties.officer_a, application_id))
    assert err.context["status"] == "accepted"


def test_officer_of_another_institution_cannot_decide(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    _refused(engine, NotFound, lambda: services.approve(engine, parties.officer_b, application_id, APPROVAL))
    _refused(engine, NotFound, lambda: services.accept(engine, parties.officer_b, application_id))


def test_enterprises_and_supervisors_cannot_take_bank_steps(engine, parties, submit):
    application_id = submit()
    supervisor = Actor("sup", SUPERVISOR)
    for actor in (parties.enterprise, supervisor):
        _refused(engine, NotFound, lambda actor=actor: services.accept(engine, actor, application_id))


def test_another_enterprise_cannot_withdraw(engine, parties, submit):
    application_id = submit()
    _refused(engine, NotFound, lambda: services.withdraw(engine, parties.other_enterprise, application_id))


def test_unknown_application_is_not_found(engine, parties):
    _refused(engine, NotFound, lambda: services.accept(engine, parties.officer_a, 999_999))


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "-1.00"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"term_months": 0}, "term_months"),
    ({"purpose": ""}, "purpose"),
    ({"authorization": None}, "authorization"),
    ({"product_id": 999}, "product_id"),
])
def test_bad_submissions_are_refused_field_by_field(engine, parties, clock, change, field):
    data = application_input(parties, clock.now(), **change)
    err = _refused(engine, ValidationFailed, lambda: services.submit(engine, parties.enterprise, data))
    assert field in err.errors


def test_submission_without_credit_authorization_is_refused(engine, parties, clock):
    data = application_input(parties, clock.now())
    del data["authorization"]
    err = _refused(engine, ValidationFailed, lambda: services.submit(engine, parties.enterprise, data))
    assert "authorization" in err.errors


def test_expired_authorization_is_refused(engine, parties, clock):
    data = application_input(parties, clock.now())
    data["authorization"]["granted_at"] = "2026-01-01T00:00:00+08:00"
    data["authorization"]["expires_at"] = "2026-03-01T00:00:00+08:00"
    err = _refused(engine, ValidationFailed, lambda: services.submit(engine, parties.enterprise, data))
    assert "authorization.expires_at" in err.errors


def test_product_of_another_institution_is_refused(engine, parties, clock):
    data = application_input(parties, clock.now(), product_id=parties.product_b_id)
    err = _refused(engine, ValidationFailed, lambda: services.submit(engine, parties.enterprise, data))
    assert "product_id" in err.errors


def test_suspended_institution_takes_no_new_applications(engine, parties, clock):
    with engine.transaction() as session:
        from engine.models import Institution
        session.get(Institution, parties.bank_a_id).status = "suspended"
    data = application_input(parties, clock.now())
    err = _refused(engine, ValidationFailed, lambda: services.submit(engine, parties.enterprise, data))
    assert "institution_id" in err.errors


def test_only_enterprises_submit(engine, parties, clock):
    data = application_input(parties, clock.now())
    _refused(engine, Forbidden, lambda: services.submit(engine, parties.officer_a, data))


@pytest.mark.parametrize(("data", "field"), [
    ({"amount": "400000.00", "annual_rate": "3.85"}, "term_months"),
    ({"amount": "400000.00", "annual_rate": "-1", "term_months": 12}, "annual_rate"),
    ({"amount": "-5", "annual_rate": "3.85", "term_months": 12}, "amount"),
])
def test_bad_approvals_are_refused(engine, parties, submit, data, field):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    err = _refused(engine, ValidationFailed, lambda: services.approve(engine, parties.officer_a, application_id, data))
    assert field in err.errors


def test_rejection_needs_a_reason(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    for data in ({}, {"reason": "   "}):
        err = _refused(engine, ValidationFailed,
                       lambda data=data: services.reject(engine, parties.officer_a, application_id, data))
        assert "reason" in err.errors


def test_disbursing_more_than_approved_or_in_the_future_is_refused(engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    for data, field in (
        ({"contract_number": "HT", "amount": "400000.01", "disbursed_on": "2026-09-30"}, "amount"),
        ({"contract_number": "HT", "amount": "1.00", "disbursed_on": "2026-10-05"}, "disbursed_on"),
        ({"contract_number": "", "amount": "1.00", "disbursed_on": "2026-09-30"}, "contract_number"),
    ):
        err = _refused(engine, ValidationFailed,
                       lambda data=data: services.disburse(engine, parties.officer_a, application_id, data))
        assert field in err.errors


def test_a_submission_says_every_problem_with_its_parties_at_once(engine, parties, clock):
    """The enterprise, institution and product are read in one statement; an unregistered enterprise's
    submission still hears what else is wrong."""
    unregistered = Actor("ghost", ENTERPRISE, enterprise_id=987654)
    err = _refused(engine, ValidationFailed, lambda: services.submit(
        engine, unregistered, application_input(parties, clock.now(), product_id=parties.product_b_id)))
    assert set(err.errors) == {"enterprise", "product_id"}
    err = _refused(engine, ValidationFailed, lambda: services.submit(
        engine, parties.enterprise, application_input(parties, clock.now(), institution_id=424242)))
    assert set(err.errors) == {"institution_id", "product_id"}
    application = services.submit(engine, parties.enterprise, application_input(parties, clock.now()))
    assert application.instance_id is not None


def test_a_submission_with_no_lifecycle_deployed_is_refused_and_leaves_nothing(engine, parties, clock):
    with engine.transaction() as session:
        session.execute(sa.update(ProcessDefinition).where(ProcessDefinition.key == "loan_lifecycle")
                        .values(key="retired_lifecycle"))
    err = _refused(engine, NotFound, lambda: services.submit(
        engine, parties.enterprise, application_input(parties, clock.now())))
    assert "loan_lifecycle" in str(err)
