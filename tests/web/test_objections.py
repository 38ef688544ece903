"""Objections (异议申诉) on pages: filed by the enterprise, routed to the reporting institution only, the value
marked disputed on every page that shows it, a late answer escalated (breach, supervisor's task, message),
answered with a correction (old and new with the reason, history kept) or upheld (marker gone, enterprise told)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from engine.loans import services
from engine.models import (
    LoanApplication,
    Objection,
    OutboxMessage,
    RecordCorrection,
    SlaBreach,
    TaskRow,
)
from engine.workflow import tasks
from engine.workflow.errors import NotFound
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, rows, scalar

DISPUTED = 'data-disputed="annual_rate"'


def _approved(engine, parties, submit) -> str:
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, dict(APPROVAL))
    return scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))


def _file(browser, reference: str, field: str = "annual_rate", reason: str = "合同约定年利率为3.65%"):
    return browser.post(f"/my/applications/{reference}/objection", {"field": field, "reason": reason})


def _answer_task(engine) -> int:
    return scalar(engine, sa.select(TaskRow.id).where(TaskRow.bpmn_id == "Answer", TaskRow.state == "open"))


def _topics(engine) -> list[str]:
    return [row[0] for row in rows(engine, sa.select(OutboxMessage.topic).order_by(OutboxMessage.id))]


def test_objection_routed_marked_escalated_when_late_and_corrected_with_history(
        browser, engine, parties, submit, clock):
    reference = _approved(engine, parties, submit)
    enterprise, officer_a, officer_b = browser("ent-user"), browser("officer-a"), browser("officer-b")
    supervisor = browser("supervisor")

    page = enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    assert f"/my/applications/{reference}/objection?field=annual_rate" in page  # 提出异议 beside the value
    form = enterprise.get(f"/my/applications/{reference}/objection?field=annual_rate").get_data(as_text=True)
    assert "异议事项" in form and "异议理由" in form and "20" in form

    filed = _file(enterprise, reference)
    assert filed.status_code == 302, filed.get_data(as_text=True)
    objection = rows(engine, sa.select(Objection.field, Objection.reported_value, Objection.state,
                                       Objection.due_at))[0]
    assert objection[:3] == ("annual_rate", "3.8500", "open")
    # 征信业管理条例 art. 25: 20 days from the day after filing (2026-09-30), ending 24:00 Beijing time.
    assert objection[3].isoformat() == "2026-10-20T16:00:00+00:00"
    assert "objection.filed" in _topics(engine)

    task = _answer_task(engine)
    assert f'href="/tasks/{task}"' in officer_a.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{task}"' not in officer_b.get("/tasks").get_data(as_text=True)  # another bank
    assert officer_b.get(f"/tasks/{task}").status_code == 404
    answer_page = officer_a.get(f"/tasks/{task}").get_data(as_text=True)
    assert "答复异议" in answer_page and "年利率" in answer_page and "合同约定年利率为3.65%" in answer_page

    # Disputed wherever the value is shown: both sides, and the supervisor's page.
    for who, path in ((enterprise, f"/my/applications/{reference}"), (enterprise, "/my/data"),
                      (officer_a, f"/inbox/{reference}"),
                      (supervisor, f"/supervision/applications/{reference}")):
        html = who.get(path).get_data(as_text=True)
        assert DISPUTED in html and "有异议" in html, path
    assert _file(enterprise, reference).status_code == 422  # one open objection per value

    # Late: the deadline passes, the breach is the institution's, the supervisors get a 督办 task and a message.
    clock.set(datetime.fromisoformat("2026-10-21T00:00:01+08:00"))
    sweep_due_timers(engine)
    assert rows(engine, sa.select(SlaBreach.institution_id).where(SlaBreach.kind == "objection_answer")) == [
        (parties.bank_a_id,)]
    assert "objection.escalated" in _topics(engine)
    supervise = scalar(engine, sa.select(TaskRow.id).where(TaskRow.bpmn_id == "Supervise"))
    listed = supervisor.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{supervise}"' in listed and "督办异议答复" in listed
    assert "异议答复" in officer_a.get(f"/tasks/{task}").get_data(as_text=True)  # the commitment, named
    assert supervisor.post(f"/tasks/{supervise}", {"supervision_note": "请立即答复"}).status_code == 302
    assert "objection.supervised" in _topics(engine)

    # The bank corrects the value: old and new, with the reason, on both sides; the history is kept.
    corrected = officer_a.post(f"/tasks/{task}", {"outcome": "correct", "new_value": "3.65",
                                                  "explanation": "系统录入错误，已按合同更正"})
    assert corrected.status_code == 302, corrected.get_data(as_text=True)
    assert rows(engine, sa.select(RecordCorrection.field, RecordCorrection.old_value, RecordCorrection.new_value,
                                  RecordCorrection.reason)) == [
        ("annual_rate", "3.8500", "3.6500", "系统录入错误，已按合同更正")]
    assert scalar(engine, sa.select(LoanApplication.annual_rate).where(LoanApplication.reference == reference)) \
        == APPROVAL["annual_rate"].__class__("3.6500")
    assert scalar(engine, sa.select(SlaBreach.resolution).where(SlaBreach.kind == "objection_answer")) == "acted"
    for who, path in ((enterprise, f"/my/applications/{reference}"), (enterprise, "/my/data"),
                      (officer_a, f"/inbox/{reference}")):
        html = who.get(path).get_data(as_text=True)
        assert DISPUTED not in html, path
        assert "<del>3.85 %</del>" in html and "3.65 %" in html and "系统录入错误，已按合同更正" in html, path
    timeline = enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "数值已更正" in timeline and "3.85 % → 3.65 %" in timeline
    assert "objection.answered" in _topics(engine)
    listing = enterprise.get("/my/objections").get_data(as_text=True)
    assert "已更正" in listing and reference in listing


def test_upheld_objection_clears_the_marker_and_tells_the_enterprise(browser, engine, parties, submit):
    reference = _approved(engine, parties, submit)
    enterprise, officer_a = browser("ent-user"), browser("officer-a")
    assert _file(enterprise, reference, field="decision", reason="我方材料齐全").status_code == 302
    task = _answer_task(engine)
    refused = officer_a.post(f"/tasks/{task}", {"outcome": "correct", "new_value": "x", "explanation": "试"})
    assert refused.status_code == 422 and "审贷结论不能在此更正" in refused.get_data(as_text=True)
    assert 'data-disputed="decision"' in enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    upheld = officer_a.post(f"/tasks/{task}", {"outcome": "uphold", "explanation": "审批依据充分"})
    assert upheld.status_code == 302
    assert 'data-disputed="decision"' not in enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    message = rows(engine, sa.select(OutboxMessage.payload).where(OutboxMessage.topic == "objection.answered"))[0][0]
    assert message["outcome"] == "uphold" and message["enterprise_id"] == parties.enterprise.enterprise_id
    assert "审批依据充分" in enterprise.get("/my/objections").get_data(as_text=True)
    assert rows(engine, sa.select(RecordCorrection.id)) == []


def test_objection_to_a_value_not_reported_is_refused_in_chinese(browser, engine, parties, submit):
    reference = _approved(engine, parties, submit)
    refused = _file(browser("ent-user"), reference, field="settled_on")
    assert refused.status_code == 422
    assert "不是可选的值。" in refused.get_data(as_text=True)
    assert rows(engine, sa.select(Objection.id)) == []


def test_another_enterprise_cannot_object_and_another_bank_cannot_answer(browser, engine, parties, submit):
    reference = _approved(engine, parties, submit)
    other = browser("other-user")
    assert other.get(f"/my/applications/{reference}/objection?field=annual_rate").status_code == 404
    assert _file(other, reference).status_code == 404
    assert rows(engine, sa.select(Objection.id)) == []
    assert _file(browser("ent-user"), reference).status_code == 302
    task = _answer_task(engine)
    try:
        tasks.complete(engine, parties.officer_b, task, {"outcome": "uphold", "explanation": "x"})
    except NotFound:
        pass
    else:
        raise AssertionError("another bank answered the objection")
    assert browser("officer-b").post(f"/tasks/{task}", {"outcome": "uphold", "explanation": "x"}).status_code == 404
    assert scalar(engine, sa.select(Objection.state)) == "open"


def test_disbursement_date_corrected_cannot_be_in_the_future(browser, engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, dict(APPROVAL))
    services.disburse(engine, parties.officer_a, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": date(2026, 9, 30)})
    reference = scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))
    assert _file(browser("ent-user"), reference, field="disbursed_on", reason="实际放款日为9月29日").status_code == 302
    task = _answer_task(engine)
    officer = browser("officer-a")
    assert officer.post(f"/tasks/{task}", {"outcome": "correct", "new_value": "2027-01-01",
                                           "explanation": "更正"}).status_code == 422
    assert officer.post(f"/tasks/{task}", {"outcome": "correct", "new_value": "2026-09-29",
                                           "explanation": "更正"}).status_code == 302
    assert scalar(engine, sa.select(LoanApplication.disbursed_on)) == date(2026, 9, 29)
