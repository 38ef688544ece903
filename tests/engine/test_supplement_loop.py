"""The shipped lifecycle's 补充材料 loop and 放款 deadline: the bank asks for material, the enterprise
answers within the working days the decision table sets while the decision clock pauses (a rule of
the table), an unanswered request ends at its deadline without a breach, and a loan not disbursed
in time is a breach against the institution."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, LoanApplication, OutboxMessage, SlaBreach, TimerRow
from engine.workflow import tasks
from engine.workflow.definitions import BPMN_DIR, deploy, shipped_decisions
from engine.workflow.errors import ValidationFailed
from engine.workflow.forms import fill_template
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, rows, scalar

MATERIAL = {"decision": "supplement", "material_requested": "近三个月的银行流水"}


def open_task(engine, actor, application_id: int, bpmn_id: str):
    found = [t for t in tasks.list_tasks(engine, actor).items
             if t.row.application_id == application_id and t.row.bpmn_id == bpmn_id]
    return found[0] if found else None


def timer(engine, application_id: int, bpmn_id: str, state: str = "waiting"):
    found = rows(engine, sa.select(TimerRow).join(
        LoanApplication, LoanApplication.instance_id == TimerRow.instance_id).where(
        LoanApplication.id == application_id, TimerRow.bpmn_id == bpmn_id, TimerRow.state == state))
    return found[-1][0] if found else None


def calendar(engine):
    with engine.transaction() as session:
        return engine.calendars.get(session)


@pytest.fixture
def asked(engine, parties, submit, clock):
    """An accepted application whose bank asked for material two hours later: (id, accepted_at, asked_at)."""
    application_id = submit()
    clock.advance(hours=2)
    services.accept(engine, parties.officer_a, application_id)
    accepted_at = clock.now()
    clock.advance(hours=2)
    decide = open_task(engine, parties.officer_a, application_id, "Decide")
    tasks.complete(engine, parties.officer_a, decide.id, MATERIAL)
    return application_id, accepted_at, clock.now()


def test_the_enterprise_answers_and_the_decision_clock_resumes_later(engine, parties, clock, asked):
    application_id, accepted_at, asked_at = asked
    assert open_task(engine, parties.officer_a, application_id, "Decide") is None
    assert open_task(engine, parties.other_enterprise, application_id, "Supplement") is None
    supplement = open_task(engine, parties.enterprise, application_id, "Supplement")
    assert supplement.row.commitment == "supplement"
    assert timer(engine, application_id, "Supplement_Deadline").due_at == calendar(engine).add_working_days(
        asked_at, 5).due
    assert timer(engine, application_id, "Decide_Deadline", "cancelled") is not None
    assert scalar(engine, sa.select(LoanApplication.decision_due).where(LoanApplication.id == application_id)) is None
    with pytest.raises(ValidationFailed) as refused:
        tasks.complete(engine, parties.enterprise, supplement.id, {"material": "  "})
    assert set(refused.value.errors) == {"material"}

    clock.advance(days=12)  # 2026-10-12, after the National Day holiday, before the 5th working day
    tasks.complete(engine, parties.enterprise, supplement.id, {"material": "已在网点递交银行流水"})
    paused = calendar(engine).working_days_between(asked_at, clock.now())
    assert paused >= 1
    assert open_task(engine, parties.officer_a, application_id, "Decide") is not None
    assert timer(engine, application_id, "Decide_Deadline").due_at == calendar(engine).add_working_days(
        accepted_at, 10 + paused).due
    assert scalar(engine, sa.select(LoanApplication.decision_due).where(
        LoanApplication.id == application_id)) == timer(engine, application_id, "Decide_Deadline").due_at
    actions = [a for (a,) in rows(engine, sa.select(AuditEvent.action).where(
        AuditEvent.application_id == application_id).order_by(AuditEvent.id))]
    assert actions == ["submitted", "accepted", "material_requested", "material_supplied"]
    topics = {t for (t,) in rows(engine, sa.select(OutboxMessage.topic))}
    assert {"application.material_requested", "application.material_supplied"} <= topics
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id)) == "accepted"

    services.approve(engine, parties.officer_a, application_id, APPROVAL)  # the façade completes the new Decide
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id)) == "approved"


def test_an_unanswered_request_ends_at_its_deadline_without_a_breach(engine, parties, clock, asked):
    application_id, accepted_at, asked_at = asked
    due = timer(engine, application_id, "Supplement_Deadline").due_at
    clock.set(due + timedelta(minutes=5))
    sweep_due_timers(engine)
    assert open_task(engine, parties.enterprise, application_id, "Supplement") is None
    assert open_task(engine, parties.officer_a, application_id, "Decide") is not None
    paused = calendar(engine).working_days_between(asked_at, due)
    assert timer(engine, application_id, "Decide_Deadline").due_at == calendar(engine).add_working_days(
        accepted_at, 10 + paused).due
    assert scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach)) == 0


def test_without_the_pause_rule_the_decision_deadline_stays(engine, parties, clock, submit):
    table = shipped_decisions((BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8"))["loan_time_limits"]
    assert table.count("<text>True</text>") == 1
    with engine.transaction() as session:
        deploy(session, (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8"), "author", engine.clock,
               decisions={"loan_time_limits": table.replace("<text>True</text>", "<text>False</text>")})
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    first_due = timer(engine, application_id, "Decide_Deadline").due_at
    decide = open_task(engine, parties.officer_a, application_id, "Decide")
    tasks.complete(engine, parties.officer_a, decide.id, MATERIAL)
    clock.advance(days=9)
    supplement = open_task(engine, parties.enterprise, application_id, "Supplement")
    tasks.complete(engine, parties.enterprise, supplement.id, {"material": "补充说明"})
    assert timer(engine, application_id, "Decide_Deadline").due_at == first_due


def test_the_enterprise_can_withdraw_while_asked_for_material(engine, parties, asked):
    application_id, _, _ = asked
    services.withdraw(engine, parties.enterprise, application_id)
    assert open_task(engine, parties.enterprise, application_id, "Supplement") is None
    assert scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id)) == "withdrawn"
    assert timer(engine, application_id, "Supplement_Deadline") is None


def test_a_loan_not_disbursed_in_time_is_a_breach_until_it_is_disbursed(engine, parties, clock, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    due = timer(engine, application_id, "Disburse_Deadline").due_at
    assert due == calendar(engine).add_working_days(clock.now(), 5).due
    clock.set(due + timedelta(hours=1))
    sweep_due_timers(engine)
    [(breach,)] = rows(engine, sa.select(SlaBreach))
    assert (breach.kind, breach.institution_id, breach.resolved_at) == ("disbursement", parties.bank_a_id, None)
    services.disburse(engine, parties.officer_a, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": clock.now().date().isoformat()})
    [(breach,)] = rows(engine, sa.select(SlaBreach))
    assert breach.resolution == "acted" and breach.late_working_days >= 1


def test_the_enterprise_reads_what_the_bank_asked_for_on_its_task(engine, parties, asked):
    application_id, _, _ = asked
    supplement = open_task(engine, parties.enterprise, application_id, "Supplement")
    view = tasks.get_task(engine, parties.enterprise, supplement.id)
    assert view.shown == {"material_requested": MATERIAL["material_requested"]}
    [text] = [f for f in view.form.fields if f.type == "text"]
    assert fill_template(text.text_in("zh"), view.shown) == "金融机构要求补充的材料：近三个月的银行流水"
    assert fill_template(text.text_in("en"), view.shown) == "The bank asks for: 近三个月的银行流水"
