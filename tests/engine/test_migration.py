"""Moving running cases from one version of the loan process to another (engine.workflow.migration)."""

from __future__ import annotations

from copy import deepcopy

import pytest
import sqlalchemy as sa
from lxml import etree

from engine.loans import services
from engine.models import (
    AuditEvent,
    LoanApplication,
    ProcessDefinition,
    ProcessInstance,
    SlaBreach,
    TaskRow,
    TimerRow,
)
from engine.workflow import migration
from engine.workflow.adapter import parse_model
from engine.workflow.definitions import BPMN_DIR, deploy, shipped_decisions, shipped_forms
from engine.workflow.errors import ModelError, NotFound, ValidationFailed
from engine.workflow.migration import MigrationRefused
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, rows, scalar

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF}
EXTRA_WORKING_DAYS = 5


def shipped_xml() -> str:
    return (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")


def _flow(process, source: str, target: str):
    return process.find(f"bpmn:sequenceFlow[@sourceRef='{source}'][@targetRef='{target}']", NS)


def with_review_step(xml: str, extra_days: int = EXTRA_WORKING_DAYS) -> str:
    """The model with a user task `Review` between Accept and Decide, and the decision deadline
    `extra_days` working days after the one it had."""
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find("bpmn:process", NS)
    decide = process.find("bpmn:userTask[@id='Decide']", NS)
    into = _flow(process, "Accept", "Decide")
    review = etree.Element(f"{{{BPMN}}}userTask", id="Review", name="复核")
    extensions = decide.find("bpmn:extensionElements", NS)
    if extensions is not None:  # the same role; no form, API step or effect of its own
        extensions = deepcopy(extensions)
        for prop in extensions.iterfind(".//spiffworkflow:property", NS):
            if prop.get("name") != "role":
                prop.getparent().remove(prop)
        review.append(extensions)
    etree.SubElement(review, f"{{{BPMN}}}incoming").text = into.get("id")
    etree.SubElement(review, f"{{{BPMN}}}outgoing").text = "Flow_Reviewed"
    decide.addprevious(review)
    into.set("targetRef", "Review")
    for incoming in decide.iterfind("bpmn:incoming", NS):
        if incoming.text == into.get("id"):
            incoming.text = "Flow_Reviewed"
    into.addnext(etree.Element(f"{{{BPMN}}}sequenceFlow", id="Flow_Reviewed", sourceRef="Review", targetRef="Decide"))
    for ref in root.iterfind(".//bpmn:flowNodeRef", NS):
        if ref.text == "Decide":
            ref.addnext(etree.Element(f"{{{BPMN}}}flowNodeRef"))
            ref.getnext().text = "Review"
    deadline = process.find("bpmn:boundaryEvent[@id='Decide_Deadline']//bpmn:timeDate", NS)
    deadline.text = f"add_working_days({deadline.text}, {extra_days})"
    return etree.tostring(root, encoding="unicode")


def without_decide(xml: str) -> str:
    """The model without Decide (and its boundary events and their branches): Accept leads on to
    whatever followed Decide."""
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find("bpmn:process", NS)
    into, out = _flow(process, "Accept", "Decide"), process.find("bpmn:sequenceFlow[@sourceRef='Decide']", NS)
    into.set("targetRef", out.get("targetRef"))
    for incoming in process.find(f"*[@id='{out.get('targetRef')}']").iterfind("bpmn:incoming", NS):
        if incoming.text == out.get("id"):
            incoming.text = into.get("id")
    attached = process.iterfind("bpmn:boundaryEvent[@attachedToRef='Decide']", NS)
    nodes = {"Decide"} | {event.get("id") for event in attached}
    flows = {out.get("id")}
    while True:  # flows out of removed nodes go, then nodes left with no way in
        flows |= {f.get("id") for f in process.iterfind("bpmn:sequenceFlow", NS)
                  if f.get("sourceRef") in nodes or f.get("targetRef") in nodes}
        orphans = {node.get("id") for node in process if node.get("id") not in nodes
                   and node.findall("bpmn:incoming", NS)
                   and all(incoming.text in flows for incoming in node.iterfind("bpmn:incoming", NS))}
        if not orphans:
            break
        nodes |= orphans
    gone = nodes | flows
    for element in list(root.iter()):
        if (element.get("id") in gone or element.get("bpmnElement") in gone
                or (element.tag in {f"{{{BPMN}}}incoming", f"{{{BPMN}}}outgoing", f"{{{BPMN}}}flowNodeRef"}
                    and element.text in gone)):
            element.getparent().remove(element)
    return etree.tostring(root, encoding="unicode")


def deploy_version(engine, xml: str, **bundle) -> int:
    with engine.transaction() as session:
        return deploy(session, xml, "author", engine.clock, **bundle).version


def instance_of(engine, application_id: int) -> int:
    return scalar(engine, sa.select(LoanApplication.instance_id).where(LoanApplication.id == application_id))


def timer_row(engine, instance_id: int, bpmn_id: str):
    query = sa.select(TimerRow).where(TimerRow.instance_id == instance_id, TimerRow.bpmn_id == bpmn_id)
    return rows(engine, query)[0][0]


def everything_about(engine, instance_id: int):
    """The instance row and its projections, to show that a refusal changed nothing."""
    instance = rows(engine, sa.select(ProcessInstance.state, ProcessInstance.definition_id, ProcessInstance.version,
                                      ProcessInstance.status).where(ProcessInstance.id == instance_id))
    tasks = rows(engine, sa.select(TaskRow.spiff_task_id, TaskRow.bpmn_id, TaskRow.state, TaskRow.due_at)
                 .where(TaskRow.instance_id == instance_id).order_by(TaskRow.id))
    timers = rows(engine, sa.select(TimerRow.spiff_task_id, TimerRow.bpmn_id, TimerRow.state, TimerRow.due_at)
                  .where(TimerRow.instance_id == instance_id).order_by(TimerRow.id))
    audit = scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent))
    return [tuple(r) for r in instance], [tuple(r) for r in tasks], [tuple(r) for r in timers], audit


