"""In real Chromium: the bank asks for supplementary material, the enterprise reads the request on its
own pages and answers, and the credit decision comes back to the bank — the shipped model's loop."""

from __future__ import annotations

import os
import re

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.loans import services
from engine.models import LoanApplication
from tests.conftest import scalar

SHOTS = os.environ.get("SCREENSHOT_DIR")  # set to look at the pages as a person would


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_the_bank_asks_for_material_and_the_enterprise_answers_in_the_browser(open_page, submit, engine, parties):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    reference = scalar(engine, sa.select(LoanApplication.reference))

    officer = open_page("officer-a", lang="zh")
    officer.goto("/tasks")
    officer.get_by_role("row", name=re.compile(reference)).get_by_role("link", name="审贷决定").click()
    requested = officer.get_by_label("需补充的材料")
    expect(requested).to_be_hidden()
    officer.get_by_label("要求补充材料").check()  # task_form.js shows the request's field at once
    expect(requested).to_be_visible()
    expect(officer.get_by_label("授信金额（元）")).to_be_hidden()
    _shot(officer, "decide_supplement_zh")
    officer.get_by_role("button", name="提交").click()
    expect(officer.get_by_text("必填。")).to_be_visible()  # the request must say what is needed
    officer.get_by_label("需补充的材料").fill("近三个月的银行流水")
    officer.get_by_role("button", name="提交").click()
    expect(officer.get_by_role("status").first).to_have_text("任务“审贷决定”已办结。")
    expect(officer.get_by_text("本申请暂无待您办理的任务。")).to_be_visible()
    expect(officer.locator("ol.timeline")).to_contain_text("要求补充材料")

    enterprise = open_page("ent-user", lang="zh")
    enterprise.goto(f"/my/applications/{reference}")
    expect(enterprise.get_by_text("金融机构须在")).to_have_count(0)  # the decision clock is paused
    _shot(enterprise, "enterprise_application_supplement_zh")
    enterprise.get_by_role("link", name="办理").click()
    expect(enterprise.get_by_role("heading", level=1)).to_have_text("补充材料")
    expect(enterprise.get_by_text("金融机构要求补充的材料：近三个月的银行流水")).to_be_visible()
    expect(enterprise.get_by_role("button", name="认领")).to_have_count(0)  # her own task: nothing to claim
    _shot(enterprise, "supplement_task_zh")
    enterprise.get_by_label("补充材料说明").fill("已在网点递交银行流水")
    enterprise.get_by_role("button", name="提交").click()
    expect(enterprise.get_by_role("status").first).to_have_text("任务“补充材料”已办结。")

    officer.goto("/tasks")
    expect(officer.get_by_role("row", name=re.compile(reference)).get_by_role("link", name="审贷决定")).to_be_visible()
    officer.goto(f"/inbox/{reference}")
    expect(officer.locator("ol.timeline")).to_contain_text("已补充材料")
