"""The one task page for every task: listed in /tasks, drawn from the model's form, claimed, completed."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from engine.loans.actors import OFFICER
from engine.models import AuditEvent, LoanApplication, TaskRow
from engine.platform.access import create_user
from tests.conftest import scalar
from tests.web.conftest import PASSWORD


def _open_task(engine, bpmn_id: str) -> int:
    return scalar(engine, sa.select(TaskRow.id).where(TaskRow.state == "open", TaskRow.bpmn_id == bpmn_id))


def _application(engine) -> LoanApplication:
    with engine.transaction() as session:
        application = session.scalars(sa.select(LoanApplication)).one()
        session.expunge(application)
        return application


def _actions(engine) -> list[str]:
    with engine.transaction() as session:
        return list(session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


def _error_of(html: str, key: str) -> str:
    match = re.search(rf'<span id="field-{key}-error" class="error" role="alert">([^<]*)</span>', html)
    assert match, f"no error shown for {key}"
    return match.group(1).strip()


@pytest.fixture
def accepted(browser, submit, engine):
    """An application of bank A accepted through its task page; its Decide task is open."""
    submit()
    officer = browser("officer-a")
    assert officer.post(f"/tasks/{_open_task(engine, 'Accept')}", {"note": ""}).status_code == 302
    return officer


def test_officer_accepts_from_the_task_page_and_the_decision_task_appears(browser, submit, engine):
    submit()
    reference = _application(engine).reference
    officer = browser("officer-a")
    listed = officer.get("/tasks").get_data(as_text=True)
    task = _open_task(engine, "Accept")
    assert reference in listed and f'href="/inbox/{reference}"' in listed
    assert f'href="/tasks/{task}"' in listed and "受理" in listed and "贷款全流程" in listed
    assert "2026-10-10 24:00" in listed and "剩余" in listed and "尚未认领" in listed
    assert "1–1 / 1" in listed

    page = officer.get(f"/tasks/{task}").get_data(as_text=True)
    assert "<h1>受理</h1>" in page and "受理意见" in page and "第 1 版" in page
    assert "3 个工作日内受理" in page  # the model's documentation of the task
    assert f'action="/tasks/{task}/claim"' in page and "认领" in page and "提交" in page
    assert 'name="csrf_token"' in page

    response = officer.post(f"/tasks/{task}", {"note": "资料齐全"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/inbox/{reference}")
    application = _application(engine)
    assert application.status == "accepted" and application.accept_note == "资料齐全"
    assert application.accepted_by == "officer-a"
    assert "任务“受理”已办结。" in officer.get(f"/inbox/{reference}").get_data(as_text=True)
    listed = officer.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{_open_task(engine, "Decide")}"' in listed and "审贷决定" in listed
    assert f'href="/tasks/{task}"' not in listed

    closed = officer.get(f"/tasks/{task}")
    assert closed.status_code == 200
    assert "该任务已不在待办中" in closed.get_data(as_text=True) and "受理意见" not in closed.get_data(as_text=True)
    assert officer.post(f"/tasks/{task}", {"note": "again"}).status_code == 409
    assert _application(engine).accept_note == "资料齐全"


def test_a_refused_decision_keeps_the_values_and_says_what_is_missing_in_chinese(accepted, engine):
    task = _open_task(engine, "Decide")
    before = _actions(engine)
    response = accepted.post(f"/tasks/{task}", {"decision": "approve", "amount": "", "annual_rate": "3.85",
                                                "term_months": "12", "conditions": "须提供担保"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _error_of(html, "amount") == "必填。"
    assert re.search(r'id="field-annual_rate" value="3\.85"', html)
    assert re.search(r'id="field-term_months" value="12"', html)
    assert re.search(r'id="field-conditions"[^>]*>\n须提供担保</textarea>', html)
    assert re.search(r'id="field-decision-1" value="approve" checked', html)
    assert "field-annual_rate-error" not in html and "Required." not in html
    assert _application(engine).status == "accepted" and _actions(engine) == before
    assert _open_task(engine, "Decide") == task

    above = accepted.post(f"/tasks/{task}", {"decision": "approve", "amount": "900000.00", "annual_rate": "3.85",
                                             "term_months": "12"})
    assert above.status_code == 422  # the domain's own check, worded on the field it names
    assert _error_of(above.get_data(as_text=True), "amount") == "超出申请（500000.00）须在授信条件中说明理由。"
    assert _application(engine).status == "accepted"


def test_an_officer_of_another_bank_gets_404_for_the_task(browser, submit, engine):
    submit()
    task = _open_task(engine, "Accept")
    intruder = browser("officer-b")
    assert _application(engine).reference not in intruder.get("/tasks").get_data(as_text=True)
    for response in (intruder.get(f"/tasks/{task}"), intruder.post(f"/tasks/{task}", {"note": "x"}),
                     intruder.post(f"/tasks/{task}/claim", {"take_over": "1"}),
                     intruder.post(f"/tasks/{task}/unclaim")):
        assert response.status_code == 404
        assert "受理意见" not in response.get_data(as_text=True)
    assert intruder.get(f"/tasks/{task + 1000}").status_code == 404  # the same answer as for no such task
    assert _application(engine).status == "submitted" and _actions(engine) == ["submitted"]


def test_the_enterprise_sees_no_institution_task(browser, submit, engine):
    submit()
    enterprise = browser("ent-user")
    listed = enterprise.get("/tasks")
    assert listed.status_code == 200
    assert _application(engine).reference not in listed.get_data(as_text=True)
    assert "暂无待办任务。" in listed.get_data(as_text=True)
    assert enterprise.get(f"/tasks/{_open_task(engine, 'Accept')}").status_code == 404
    assert browser("author").get("/tasks").status_code == 404  # process authors have no tasks


def test_a_colleagues_claim_blocks_completion_until_it_is_taken_over(browser, submit, engine, parties):
    with engine.transaction() as session:
        create_user(session, engine.clock.now(), "officer-a2", PASSWORD, OFFICER, institution_id=parties.bank_a_id)
    submit()
    task = _open_task(engine, "Accept")
    officer = browser("officer-a")
    assert officer.post(f"/tasks/{task}/claim").status_code == 302
    assert "你已认领该任务。" in officer.get(f"/tasks/{task}").get_data(as_text=True)
    assert f'href="/tasks/{task}"' in officer.get("/tasks?mine=1").get_data(as_text=True)

    colleague = browser("officer-a2")
    assert f'href="/tasks/{task}"' not in colleague.get("/tasks?mine=1").get_data(as_text=True)
    page = colleague.get(f"/tasks/{task}").get_data(as_text=True)
    assert re.search(r'<span id="task-holder">officer-a · 自 2026-09-30 10:00 起</span>', page)
    assert "接手" in page and 'name="take_over" value="1"' in page and "记入审计日志" in page

    refused = colleague.post(f"/tasks/{task}", {"note": "mine now?"})
    assert refused.status_code == 409
    assert "该任务已由 officer-a 认领：请先接手再提交。" in refused.get_data(as_text=True)
    assert "mine now?" in refused.get_data(as_text=True)  # what was typed is kept
    assert _application(engine).status == "submitted"

    colleague.post(f"/tasks/{task}/claim")  # without take_over: refused, said so
    assert "已由 officer-a 认领。" in colleague.get(f"/tasks/{task}").get_data(as_text=True)
    assert colleague.post(f"/tasks/{task}/claim", {"take_over": "1"}).status_code == 302
    assert "你已接手该任务；此操作已记入审计日志。" in colleague.get(f"/tasks/{task}").get_data(as_text=True)
    with engine.transaction() as session:
        taken = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "task_taken_over")).one()
        assert (taken.actor, taken.detail["previous"], taken.detail["assignee"]) == ("officer-a2", "officer-a",
                                                                                     "officer-a2")
    assert scalar(engine, sa.select(TaskRow.assignee).where(TaskRow.id == task)) == "officer-a2"

    assert colleague.post(f"/tasks/{task}", {"note": ""}).status_code == 302
    assert _application(engine).status == "accepted" and _application(engine).accepted_by == "officer-a2"


def test_giving_a_task_back_puts_it_in_the_pool(browser, submit, engine):
    submit()
    task = _open_task(engine, "Accept")
    officer = browser("officer-a")
    officer.post(f"/tasks/{task}/claim")
    assert "退回任务池" in officer.get(f"/tasks/{task}").get_data(as_text=True)
    assert officer.post(f"/tasks/{task}/unclaim").status_code == 302
    assert "任务已退回任务池。" in officer.get(f"/tasks/{task}").get_data(as_text=True)
    assert scalar(engine, sa.select(TaskRow.assignee).where(TaskRow.id == task)) is None
    assert _actions(engine)[-2:] == ["task_claimed", "task_unclaimed"]


def test_the_task_pages_speak_english_on_request(accepted, engine):
    task = _open_task(engine, "Decide")
    page = accepted.get(f"/tasks/{task}?lang=en").get_data(as_text=True)
    for text in ("My tasks", "version 1", "Deadline", "working days left", "Decision", "Claimed by", "Nobody yet",
                 "Claim this task", "Complete the task", "Credit amount (yuan)", "Annual rate (%)", "Approve",
                 "Reason for rejection", "Submit"):
        assert text in page, text
    assert "授信金额" not in page and "提交" not in page
    refused = accepted.post(f"/tasks/{task}", {"decision": "reject", "reason": ""})
    assert refused.status_code == 422 and _error_of(refused.get_data(as_text=True), "reason") == "Required."
    listed = accepted.get("/tasks").get_data(as_text=True)
    assert "Application" in listed and "Process" in listed and "Commitment" in listed
    assert "Credit decision" in listed


def test_the_inbox_links_each_task_to_its_page(accepted, engine):
    assert f'href="/tasks/{_open_task(engine, "Decide")}">办理</a>' in accepted.get("/inbox").get_data(as_text=True)
    assert 'href="/tasks">待办任务</a>' in accepted.get("/inbox").get_data(as_text=True)


def test_a_task_past_its_deadline_says_how_many_working_days_late(browser, submit, engine, clock):
    submit()
    clock.advance(days=12)  # 2026-10-12 10:00, past the acceptance deadline of 2026-10-10 24:00
    officer = browser("officer-a")
    listed = officer.get("/tasks").get_data(as_text=True)
    assert re.search(r'2026-10-10 24:00<br><span class="breached">逾期 1 个工作日</span>', listed)
    page = officer.get(f"/tasks/{_open_task(engine, 'Accept')}?lang=en").get_data(as_text=True)
    assert '<span class="breached">late by 1 working day</span>' in page


def test_in_english_the_task_and_process_carry_the_models_english_names(accepted, engine):
    task = _open_task(engine, "Decide")
    page = accepted.get(f"/tasks/{task}?lang=en").get_data(as_text=True)
    assert "<h1>Credit decision</h1>" in page and "Loan lifecycle" in page
    assert "审贷决定" not in page and "贷款全流程" not in page
    listed = accepted.get("/tasks?lang=en").get_data(as_text=True)
    assert ">Credit decision</a>" in listed


def test_the_bank_asks_for_material_and_the_enterprise_answers_from_its_pages(accepted, browser, engine):
    reference = _application(engine).reference
    decide = _open_task(engine, "Decide")
    empty = accepted.post(f"/tasks/{decide}", {"decision": "supplement", "material_requested": ""})
    assert empty.status_code == 422 and _error_of(empty.get_data(as_text=True), "material_requested") == "必填。"
    asked = accepted.post(f"/tasks/{decide}", {"decision": "supplement", "material_requested": "近三个月银行流水"})
    assert asked.status_code == 302
    officer_page = accepted.get(f"/inbox/{reference}").get_data(as_text=True)
    assert "本申请暂无待您办理的任务。" in officer_page

    enterprise = browser("ent-user")
    page = enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    supplement = _open_task(engine, "Supplement")
    assert f'href="/tasks/{supplement}"' in page and "补充材料" in page
    assert "认领人" not in page and "尚未认领" not in page  # her own task: nobody claims it
    assert "The bank must decide" not in page and "金融机构须于" not in page  # the decision clock is paused
    task_page = enterprise.get(f"/tasks/{supplement}").get_data(as_text=True)
    assert "金融机构要求补充的材料：近三个月银行流水" in task_page
    english = enterprise.get(f"/tasks/{supplement}?lang=en").get_data(as_text=True)
    assert "The bank asks for: 近三个月银行流水" in english
    enterprise.get("/tasks?lang=zh")
    refused = enterprise.post(f"/tasks/{supplement}", {"material": ""})
    assert refused.status_code == 422
    assert "金融机构要求补充的材料：近三个月银行流水" in refused.get_data(as_text=True)
    assert enterprise.post(f"/tasks/{supplement}", {"material": "已在网点递交"}).status_code == 302
    assert _open_task(engine, "Decide") is not None and _open_task(engine, "Supplement") is None
    assert [a for a in _actions(engine) if a != "viewed"][-2:] == ["material_requested", "material_supplied"]
    timeline = accepted.get(f"/inbox/{reference}").get_data(as_text=True)
    assert "要求补充材料" in timeline and "已补充材料" in timeline