@pytest.fixture
def at_decide(engine, parties, submit, clock):
    """An application accepted two hours after submission: its case waits at Decide (version 1)."""
    application_id = submit()
    clock.advance(hours=2)
    services.accept(engine, parties.officer_a, application_id, {"note": "complete file"})
    return application_id


@pytest.fixture(params=["straight", "restored"])
def between_steps(request, engine):
    """In 'restored' mode each step rebuilds the workflow from its stored JSON."""
    return (lambda: None) if request.param == "straight" else engine.forget_live_workflows


def expected_new_deadline(engine, old_due):
    with engine.transaction() as session:
        return engine.calendars.get(session).add_working_days(old_due, EXTRA_WORKING_DAYS).due


def test_the_preview_shows_what_moving_a_case_to_the_new_version_changes(engine, at_decide):
    instance_id = instance_of(engine, at_decide)
    old_deadline = timer_row(engine, instance_id, "Decide_Deadline")
    assert deploy_version(engine, with_review_step(shipped_xml())) == 2
    before = everything_about(engine, instance_id)

    preview = migration.preview(engine, instance_id)

    assert (preview.possible, preview.from_version, preview.to_version, preview.reason_code) == (True, 1, 2, None)
    outcomes = {task.bpmn_id: (task.kind, task.state, task.outcome) for task in preview.tasks}
    assert outcomes == {
        "Decide": ("user_task", "ready", "kept"), "Decide_Deadline": ("timer", "waiting", "reset"),
        "Decide_Reminder": ("timer", "waiting", "kept"), "Decide_Withdrawn": ("event", "waiting", "kept")}
    timers = {timer.bpmn_id: timer for timer in preview.timers}
    assert timers["Decide_Deadline"].re_evaluated and not timers["Decide_Reminder"].re_evaluated
    assert timers["Decide_Deadline"].due_before == old_deadline.due_at
    assert timers["Decide_Deadline"].due_after == expected_new_deadline(engine, old_deadline.due_at)
    reminder = timer_row(engine, instance_id, "Decide_Reminder")
    assert timers["Decide_Reminder"].due_before == timers["Decide_Reminder"].due_after == reminder.due_at
    assert not any(timer.due_now for timer in preview.timers)
    assert "Review" in preview.added_elements and preview.removed_elements == ()
    changed = {change.element: change.attributes for change in preview.changed_elements}
    assert "event_definition" in changed["Decide_Deadline"] and "outputs" in changed["Accept"]
    # The engine's clocked timers are compared by their expression: only the one edited differs.
    assert not {"Decide_Reminder", "Accept_Deadline", "Accept_Reminder"} & set(changed)
    assert migration.preview(engine, instance_id, 2) == preview
    assert everything_about(engine, instance_id) == before  # a preview writes nothing


