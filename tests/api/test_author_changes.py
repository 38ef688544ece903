"""Changes an author makes in the model only — a new task with its role, form and deadline, a
disbursement deadline — work end to end through the task API, the banks' façade and the sweep."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from engine.models import LoanApplication, SlaBreach, TaskRow
from engine.workflow.timers import sweep_due_timers
from tests.api.author_variants import GUARANTEE_FORM, with_disbursement_deadline, with_guarantee_review
from tests.conftest import APPROVAL, application_input, scalar


def deploy(callers, xml: str, forms: dict | None = None) -> dict:
    answer = callers.author.post("/api/v1/process-definitions",
                                 {"bpmn_xml": xml, "forms": forms or {}, "reason": "担保审查（省方案）"})
    assert answer.status_code == 201, answer.json
    return answer.json


def open_tasks(caller, case: str) -> list[dict]:
    return [task for task in caller.get("/api/v1/tasks").json["items"] if task["case"] == case]


def test_a_new_task_with_its_own_role_form_and_deadline_needs_no_code(callers, parties, clock, engine):
    deployed = deploy(callers, with_disbursement_deadline(with_guarantee_review()),
                      {"guarantee_review": GUARANTEE_FORM})
    assert deployed["version"] == 2 and deployed["reason"] == "担保审查（省方案）"
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    assert callers.bank_a.post(f"/api/v1/applications/{case}/accept", {}).status_code == 200

    [task] = open_tasks(callers.bank_a, case)
    assert (task["name"], task["commitment"], task["role"]) == ("担保审查", "guarantee", "institution")
    assert open_tasks(callers.bank_b, case) == [] and open_tasks(callers.enterprise, case) == []
    assert callers.bank_a.get(f"/api/v1/tasks/{task['id']}").json["form"]["id"] == "guarantee_review"
    # The bank's façade cannot skip it: the decision task is not open yet.
    assert callers.bank_a.post(f"/api/v1/applications/{case}/decision",
                               {"decision": "approve", **_api(APPROVAL)}).status_code == 409

    refused = callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"guarantee_ok": "maybe"}})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"guarantee_ok", "guarantor"}

    clock.set(clock.now() + timedelta(days=10))  # past the guarantee deadline (2 working days)
    sweep_due_timers(engine)
    breach = _breach(engine, "guarantee")
    assert breach.institution_id == parties.bank_a_id and breach.resolved_at is None

    done = callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete",
                               {"data": {"guarantee_ok": "yes", "guarantor": "湖南省融资担保集团"}})
    assert done.status_code == 200, done.json
    assert _breach(engine, "guarantee").resolution == "acted"
    assert callers.bank_a.post(f"/api/v1/applications/{case}/decision",
                               {"decision": "approve", **_api(APPROVAL)}).status_code == 200

    [disburse] = open_tasks(callers.bank_a, case)
    assert disburse["step"] == "disbursement" and disburse["commitment"] == "disbursement"
    clock.set(clock.now() + timedelta(days=20))
    sweep_due_timers(engine)
    assert _breach(engine, "disbursement").institution_id == parties.bank_a_id
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.reference == case)) == "approved"


def test_running_cases_keep_their_version(callers, parties, clock, engine):
    old = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    deploy(callers, with_guarantee_review(), {"guarantee_review": GUARANTEE_FORM})
    callers.bank_a.post(f"/api/v1/applications/{old}/accept", {})
    assert [t["step"] for t in open_tasks(callers.bank_a, old)] == ["decision"]
    assert scalar(engine, sa.select(sa.func.count()).select_from(TaskRow).where(
        TaskRow.bpmn_id == "Guarantee_Review")) == 0


def test_a_model_naming_a_form_it_does_not_bring_is_refused(callers):
    answer = callers.author.post("/api/v1/process-definitions", {"bpmn_xml": with_guarantee_review()})
    assert answer.status_code == 422
    assert "guarantee_review" in answer.json["message"]


def signed_in_again(callers, engine, username: str):
    from engine.models import UserAccount
    from engine.platform.access import issue_user_token
    from tests.api.conftest import Caller

    with engine.transaction() as session:
        user = session.scalars(sa.select(UserAccount).where(UserAccount.username == username)).one()
        return Caller(callers.anonymous, issue_user_token(session, engine.clock.now(), user)[0])


def _breach(engine, kind: str) -> SlaBreach:
    with engine.reading() as session:
        breach = session.scalars(sa.select(SlaBreach).where(SlaBreach.kind == kind)).one()
        session.expunge(breach)
        return breach


def _api(approval: dict) -> dict:
    return {key: str(value) if not isinstance(value, int) else value for key, value in approval.items()}


def test_an_enterprise_task_is_its_applicants_only_and_a_deadline_against_none_records_nothing(
        callers, parties, clock, engine):
    from tests.api.author_variants import SUPPLEMENT_FORM, with_supplement_request

    deploy(callers, with_supplement_request(), {"supplement": SUPPLEMENT_FORM})
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    callers.bank_a.post(f"/api/v1/applications/{case}/accept", {})
    [task] = open_tasks(callers.enterprise, case)
    assert (task["name"], task["role"], task["commitment"]) == ("补充材料", "enterprise", "supplement")
    assert open_tasks(callers.other_enterprise, case) == [] and open_tasks(callers.bank_a, case) == []
    assert callers.other_enterprise.post(f"/api/v1/tasks/{task['id']}/complete",
                                         {"data": {"material": "x"}}).status_code == 404
    assert callers.bank_a.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"material": "x"}}).status_code == 404

    clock.set(clock.now() + timedelta(days=20))  # past the enterprise's own deadline (5 working days)
    sweep_due_timers(engine)
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach).where(
        SlaBreach.kind == "supplement")) == 0
    enterprise = signed_in_again(callers, engine, "ent-user")  # tokens last 12 hours
    done = enterprise.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"material": "2025 年报"}})
    assert done.status_code == 200, done.json
    assert [t["step"] for t in open_tasks(callers.bank_a, case)] == ["decision"]


def test_a_model_calling_an_operation_the_platform_lacks_is_refused_at_deploy(callers):
    from tests.api.author_variants import SHIPPED

    xml = SHIPPED.read_text(encoding="utf-8")
    for old, new, named in (('value="record_decision"', 'value="record_decison"', "record_decison"),
                            ('serviceTaskOperator id="record_breach"', 'serviceTaskOperator id="record_brech"',
                             "record_brech")):
        answer = callers.author.post("/api/v1/process-definitions", {"bpmn_xml": xml.replace(old, new, 1)})
        assert answer.status_code == 422 and named in answer.json["message"], answer.json


def test_a_decision_table_deployed_through_the_api_changes_a_limit_by_product(callers, parties, clock, engine):
    from engine.models import TimerRow
    from tests.engine.test_decision_tables import SHIPPED, product_row, table_with_rows

    table = table_with_rows(product_row("PA", decision="6"))
    answer = callers.author.post("/api/v1/process-definitions", {
        "bpmn_xml": SHIPPED, "decisions": {"loan_time_limits": table}, "reason": "科创贷审贷 6 个工作日"})
    assert answer.status_code == 201, answer.json
    cases = {}
    for product, bank, caller in ((parties.product_a_id, parties.bank_a_id, callers.bank_a),
                                  (parties.product_b_id, parties.bank_b_id, callers.bank_b)):
        case = callers.enterprise.post("/api/v1/applications", application_input(
            parties, clock.now(), product_id=product, institution_id=bank)).json["reference"]
        assert caller.post(f"/api/v1/applications/{case}/accept", {}).status_code == 200
        cases[product] = case
    with engine.reading() as session:
        calendar = engine.calendars.get(session)
        due = dict(session.execute(sa.select(LoanApplication.product_id, TimerRow.due_at).join(
            TimerRow, TimerRow.instance_id == LoanApplication.instance_id).where(
            TimerRow.bpmn_id == "Decide_Deadline")).all())
    assert due[parties.product_a_id] == calendar.add_working_days(clock.now(), 6).due
    assert due[parties.product_b_id] == calendar.add_working_days(clock.now(), 10).due
    refused = callers.author.post("/api/v1/process-definitions", {
        "bpmn_xml": SHIPPED, "decisions": {"loan_time_limits": table.replace('"PA"', "__import__('os')")}})
    assert refused.status_code == 422 and "row 1" in refused.json["message"]
