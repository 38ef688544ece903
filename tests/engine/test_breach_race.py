"""Two processes of one application recording the same breach at the same time, in two sweeps.

Their cases are different rows under different locks, so each sweep reads "no accept breach held yet"
before either commits. The ledger's unique key keeps one row; the audit event, the message and the
board's figure must follow the row that went in, once. Runs against the machine's PostgreSQL in both
suites: SQLite serializes the two sweeps and cannot show the race.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.loans import binding
from engine.models import AuditEvent, BreachFigures, LoanApplication, OutboxMessage, SlaBreach
from engine.platform.migrate import upgrade
from engine.workflow import process_starts
from engine.workflow.definitions import deploy
from engine.workflow.timers import sweep_due_timers
from tests.conftest import scalar, scratch_postgres_database
from tests.engine.racing import race

SCRATCH = f"breach_race_{os.getpid()}"

# A second process of the case whose deadline records the lifecycle's own kind, `accept`.
ACCEPT_WATCH = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_Watch"
  targetNamespace="https://xinyidai.example/bpmn/accept-watch">
  <bpmn:process id="accept_watch" name="受理督查" isExecutable="true">
    <bpmn:startEvent id="Start_Watch"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Watch_Deadline" name="督查时限">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="timerKind" value="deadline"/>
        <spiffworkflow:property name="commitment" value="accept"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="Watch_Timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="Record_Watch_Breach" name="记录受理超时">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="record_breach" resultVariable="recorded">
        <spiffworkflow:parameters><spiffworkflow:parameter id="kind" type="str" value="'accept'"/>
        </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>
      <bpmn:incoming>Flow_2</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End_Watch"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_Watch" targetRef="Watch_Deadline"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Watch_Deadline" targetRef="Record_Watch_Breach"/>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Record_Watch_Breach" targetRef="End_Watch"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def database_url():
    """A scratch PostgreSQL database at the head revision (the engine and parties fixtures use it)."""
    with scratch_postgres_database(SCRATCH) as url:
        upgrade(url)
        yield url


def _count(engine, model, *where) -> int:
    return scalar(engine, sa.select(sa.func.count()).select_from(model).where(*where))


def test_two_processes_of_one_application_breaching_the_same_kind_at_once_count_it_once(
        engine, parties, submit, clock, monkeypatch):
    with engine.transaction() as session:
        deploy(session, ACCEPT_WATCH, "author", engine.clock, operations=engine.operation_names())
    application_id = submit()
    lifecycle = scalar(engine, sa.select(LoanApplication.instance_id).where(LoanApplication.id == application_id))
    with engine.transaction() as session:  # the watch runs beside the lifecycle, for the same application
        operation = engine.open(session, engine.lock_instance(session, lifecycle))
        assert process_starts.start_once(operation, "accept_watch")["started"] is True
        operation.save("test")
    engine.forget_live_workflows()

    # Both sweeps must be inside record_breach (each having read the kinds held: none) before either
    # writes: the interleaving SQLite cannot produce and PostgreSQL produces only sometimes.
    both_inside = threading.Barrier(2, timeout=30)
    real = binding.record_breach

    def meeting(operation, task, kind):
        both_inside.wait()
        return real(operation, task, kind)

    monkeypatch.setattr(binding, "record_breach", meeting)
    clock.set(clock.now() + timedelta(days=14))  # past the watch's hour and the lifecycle's 3 working days
    outcomes = race(lambda: sweep_due_timers(engine, batch_size=1, max_batches=1),
                    lambda: sweep_due_timers(engine, batch_size=1, max_batches=1))
    assert all(not isinstance(outcome, BaseException) for outcome in outcomes), outcomes
    assert [outcome.failed for outcome in outcomes] == [0, 0]

    accept = (SlaBreach.application_id == application_id, SlaBreach.kind == "accept")
    assert _count(engine, SlaBreach, *accept) == 1
    assert _count(engine, AuditEvent, AuditEvent.application_id == application_id,
                  AuditEvent.action == "sla_breached") == 1
    assert _count(engine, OutboxMessage, OutboxMessage.topic == "sla.breached") == 1
    assert scalar(engine, sa.select(sa.func.sum(BreachFigures.recorded)).where(
        BreachFigures.institution_id == parties.bank_a_id, BreachFigures.kind == "accept")) == 1