def test_a_case_at_decide_moves_to_the_new_version_and_runs_to_settlement_on_it(
        engine, parties, at_decide, between_steps, clock):
    instance_id = instance_of(engine, at_decide)
    old_deadline = timer_row(engine, instance_id, "Decide_Deadline")
    open_task = rows(engine, sa.select(TaskRow.id, TaskRow.spiff_task_id).where(
        TaskRow.instance_id == instance_id, TaskRow.state == "open"))
    deploy_version(engine, with_review_step(shipped_xml()))
    between_steps()

    result = migration.migrate(engine, instance_id, 2, "admin", "Decision deadline extended by the regulator")

    assert (result.from_version, result.to_version, result.reset_tasks) == (1, 2, ["Decide_Deadline"])
    v2 = scalar(engine, sa.select(ProcessDefinition.id).where(ProcessDefinition.version == 2))
    assert scalar(engine, sa.select(ProcessInstance.definition_id).where(ProcessInstance.id == instance_id)) == v2
    new_due = expected_new_deadline(engine, old_deadline.due_at)
    deadline = timer_row(engine, instance_id, "Decide_Deadline")
    assert (deadline.id, deadline.spiff_task_id, deadline.state) == (old_deadline.id, old_deadline.spiff_task_id,
                                                                     "waiting")
    assert deadline.due_at == new_due != old_deadline.due_at
    assert (deadline.kind, deadline.sla_kind) == ("deadline", "decision")
    # The officer's task is the same row (assignment kept), its deadline and the application's follow.
    task = rows(engine, sa.select(TaskRow.id, TaskRow.spiff_task_id, TaskRow.due_at, TaskRow.state).where(
        TaskRow.instance_id == instance_id, TaskRow.state == "open"))
    assert [(t.id, t.spiff_task_id) for t in task] == [tuple(t) for t in open_task]
    assert task[0].due_at == new_due
    assert scalar(engine, sa.select(LoanApplication.decision_due).where(LoanApplication.id == at_decide)) == new_due
    between_steps()

    services.approve(engine, parties.officer_a, at_decide, APPROVAL)
    between_steps()
    services.disburse(engine, parties.officer_a, at_decide, {
        "contract_number": "HT-2026-001", "amount": "400000.00", "disbursed_on": "2026-09-30"})
    between_steps()
    clock.advance(days=30)
    services.settle(engine, parties.officer_a, at_decide, {"settled_on": "2026-10-30"})

    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == at_decide)) == "settled"
    instance = rows(engine, sa.select(ProcessInstance.status, ProcessInstance.end_event, ProcessInstance.definition_id)
                    .where(ProcessInstance.id == instance_id))[0]
    assert tuple(instance) == ("completed", "End_Settled", v2)
    assert timer_row(engine, instance_id, "Decide_Deadline").state == "cancelled"


