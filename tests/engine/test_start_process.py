"""`start_process` inside a running operation: once per case (also when two steps race), in the
step's own transaction, and nothing of a rolled-back start left in the live-workflow cache."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from engine.loans import services
from engine.models import Incident, LoanApplication, ProcessDefinition, ProcessInstance, ProcessStart
from engine.workflow import process_starts
from engine.workflow.definitions import deploy
from engine.workflow.timers import sweep_due_timers
from tests.api.author_variants import SHIPPED, with_satisfaction_follow_up
from tests.conftest import APPROVAL, scalar
from tests.engine.racing import race

# A second process of a case, to race two of its instances against each other.
NOTE_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_Note"
  targetNamespace="https://xinyidai.example/bpmn/note">
  <bpmn:process id="case_note" name="案件备注" isExecutable="true">
    <bpmn:startEvent id="Start_Note"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Note" name="备注"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="role" value="operator"/></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End_Note"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_Note" targetRef="Note"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Note" targetRef="End_Note"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _deploy(engine, xml: str) -> None:
    with engine.transaction() as session:
        deploy(session, xml, "author", engine.clock, operations=engine.operation_names())


def _instances(engine, key: str, business_key: str | None = None) -> list[int]:
    query = (sa.select(ProcessInstance.id)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
             .where(ProcessDefinition.key == key))
    if business_key is not None:
        query = query.where(ProcessInstance.business_key == business_key)
    with engine.reading() as session:
        return list(session.scalars(query))


def _reference(engine, application_id: int) -> str:
    return scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))


def _start_from(engine, instance_id: int, key: str) -> dict:
    """Open an instance's operation and run `start_process` for `key` in it, then save it."""
    with engine.transaction() as session:
        instance = engine.lock_instance(session, instance_id)
        operation = engine.open(session, instance)
        result = process_starts.start_once(operation, key)
        operation.save("test")
        return result


def test_starting_twice_for_a_case_starts_once(engine, parties, submit):
    application_id = submit()
    reference = _reference(engine, application_id)
    lifecycle = scalar(engine, sa.select(LoanApplication.instance_id).where(LoanApplication.id == application_id))
    with engine.transaction() as session:
        operation = engine.open(session, engine.lock_instance(session, lifecycle))
        first = process_starts.start_once(operation, "satisfaction_survey")
        second = process_starts.start_once(operation, "satisfaction_survey")
        operation.save("test")
    assert first["started"] is True and second == {"started": False}
    assert _start_from(engine, lifecycle, "satisfaction_survey") == {"started": False}  # a later step too
    assert _instances(engine, "satisfaction_survey", reference) == [first["instance_id"]]
    # The started survey is a case like any other: its next step reads it from the live cache.
    assert first["instance_id"] in engine._live


def test_the_model_starts_the_survey_in_the_disbursements_own_transaction(engine, parties, submit):
    _deploy(engine, with_satisfaction_follow_up())
    application_id = submit()
    officer = parties.officer_a
    services.accept(engine, officer, application_id)
    services.approve(engine, officer, application_id, dict(APPROVAL))
    refused = None
    try:  # refused by the disbursement's own checks after nothing else: no survey either
        services.disburse(engine, officer, application_id, {
            "contract_number": "HT-1", "amount": "999999999.00", "disbursed_on": date(2026, 9, 30)})
    except Exception as error:  # noqa: BLE001 - the refusal is what is checked
        refused = error
    assert type(refused).__name__ == "ValidationFailed"
    assert _instances(engine, "satisfaction_survey") == []
    services.disburse(engine, officer, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": date(2026, 9, 30)})
    assert len(_instances(engine, "satisfaction_survey", _reference(engine, application_id))) == 1


def test_two_steps_racing_to_start_the_same_process_start_it_once(engine, parties, submit, monkeypatch):
    _deploy(engine, NOTE_PROCESS)
    application_id = submit()
    reference = _reference(engine, application_id)
    lifecycle = scalar(engine, sa.select(LoanApplication.instance_id).where(LoanApplication.id == application_id))
    survey = _start_from(engine, lifecycle, "satisfaction_survey")["instance_id"]
    # Only the claim in process_start guards here: both steps see no instance of the process yet.
    monkeypatch.setattr(process_starts, "_has_instance", lambda *args: False)

    outcomes = race(lambda: engine.retrying(lambda: _start_from(engine, lifecycle, "case_note")),
                    lambda: engine.retrying(lambda: _start_from(engine, survey, "case_note")))
    assert sorted(outcome["started"] for outcome in outcomes) == [False, True], outcomes
    assert len(_instances(engine, "case_note", reference)) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(ProcessStart).where(
        ProcessStart.process_key == "case_note")) == 1


def _start_then_fail_on_the_accept_deadline() -> str:
    """The shipped model whose acceptance deadline starts the survey, then fails (a script's NameError)."""
    xml = SHIPPED.read_text(encoding="utf-8")
    edits = (
        ('<spiffworkflow:serviceTaskOperator id="record_breach" resultVariable="accept_breach_recorded">'
         "<spiffworkflow:parameters><spiffworkflow:parameter id=\"kind\" type=\"str\" value=\"'accept'\"/>",
         '<spiffworkflow:serviceTaskOperator id="start_process" resultVariable="accept_started">'
         "<spiffworkflow:parameters>"
         "<spiffworkflow:parameter id=\"process\" type=\"str\" value=\"'satisfaction_survey'\"/>"),
        ('<bpmn:endEvent id="End_Accept_Breach" name="已记录受理超时"><bpmn:incoming>Flow_Accept_Breach_Recorded'
         "</bpmn:incoming></bpmn:endEvent>",
         '<bpmn:scriptTask id="End_Accept_Breach" name="出错"><bpmn:incoming>Flow_Accept_Breach_Recorded'
         "</bpmn:incoming><bpmn:script>broken = no_such_name + 1</bpmn:script></bpmn:scriptTask>"),
    )
    for old, new in edits:
        assert xml.count(old) == 1, old
        xml = xml.replace(old, new)
    return xml


def test_a_case_rolled_back_by_the_sweep_leaves_no_started_workflow_behind(engine, parties, submit, clock):
    _deploy(engine, _start_then_fail_on_the_accept_deadline())
    submit()
    clock.set(clock.now() + timedelta(days=14))
    result = sweep_due_timers(engine)
    assert result.failed == 1
    assert "no_such_name" in scalar(engine, sa.select(Incident.message))
    assert _instances(engine, "satisfaction_survey") == []
    assert scalar(engine, sa.select(sa.func.count()).select_from(ProcessStart)) == 0
    with engine.reading() as session:
        existing = set(session.scalars(sa.select(ProcessInstance.id)))
    # The survey the savepoint started (and rolled back) is not in the cache under an id a later
    # instance may be given (SQLite reuses it).
    assert set(engine._live) <= existing
    assert len(_instances(engine, "loan_lifecycle")) == 1
