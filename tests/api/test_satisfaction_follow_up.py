"""The satisfaction follow-up (融资满意度回访): the loan model's `start_process` service tasks start the
shipped survey once per case after a disbursement or a rejection; the enterprise answers it or
it ends unanswered at its deadline; an unknown process is a model error of that case only."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from engine.models import (
    AuditEvent,
    Incident,
    LoanApplication,
    ProcessDefinition,
    ProcessInstance,
    ProcessStart,
    SlaBreach,
    SurveyResponse,
    TaskRow,
)
from engine.workflow.timers import sweep_due_timers
from tests.api.author_variants import SHIPPED, with_satisfaction_follow_up
from tests.api.test_author_changes import deploy, open_tasks, signed_in_again
from tests.conftest import application_input, rows, scalar

APPROVAL = {"amount": "400000.00", "annual_rate": "3.85", "term_months": 12}
RATINGS = {"service_attitude": "5", "efficiency": "4", "convenience": "4", "financing_cost": "3"}


def _surveys(engine, case: str) -> list[tuple[int, str, str | None]]:
    return [tuple(row) for row in rows(engine, sa.select(
        ProcessInstance.id, ProcessInstance.status, ProcessInstance.end_event)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(ProcessDefinition.key == "satisfaction_survey", ProcessInstance.business_key == case))]


def _disbursed_case(callers, parties, clock) -> str:
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    assert callers.bank_a.post(f"/api/v1/applications/{case}/accept", {}).status_code == 200
    assert callers.bank_a.post(f"/api/v1/applications/{case}/decision",
                               {"decision": "approve", **APPROVAL}).status_code == 200
    answer = callers.bank_a.post(f"/api/v1/applications/{case}/disbursement", {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": clock.now().date().isoformat()})
    assert answer.status_code == 200, answer.json
    return case


def test_a_disbursement_starts_the_survey_once_for_its_enterprise_only(callers, parties, clock, engine):
    deploy(callers, with_satisfaction_follow_up())
    case = _disbursed_case(callers, parties, clock)

    [(instance_id, status, _)] = _surveys(engine, case)
    assert status == "running"
    [task] = open_tasks(callers.enterprise, case)
    assert (task["name"], task["name_en"], task["role"], task["commitment"]) == (
        "满意度调查", "Satisfaction survey", "enterprise", "survey_response")
    assert task["process"]["key"] == "satisfaction_survey" and task["process"]["name"] == "融资满意度回访"
    # Ten working days from the disbursement (Wed 2026-09-30; the National Day week is off): 2026-10-20 24:00.
    assert task["due_at"].startswith("2026-10-20T16:00:00") and task["working_days_left"] == 10
    detail = callers.enterprise.get(f"/api/v1/tasks/{task['id']}").json
    assert detail["form"]["id"] == "satisfaction_survey"
    assert open_tasks(callers.other_enterprise, case) == []
    assert [t["step"] for t in open_tasks(callers.bank_a, case)] == ["settlement"]
    assert callers.other_enterprise.get(f"/api/v1/tasks/{task['id']}").status_code == 404
    assert callers.other_enterprise.post(f"/api/v1/tasks/{task['id']}/complete",
                                         {"data": RATINGS}).status_code == 404
    # Nobody starts it by hand: its start event names no role.
    assert callers.supervisor.post("/api/v1/processes/satisfaction_survey/start", {"case": case}).status_code == 404

    [(parent, started_by, claimed_instance)] = rows(engine, sa.select(
        ProcessStart.parent_instance_id, ProcessStart.started_by, ProcessStart.instance_id))
    lifecycle = scalar(engine, sa.select(LoanApplication.instance_id).where(LoanApplication.reference == case))
    assert (parent, claimed_instance) == (lifecycle, instance_id)
    assert started_by.startswith("system:A:")  # the bank's own system disbursed
    [detail] = rows(engine, sa.select(AuditEvent.detail).where(AuditEvent.action == "process_started"))
    assert detail[0]["process"] == "satisfaction_survey" and detail[0]["by"] == "start_process"

    # The settlement that follows starts nothing more.
    assert callers.bank_a.post(f"/api/v1/applications/{case}/settlement",
                               {"settled_on": clock.now().date().isoformat()}).status_code == 200
    assert len(_surveys(engine, case)) == 1

    refused = callers.enterprise.post(f"/api/v1/tasks/{task['id']}/complete",
                                      {"data": {**RATINGS, "efficiency": "6"}})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"efficiency"}
    done = callers.enterprise.post(f"/api/v1/tasks/{task['id']}/complete",
                                   {"data": {**RATINGS, "suggestions": "希望简化材料"}})
    assert done.status_code == 200, done.json
    [answer] = rows(engine, sa.select(
        SurveyResponse.answered_by, SurveyResponse.service_attitude, SurveyResponse.efficiency,
        SurveyResponse.convenience, SurveyResponse.financing_cost, SurveyResponse.suggestions))
    assert tuple(answer) == ("ent-user", 5, 4, 4, 3, "希望简化材料")
    assert _surveys(engine, case) == [(instance_id, "completed", "End_Answered")]


def test_a_rejection_starts_the_survey_too(callers, parties, clock, engine):
    deploy(callers, with_satisfaction_follow_up())
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    callers.bank_a.post(f"/api/v1/applications/{case}/accept", {})
    assert _surveys(engine, case) == []
    answer = callers.bank_a.post(f"/api/v1/applications/{case}/decision", {"decision": "reject", "reason": "资料不全"})
    assert answer.status_code == 200, answer.json
    assert [status for _, status, _ in _surveys(engine, case)] == ["running"]
    assert [t["name"] for t in open_tasks(callers.enterprise, case)] == ["满意度调查"]


def test_an_unanswered_survey_ends_at_its_deadline_and_records_no_breach(callers, parties, clock, engine):
    deploy(callers, with_satisfaction_follow_up())
    case = _disbursed_case(callers, parties, clock)
    [task] = open_tasks(callers.enterprise, case)

    clock.set(clock.now() + timedelta(days=20))  # 2026-10-20 10:00: the last working day, still open
    sweep_due_timers(engine)
    assert [status for _, status, _ in _surveys(engine, case)] == ["running"]
    clock.set(clock.now() + timedelta(days=1))  # past 2026-10-20 24:00
    sweep_due_timers(engine)

    [(_, status, end_event)] = _surveys(engine, case)
    assert (status, end_event) == ("completed", "End_Unanswered")
    assert scalar(engine, sa.select(TaskRow.state).where(TaskRow.id == task["id"])) == "cancelled"
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(SurveyResponse)) == 0
    enterprise = signed_in_again(callers, engine, "ent-user")
    assert open_tasks(enterprise, case) == []
    late = enterprise.post(f"/api/v1/tasks/{task['id']}/complete", {"data": RATINGS})
    assert late.status_code == 409


def test_an_unknown_process_refuses_the_step_and_changes_nothing(callers, parties, clock, engine):
    deploy(callers, with_satisfaction_follow_up(process="no_such_process"))
    case = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    callers.bank_a.post(f"/api/v1/applications/{case}/accept", {})
    answer = callers.bank_a.post(f"/api/v1/applications/{case}/decision", {"decision": "reject", "reason": "资料不全"})
    assert answer.status_code == 422 and answer.json["code"] == "model_error"
    # Named with the service task that called it (the variant's id or the shipped model's).
    assert re.fullmatch(r"start_process in \w+: no process 'no_such_process' is deployed", answer.json["message"])
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.reference == case)) == "accepted"
    assert scalar(engine, sa.select(sa.func.count()).select_from(ProcessStart)) == 0
    assert [t["step"] for t in open_tasks(callers.bank_a, case)] == ["decision"]


def _starting_on_the_accept_deadline(process: str) -> str:
    """The shipped model whose acceptance deadline starts `process` instead of recording a breach."""
    xml = SHIPPED.read_text(encoding="utf-8")
    old = ('<spiffworkflow:serviceTaskOperator id="record_breach" resultVariable="accept_breach_recorded">'
           "<spiffworkflow:parameters><spiffworkflow:parameter id=\"kind\" type=\"str\" value=\"'accept'\"/>")
    assert xml.count(old) == 1
    return xml.replace(old, '<spiffworkflow:serviceTaskOperator id="start_process" resultVariable="accept_started">'
                       "<spiffworkflow:parameters>"
                       f"<spiffworkflow:parameter id=\"process\" type=\"str\" value=\"'{process}'\"/>")


def test_an_unknown_process_in_a_timer_branch_parks_that_case_only(callers, parties, clock, engine):
    deploy(callers, _starting_on_the_accept_deadline("no_such_process"))
    broken = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]
    deploy(callers, _starting_on_the_accept_deadline("satisfaction_survey"))
    fine = callers.enterprise.post("/api/v1/applications", application_input(parties, clock.now())).json["reference"]

    clock.set(clock.now() + timedelta(days=14))  # past both acceptance deadlines (2026-10-10 24:00)
    result = sweep_due_timers(engine)
    assert result.failed == 1 and result.instances == 1
    [(instance_id, message, activity)] = rows(engine, sa.select(
        Incident.instance_id, Incident.message, Incident.activity).where(Incident.state == "open"))
    assert instance_id == scalar(engine, sa.select(LoanApplication.instance_id).where(
        LoanApplication.reference == broken))
    assert "no_such_process" in message and activity == "Record_Accept_Breach"
    assert _surveys(engine, broken) == []
    assert [status for _, status, _ in _surveys(engine, fine)] == ["running"]