def test_a_changed_step_keeps_its_row_and_takes_the_new_name_and_form(engine, at_decide):
    instance_id = instance_of(engine, at_decide)
    root = etree.fromstring(shipped_xml().encode("utf-8"))
    process = root.find("bpmn:process", NS)
    accept_form = process.find("bpmn:userTask[@id='Accept']//spiffworkflow:property[@name='form']", NS).get("value")
    decide = process.find("bpmn:userTask[@id='Decide']", NS)
    decide.set("name", "授信审批")
    decide.find(".//spiffworkflow:property[@name='form']", NS).set("value", accept_form)
    deploy_version(engine, etree.tostring(root, encoding="unicode"))
    [before] = rows(engine, sa.select(TaskRow.id, TaskRow.spiff_task_id).where(TaskRow.instance_id == instance_id,
                                                                                 TaskRow.state == "open"))

    assert {task.bpmn_id: task.outcome for task in migration.preview(engine, instance_id).tasks}["Decide"] == "reset"
    migration.migrate(engine, instance_id, 2, "admin", "Decision form simplified")

    [after] = rows(engine, sa.select(TaskRow.id, TaskRow.spiff_task_id, TaskRow.name, TaskRow.form_key,
                                     TaskRow.api_step)
                   .where(TaskRow.instance_id == instance_id, TaskRow.state == "open"))
    assert (after.id, after.spiff_task_id, after.name, after.form_key, after.api_step) == (
        before.id, before.spiff_task_id, "授信审批", accept_form, "decision")


def test_the_changed_deadline_fires_at_its_new_time_not_the_old_one(engine, at_decide, clock):
    instance_id = instance_of(engine, at_decide)
    old_due = timer_row(engine, instance_id, "Decide_Deadline").due_at
    deploy_version(engine, with_review_step(shipped_xml()))
    migration.migrate(engine, instance_id, 2, "admin", "Longer decision period")

    clock.set(old_due)
    sweep_due_timers(engine)
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 0
    assert timer_row(engine, instance_id, "Decide_Reminder").state == "fired"

    clock.set(expected_new_deadline(engine, old_due))
    sweep_due_timers(engine)
    assert scalar(engine, sa.select(SlaBreach.kind)) == "decision"
    assert timer_row(engine, instance_id, "Decide_Deadline").state == "fired"


def test_a_deadline_moved_into_the_past_fires_during_the_migration(engine, at_decide, clock):
    instance_id = instance_of(engine, at_decide)
    clock.advance(days=30)  # both timers overdue; the sweep has not run
    deploy_version(engine, with_review_step(shipped_xml(), extra_days=1))
    preview = migration.preview(engine, instance_id)
    assert {timer.bpmn_id for timer in preview.timers if timer.due_now} == {"Decide_Deadline", "Decide_Reminder"}

    result = migration.migrate(engine, instance_id, 2, "admin", "Catch up")

    assert {timer.bpmn_id: timer.due_now for timer in result.timers} == {"Decide_Deadline": True,
                                                                           "Decide_Reminder": True}
    assert timer_row(engine, instance_id, "Decide_Deadline").state == "fired"
    assert scalar(engine, sa.select(SlaBreach.kind)) == "decision"
    assert rows(engine, sa.select(TaskRow.bpmn_id).where(TaskRow.instance_id == instance_id,
                                                         TaskRow.state == "open"))[0].bpmn_id == "Decide"


