"""Decision tables (DMN) deployed with a model: the shipped time limits come from one, an author
changes a limit by product in the table only, and a broken or hostile table harms only its case."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.models import (
    AuditEvent,
    LoanApplication,
    ProcessDefinition,
    ProcessInstance,
    ProcessResource,
    TimerRow,
)
from engine.workflow.definitions import BPMN_DIR, deploy, shipped_decisions
from engine.workflow.errors import ModelError
from tests.conftest import rows, scalar

SHIPPED = (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")
TABLE = shipped_decisions(SHIPPED)["loan_time_limits"]
DEFAULT_ROW = '<rule id="Rule_platform_default">'


def table_with_rows(*rows_xml: str) -> str:
    """The shipped table with rows put before its catch-all row (the first matching row wins)."""
    assert DEFAULT_ROW in TABLE
    return TABLE.replace(DEFAULT_ROW, "".join(rows_xml) + DEFAULT_ROW)


def product_row(code: str, accept: str = "3", decision: str = "10", disbursement: str = "5") -> str:
    cells = "".join(f'<outputEntry id="Out_{code}_{n}"><text>{value}</text></outputEntry>'
                    for n, value in enumerate((accept, decision, disbursement, "5", "True")))
    return (f'<rule id="Rule_{code}"><inputEntry id="In_{code}"><text>"{code}"</text></inputEntry>'
            f"{cells}</rule>")


def deploy_table(engine, table: str, xml: str = SHIPPED) -> int:
    with engine.transaction() as session:
        return deploy(session, xml, "author", engine.clock, decisions={"loan_time_limits": table}).version


def due_of(engine, application_id: int, bpmn_id: str):
    return scalar(engine, sa.select(TimerRow.due_at).join(
        LoanApplication, LoanApplication.instance_id == TimerRow.instance_id).where(
        LoanApplication.id == application_id, TimerRow.bpmn_id == bpmn_id))


def working_days_after(engine, start, days: int):
    with engine.transaction() as session:
        return engine.calendars.get(session).add_working_days(start, days).due


def test_the_shipped_limits_come_from_the_decision_table(engine, submit, clock):
    application_id = submit()
    assert due_of(engine, application_id, "Accept_Deadline") == working_days_after(engine, clock.now(), 3)
    with engine.transaction() as session:
        stored = session.scalars(sa.select(ProcessResource.name).where(ProcessResource.kind == "dmn")).all()
    assert stored == ["loan_time_limits"]


def test_a_row_for_one_product_changes_its_limit_and_no_other(engine, parties, submit, clock):
    before = submit()
    assert deploy_table(engine, table_with_rows(product_row("PA", accept="5"))) == 2
    product_a = submit()
    product_b = submit(institution_id=parties.bank_b_id, product_id=parties.product_b_id)
    assert due_of(engine, product_a, "Accept_Deadline") == working_days_after(engine, clock.now(), 5)
    assert due_of(engine, product_b, "Accept_Deadline") == working_days_after(engine, clock.now(), 3)
    assert due_of(engine, before, "Accept_Deadline") == working_days_after(engine, clock.now(), 3)  # its version's


def test_a_new_model_without_its_table_keeps_the_previous_versions_table(engine, submit, clock):
    deploy_table(engine, table_with_rows(product_row("PA", accept="4")))
    with engine.transaction() as session:  # the author changes the BPMN only
        changed = SHIPPED.replace('name="设定时限规则"', 'name="设定服务时限"')
        assert deploy(session, changed, "author", engine.clock).version == 3
    assert due_of(engine, submit(), "Accept_Deadline") == working_days_after(engine, clock.now(), 4)


@pytest.mark.parametrize("table, message", [
    (TABLE.replace('id="loan_time_limits"', 'id="other_limits"'), "holds the decision 'other_limits'"),
    (table_with_rows(product_row("PA", accept="__import__('os').getpid()")), "row 1"),
    (table_with_rows(product_row("PA", accept="10 ** 10 ** 10")), "row 1"),
    (TABLE.replace("<text>product_code</text>", "<text>().__class__</text>"), "__class__"),
    ("<definitions/>", "exactly one decision"),
    ("not xml", "not well-formed"),
    (TABLE.replace("<!DOCTYPE", "").replace('<?xml version="1.0" encoding="UTF-8"?>',
                                             '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]>'), "DOCTYPE"),
])
def test_a_broken_or_hostile_table_is_refused_at_deploy(engine, table, message):
    with pytest.raises(ModelError, match=message):
        deploy_table(engine, table)
    with engine.transaction() as session:
        assert session.scalar(sa.select(sa.func.max(ProcessDefinition.version)).where(
            ProcessDefinition.key == "loan_lifecycle")) == 1


def test_a_model_calling_a_table_nobody_deployed_is_refused(engine):
    with engine.transaction() as session, pytest.raises(ModelError, match="'no_such_table'"):
        deploy(session, SHIPPED.replace(">loan_time_limits<", ">no_such_table<"), "author", engine.clock)


def test_a_table_failing_on_a_case_fails_that_submission_only_and_changes_nothing(engine, parties, submit):
    failing = product_row("PA", accept="1 // (requested_term_months - requested_term_months)")
    deploy_table(engine, table_with_rows(failing))
    with pytest.raises(ModelError, match="Set_SLA_Rules") as failed:
        submit()
    assert failed.value.context["activity"] == "Set_SLA_Rules"
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    other = submit(institution_id=parties.bank_b_id, product_id=parties.product_b_id)  # no row of its own
    assert rows(engine, sa.select(AuditEvent.action).where(AuditEvent.application_id == other)) == [("submitted",)]
