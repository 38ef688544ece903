"""The satisfaction follow-up on pages: the enterprise answers the survey on its task page (errors in
Chinese), and the supervisors' board shows the invitation, response and satisfaction rates."""

from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from engine.loans import services
from engine.models import LoanApplication, SurveyResponse, TaskRow
from engine.workflow.definitions import deploy
from engine.workflow.timers import sweep_due_timers
from tests.api.author_variants import with_satisfaction_follow_up
from tests.conftest import APPROVAL, scalar

ANSWERS = {"service_attitude": "5", "efficiency": "4", "convenience": "5", "financing_cost": "4",
           "suggestions": "希望进一步简化材料"}


def _deploy_follow_up(engine) -> None:
    with engine.transaction() as session:
        deploy(session, with_satisfaction_follow_up(), "author", engine.clock, operations=engine.operation_names())


def _disbursed(engine, parties, submit) -> int:
    application_id = submit()
    officer = parties.officer_a
    services.accept(engine, officer, application_id)
    services.approve(engine, officer, application_id, dict(APPROVAL))
    services.disburse(engine, officer, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": date(2026, 9, 30)})
    return application_id


def _rejected(engine, parties, submit) -> int:
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.reject(engine, parties.officer_a, application_id, {"reason": "资料不全"})
    return application_id


def _survey_task(engine, application_id: int) -> int:
    return scalar(engine, sa.select(TaskRow.id).where(
        TaskRow.application_id == application_id, TaskRow.bpmn_id == "Survey", TaskRow.state == "open"))


def _error_of(html: str, key: str) -> str:
    match = re.search(rf'<span id="field-{key}-error" class="error" role="alert">([^<]*)</span>', html)
    assert match, f"no error shown for {key}"
    return match.group(1).strip()


def test_the_enterprise_answers_the_survey_on_its_task_page(browser, engine, parties, submit):
    _deploy_follow_up(engine)
    application_id = _disbursed(engine, parties, submit)
    reference = scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))
    task = _survey_task(engine, application_id)
    enterprise = browser("ent-user")

    listed = enterprise.get("/tasks").get_data(as_text=True)
    assert f'href="/tasks/{task}"' in listed and "满意度调查" in listed and "融资满意度回访" in listed
    assert "满意度调查答复" in listed  # the commitment its deadline measures
    assert f'href="/tasks/{task}"' not in browser("other-user").get("/tasks").get_data(as_text=True)
    assert browser("other-user").get(f"/tasks/{task}").status_code == 404
    assert f'href="/tasks/{task}"' not in browser("officer-a").get("/tasks").get_data(as_text=True)

    page = enterprise.get(f"/tasks/{task}").get_data(as_text=True)
    assert "<h1>满意度调查</h1>" in page and reference in page
    for label in ("服务态度", "融资办理效率", "便利性", "实际融资成本", "意见建议", "非常不满意", "非常满意"):
        assert label in page
    english = enterprise.get(f"/tasks/{task}?lang=en").get_data(as_text=True)
    assert "Satisfaction survey" in english and "Actual financing cost" in english and "Very satisfied" in english
    assert "<h1>满意度调查</h1>" in enterprise.get(f"/tasks/{task}?lang=zh").get_data(as_text=True)  # back to Chinese

    refused = enterprise.post(f"/tasks/{task}", {k: v for k, v in ANSWERS.items() if k != "efficiency"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert _error_of(html, "efficiency") == "必填。"
    assert 'value="5" checked' in html  # what was chosen is kept
    assert scalar(engine, sa.select(sa.func.count()).select_from(SurveyResponse)) == 0

    done = enterprise.post(f"/tasks/{task}", ANSWERS)
    assert done.status_code == 302, done.get_data(as_text=True)
    with engine.reading() as session:
        answer = session.scalars(sa.select(SurveyResponse)).one()
        assert (answer.service_attitude, answer.efficiency, answer.convenience, answer.financing_cost) == (5, 4, 5, 4)
        assert answer.suggestions == "希望进一步简化材料" and answer.answered_by == "ent-user"
        assert answer.institution_id == parties.bank_a_id
    assert scalar(engine, sa.select(TaskRow.state).where(TaskRow.id == task)) == "completed"
    # The case's timeline says it was answered, never how (the institution reads it).
    timeline = browser("officer-a").get(f"/inbox/{reference}").get_data(as_text=True)
    assert "企业已完成满意度调查" in timeline and "希望进一步简化材料" not in timeline


def _board_survey(html: str) -> dict[str, str]:
    figures = {}
    for name in ("invitation", "response", "satisfaction"):
        block = html.split(f'id="survey-{name}"')[1].split("</div></div>")[0]
        figures[name] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block.split(">", 1)[1])).strip()
    return figures


def test_the_board_shows_the_follow_ups_rates_against_the_plans_targets(browser, engine, parties, submit, clock):
    supervisor = browser("supervisor")
    empty = _board_survey(supervisor.get("/supervision").get_data(as_text=True))
    assert empty["invitation"] == "— 邀请率 0 / 0，目标 80.0 %"

    # Disbursed before the follow-up existed: due a survey, never invited.
    before = submit()
    with engine.transaction() as session:
        session.get(LoanApplication, before).status = "settled"
    _deploy_follow_up(engine)
    answered_happy, answered_unhappy = _disbursed(engine, parties, submit), _rejected(engine, parties, submit)
    unanswered = _disbursed(engine, parties, submit)
    submit()  # still open: due nothing
    enterprise = browser("ent-user")
    assert enterprise.post(f"/tasks/{_survey_task(engine, answered_happy)}", ANSWERS).status_code == 302  # avg 4.5
    assert enterprise.post(f"/tasks/{_survey_task(engine, answered_unhappy)}", {
        "service_attitude": "4", "efficiency": "4", "convenience": "4", "financing_cost": "3"}).status_code == 302
    clock.set(clock.now() + timedelta(days=30))
    sweep_due_timers(engine)  # the third survey ends unanswered
    assert _survey_task(engine, unanswered) is None

    figures = _board_survey(supervisor.get("/supervision").get_data(as_text=True))
    assert figures == {"invitation": "75.0 % 邀请率 3 / 4，目标 80.0 %",
                       "response": "66.7 % 有效回收率 2 / 3，目标 60.0 %",
                       "satisfaction": "50.0 % 满意度 1 / 2，目标 90.0 %"}
    page = supervisor.get("/supervision?lang=en").get_data(as_text=True)
    assert _board_survey(page) == {"invitation": "75.0 % Invitation rate 3 of 4; target 80.0 %",
                                   "response": "66.7 % Valid response rate 2 of 3; target 60.0 %",
                                   "satisfaction": "50.0 % Satisfaction 1 of 2; target 90.0 %"}
    assert 'class="red">75.0 %' in page and 'class="">66.7 %' in page and 'class="red">50.0 %' in page
    assert "average 4 (satisfied) or more" in page
    assert "<h2>Institutions</h2>" in page and "On-time acceptance" in page  # the board's own figures stay