def test_a_migration_that_drops_the_task_a_case_is_at_is_refused_and_changes_nothing(engine, at_decide):
    instance_id = instance_of(engine, at_decide)
    deploy_version(engine, with_review_step(shipped_xml()))
    assert deploy_version(engine, without_decide(shipped_xml())) == 3
    before = everything_about(engine, instance_id)

    preview = migration.preview(engine, instance_id, 3)
    assert (preview.possible, preview.reason_code) == (False, "active_task_removed")
    assert "Decide" in preview.reason and preview.timers == ()
    assert {task.bpmn_id: task.outcome for task in preview.tasks}["Decide"] == "removed"
    with pytest.raises(MigrationRefused) as refused:
        migration.migrate(engine, instance_id, 3, "admin", "Drop the decision")

    assert (refused.value.code, refused.value.params["task"], refused.value.params["version"]) == (
        "active_task_removed", "Decide", 3)
    assert everything_about(engine, instance_id) == before
    # The case still works on its own version afterwards (nothing was left half-moved in memory).
    engine.forget_live_workflows()
    assert migration.preview(engine, instance_id, 2).possible


def test_a_case_past_a_removed_task_is_refused_because_its_history_would_not_load(engine, parties, at_decide):
    services.approve(engine, parties.officer_a, at_decide, APPROVAL)  # now at Disburse
    instance_id = instance_of(engine, at_decide)
    deploy_version(engine, without_decide(shipped_xml()))
    before = everything_about(engine, instance_id)
    with pytest.raises(MigrationRefused) as refused:
        migration.migrate(engine, instance_id, 2, "admin", "x")
    assert (refused.value.code, refused.value.params["task"]) == ("finished_task_removed", "Decide")
    assert everything_about(engine, instance_id) == before


def test_cases_that_cannot_move_are_refused_with_their_reason(engine, parties, at_decide, submit):
    instance_id = instance_of(engine, at_decide)
    for target, code in ((None, "same_version"), (1, "same_version"), (7, "no_target")):
        assert migration.preview(engine, instance_id, target).reason_code == code
        with pytest.raises(MigrationRefused) as refused:
            migration.migrate(engine, instance_id, target or 1, "admin", "x")
        assert refused.value.code == code
    other = shipped_xml().replace('id="loan_lifecycle"', 'id="other_process"').replace(
        'processRef="loan_lifecycle"', 'processRef="other_process"')
    tables = shipped_decisions(other)
    deploy_version(engine, other, forms=shipped_forms(parse_model(other, decisions=tables)), decisions=tables)
    with pytest.raises(MigrationRefused) as refused:
        migration.migrate(engine, instance_id, 1, "admin", "x", target_key="other_process")
    assert refused.value.code == "other_process"
    rejected = submit()
    services.accept(engine, parties.officer_a, rejected)
    services.reject(engine, parties.officer_a, rejected, {"reason": "Insufficient cash flow"})
    deploy_version(engine, with_review_step(shipped_xml()))
    assert migration.preview(engine, instance_of(engine, rejected)).reason_code == "not_running"
    with pytest.raises(MigrationRefused) as refused:
        migration.migrate(engine, instance_of(engine, rejected), 2, "admin", "x")
    assert refused.value.code == "not_running"
    with pytest.raises(NotFound):
        migration.preview(engine, 999_999)
    with pytest.raises(ValidationFailed):
        migration.migrate(engine, instance_id, 2, "admin", "   ")


