"""In real Chromium: the enterprise objects to the reported rate (marked 有异议 on both sides), the bank corrects
it on its task page, and the enterprise's page shows the old value struck through beside the new one."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.loans import services
from engine.models import LoanApplication, RecordCorrection
from tests.conftest import APPROVAL, rows, scalar


def test_the_enterprise_objects_and_the_bank_corrects_old_to_new(open_page, submit, engine, parties):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, dict(APPROVAL))
    reference = scalar(engine, sa.select(LoanApplication.reference))

    enterprise = open_page("ent-user", lang="zh")
    enterprise.goto(f"/my/applications/{reference}")
    enterprise.locator("ul.objectable li", has_text="年利率").get_by_role("link", name="提出异议").click()
    expect(enterprise.get_by_role("heading", level=1)).to_have_text("提出异议")
    expect(enterprise.get_by_label("异议事项")).to_have_value("annual_rate")
    enterprise.get_by_label("异议理由").fill("合同约定年利率为3.65%")
    enterprise.get_by_role("button", name="提交异议").click()
    expect(enterprise.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(enterprise.locator('[data-disputed="annual_rate"]').first).to_have_text("有异议")

    bank = open_page("officer-a", lang="zh")
    bank.goto(f"/inbox/{reference}")
    expect(bank.locator('[data-disputed="annual_rate"]').first).to_be_visible()
    bank.goto("/tasks")
    bank.get_by_role("link", name=re.compile("答复异议")).first.click()
    expect(bank.get_by_role("heading", level=1)).to_have_text("答复异议")
    bank.get_by_role("radiogroup", name="答复").get_by_label("更正该数值", exact=True).check()
    bank.get_by_label("更正后的数值").fill("3.65")
    bank.get_by_label("理由或更正原因").fill("系统录入错误，已按合同更正")
    bank.get_by_role("button", name="提交").click()
    expect(bank.get_by_role("heading", level=1)).to_contain_text(reference)
    assert rows(engine, sa.select(RecordCorrection.old_value, RecordCorrection.new_value)) == [("3.8500", "3.6500")]

    enterprise.goto(f"/my/applications/{reference}")
    corrections = enterprise.locator("#corrections")
    expect(corrections.locator("del")).to_have_text("3.85 %")
    expect(corrections).to_contain_text("3.65 %")
    expect(corrections).to_contain_text("系统录入错误，已按合同更正")
    expect(enterprise.locator('[data-disputed="annual_rate"]')).to_have_count(0)
