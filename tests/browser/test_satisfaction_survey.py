"""In real Chromium: the enterprise answers the satisfaction follow-up (满意度回访) from its task list,
and the supervisors' board shows the follow-up's rates against the plan's targets."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.loans import services
from engine.models import LoanApplication, SurveyResponse
from engine.workflow.definitions import deploy
from tests.api.author_variants import with_satisfaction_follow_up
from tests.conftest import APPROVAL, scalar


def test_the_enterprise_answers_the_survey_and_the_board_counts_it(open_page, submit, engine, parties):
    with engine.transaction() as session:
        deploy(session, with_satisfaction_follow_up(), "author", engine.clock, operations=engine.operation_names())
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, dict(APPROVAL))
    services.disburse(engine, parties.officer_a, application_id, {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": date(2026, 9, 30)})
    reference = scalar(engine, sa.select(LoanApplication.reference))

    enterprise = open_page("ent-user", lang="zh")
    enterprise.get_by_role("link", name="待办任务").click()
    enterprise.get_by_role("row", name=re.compile(reference)).get_by_role("link", name="满意度调查").click()
    expect(enterprise.get_by_role("heading", level=1)).to_have_text("满意度调查")
    for legend, choice in (("服务态度", "非常满意"), ("融资办理效率", "满意"), ("便利性", "一般")):
        enterprise.get_by_role("radiogroup", name=legend).get_by_label(choice, exact=True).check()
    enterprise.get_by_label("意见建议").fill("希望进一步简化材料")
    enterprise.get_by_role("button", name="提交").click()
    expect(enterprise.locator("#field-financing_cost-error")).to_contain_text("必填。")
    expect(enterprise.get_by_role("radiogroup", name="服务态度").get_by_label("非常满意", exact=True)).to_be_checked()
    enterprise.get_by_role("radiogroup", name="实际融资成本").get_by_label("满意", exact=True).check()
    enterprise.get_by_role("button", name="提交").click()
    expect(enterprise.get_by_role("heading", level=1)).to_contain_text(reference)
    assert scalar(engine, sa.select(SurveyResponse.financing_cost)) == 4

    supervisor = open_page("supervisor", lang="zh")
    supervisor.goto("/supervision")
    expect(supervisor.get_by_role("heading", name="满意度回访")).to_be_visible()
    expect(supervisor.locator("#survey-invitation")).to_contain_text("100.0 %")
    expect(supervisor.locator("#survey-invitation")).to_contain_text("1 / 1，目标 80.0 %")
    expect(supervisor.locator("#survey-response")).to_contain_text("100.0 %")
    # 5, 4, 3 and 4 average exactly 4 (满意): a satisfied answer.
    expect(supervisor.locator("#survey-satisfaction")).to_contain_text("100.0 %")
    expect(supervisor.locator("#survey-satisfaction")).to_contain_text("1 / 1，目标 90.0 %")