def test_bulk_migration_moves_what_it_can_and_says_why_not_for_the_rest(engine, parties, submit, clock):
    at_accept, at_decide, at_disburse, done = submit(), submit(), submit(), submit()
    for application_id in (at_decide, at_disburse, done):
        services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, at_disburse, APPROVAL)
    services.reject(engine, parties.officer_a, done, {"reason": "Insufficient cash flow"})
    deploy_version(engine, without_decide(shipped_xml()))
    instances = {name: instance_of(engine, app) for name, app in
                 (("accept", at_accept), ("decide", at_decide), ("disburse", at_disburse))}
    before = {name: everything_about(engine, iid) for name, iid in instances.items()}

    dry = migration.migrate_all(engine, "loan_lifecycle", 1, 2, "admin", "Decision moves upstream", dry_run=True)
    assert [(case.instance_id, case.outcome, case.code) for case in dry.cases] == [
        (instances["accept"], "would_migrate", None), (instances["decide"], "refused", "active_task_removed"),
        (instances["disburse"], "refused", "finished_task_removed")]
    assert {name: everything_about(engine, iid) for name, iid in instances.items()} == before

    done_run = migration.migrate_all(engine, "loan_lifecycle", 1, 2, "admin", "Decision moves upstream")
    assert [(case.instance_id, case.outcome, case.code) for case in done_run.cases] == [
        (instances["accept"], "migrated", None), (instances["decide"], "refused", "active_task_removed"),
        (instances["disburse"], "refused", "finished_task_removed")]
    assert (done_run.count("migrated"), done_run.count("refused")) == (1, 2)
    versions = dict(rows(engine, sa.select(ProcessInstance.id, ProcessDefinition.version).join(
        ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)))
    assert (versions[instances["accept"]], versions[instances["decide"]], versions[instances["disburse"]]) == (2, 1, 1)
    assert everything_about(engine, instances["decide"])[:3] == before["decide"][:3]
    with pytest.raises(MigrationRefused):
        migration.migrate_all(engine, "loan_lifecycle", 1, 9, "admin", "x")
    with pytest.raises(NotFound):
        migration.migrate_all(engine, "loan_lifecycle", 8, 2, "admin", "x")


def test_a_migration_is_audited_with_versions_reset_tasks_and_reason(engine, at_decide):
    instance_id = instance_of(engine, at_decide)
    deploy_version(engine, with_review_step(shipped_xml()))
    migration.migrate(engine, instance_id, 2, "admin", "Decision deadline extended")
    [event] = rows(engine, sa.select(AuditEvent).where(AuditEvent.action == "instance_migrated"))
    event = event[0]
    assert (event.actor, event.application_id, event.instance_id) == ("admin", at_decide, instance_id)
    assert (event.detail["from_version"], event.detail["to_version"]) == (1, 2)
    assert event.detail["reset_tasks"] == ["Decide_Deadline"]
    assert event.detail["reason"] == "Decision deadline extended"
    assert set(event.detail["kept_tasks"]) == {"Decide", "Decide_Reminder", "Decide_Withdrawn"}
    [deadline] = [timer for timer in event.detail["timers"] if timer["timer"] == "Decide_Deadline"]
    assert deadline["re_evaluated"] and deadline["due_after"] != deadline["due_before"]


def test_a_migrated_case_can_still_be_withdrawn(engine, parties, at_decide):
    instance_id = instance_of(engine, at_decide)
    deploy_version(engine, with_review_step(shipped_xml()))
    migration.migrate(engine, instance_id, 2, "admin", "x")
    engine.forget_live_workflows()
    services.withdraw(engine, parties.enterprise, at_decide, {"reason": "Found other funding"})
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == at_decide)) == "withdrawn"
    assert rows(engine, sa.select(TimerRow.state).where(TimerRow.instance_id == instance_id,
                                                        TimerRow.state == "waiting")) == []


def test_a_target_whose_changed_timer_fails_on_the_case_is_reported_and_changes_nothing(engine, at_decide):
    instance_id = instance_of(engine, at_decide)
    broken = with_review_step(shipped_xml()).replace(
        f", {EXTRA_WORKING_DAYS})</bpmn:timeDate>", ", no_such_variable)</bpmn:timeDate>")
    deploy_version(engine, broken)
    before = everything_about(engine, instance_id)

    preview = migration.preview(engine, instance_id)
    assert (preview.possible, preview.reason_code) == (False, "model_error")
    assert "Decide_Deadline" in preview.reason
    with pytest.raises(ModelError):
        migration.migrate(engine, instance_id, 2, "admin", "x")
    bulk = migration.migrate_all(engine, "loan_lifecycle", 1, 2, "admin", "x")
    assert [(case.outcome, case.code) for case in bulk.cases] == [("failed", "model_error")]
    assert everything_about(engine, instance_id) == before
