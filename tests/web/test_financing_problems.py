"""The financing-problem channel (融资问题反映): collect → route → answer → the enterprise confirms; not satisfied,
a supervisor's task. About an application its bank answers; about none, the platform's supervisors."""

from __future__ import annotations

import sqlalchemy as sa

from engine.models import FinancingProblem, LoanApplication, OutboxMessage, TaskRow
from tests.conftest import rows, scalar


def _open_task(engine, bpmn_id: str) -> int:
    return scalar(engine, sa.select(TaskRow.id).where(TaskRow.bpmn_id == bpmn_id, TaskRow.state == "open"))


def test_a_problem_about_an_application_goes_to_its_bank_and_unsatisfied_to_the_supervisors(
        browser, engine, parties, submit):
    application_id = submit()
    reference = scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))
    enterprise, officer_a, supervisor = browser("ent-user"), browser("officer-a"), browser("supervisor")
    assert "反映融资问题" in enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    form = enterprise.get(f"/my/problems/new?application={reference}").get_data(as_text=True)
    assert "问题类别" in form and "问题描述" in form
    reported = enterprise.post("/my/problems/new", {"application": reference, "category": "approval_time",
                                                    "description": "受理后一直没有结果"})
    assert reported.status_code == 302, reported.get_data(as_text=True)
    answer = _open_task(engine, "Institution_Answer")
    assert f'href="/tasks/{answer}"' in officer_a.get("/tasks").get_data(as_text=True)
    assert browser("officer-b").get(f"/tasks/{answer}").status_code == 404
    assert officer_a.post(f"/tasks/{answer}", {"answer": "已加快审批"}).status_code == 302
    confirm = _open_task(engine, "Confirm")
    page = enterprise.get(f"/tasks/{confirm}").get_data(as_text=True)
    assert "已加快审批" in page and "受理后一直没有结果" in page
    assert browser("other-user").get(f"/tasks/{confirm}").status_code == 404
    assert enterprise.post(f"/tasks/{confirm}", {"satisfied": "no", "comment": "仍未解决"}).status_code == 302
    supervise = _open_task(engine, "Supervise_Problem")
    assert f'href="/tasks/{supervise}"' in supervisor.get("/tasks").get_data(as_text=True)
    assert supervisor.post(f"/tasks/{supervise}", {"closing_note": "已约谈该行"}).status_code == 302
    assert rows(engine, sa.select(FinancingProblem.state, FinancingProblem.satisfied)) == [("closed", False)]
    topics = [r[0] for r in rows(engine, sa.select(OutboxMessage.topic))]
    assert {"financing_problem.filed", "financing_problem.answered", "financing_problem.escalated",
            "financing_problem.closed"} <= set(topics)
    listing = enterprise.get("/my/objections").get_data(as_text=True)
    assert "监管督办办结" in listing and "已约谈该行" in listing


def test_a_problem_about_no_application_is_answered_by_the_platform_and_confirmed(browser, engine, parties):
    enterprise, supervisor = browser("ent-user"), browser("supervisor")
    reported = enterprise.post("/my/problems/new", {"application": "", "category": "financing_cost",
                                                    "description": "利率偏高"})
    assert reported.status_code == 302, reported.get_data(as_text=True)
    answer = _open_task(engine, "Platform_Answer")
    assert f'href="/tasks/{answer}"' in supervisor.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{answer}"' not in browser("officer-a").get("/tasks").get_data(as_text=True)
    assert supervisor.post(f"/tasks/{answer}", {"answer": "可申请贴息产品"}).status_code == 302
    confirm = _open_task(engine, "Confirm")
    assert f'href="/tasks/{confirm}"' in enterprise.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{confirm}"' not in browser("other-user").get("/tasks").get_data(as_text=True)
    assert browser("other-user").get(f"/tasks/{confirm}").status_code == 404
    assert enterprise.post(f"/tasks/{confirm}", {"satisfied": "yes"}).status_code == 302
    assert rows(engine, sa.select(FinancingProblem.state, FinancingProblem.application_id)) == [("resolved", None)]
    assert _open_task(engine, "Supervise_Problem") is None


def test_another_enterprise_cannot_report_about_someone_elses_application(browser, engine, parties, submit):
    application_id = submit()
    reference = scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))
    refused = browser("other-user").post("/my/problems/new", {"application": reference, "category": "other",
                                                               "description": "x"})
    assert refused.status_code == 404
    assert rows(engine, sa.select(FinancingProblem.id)) == []
