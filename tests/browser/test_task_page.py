"""In real Chromium: an officer works a case from the generic task page, its form drawn from the model."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from engine.models import LoanApplication
from tests.conftest import scalar


def test_the_officer_rejects_from_the_decision_task_page_with_a_reason(open_page, submit, engine):
    submit()
    reference = scalar(engine, sa.select(LoanApplication.reference))
    officer = open_page("officer-a", lang="zh")

    officer.get_by_role("link", name="待办任务").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("待办任务")
    officer.get_by_role("row", name=re.compile(reference)).get_by_role("link", name="受理").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("受理")
    officer.get_by_label("受理意见").fill("资料齐全")
    officer.get_by_role("button", name="提交").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text(f"{reference} — 已受理")
    expect(officer.get_by_role("status").first).to_have_text("任务“受理”已办结。")

    officer.get_by_role("link", name="待办任务").click()
    officer.get_by_role("row", name=re.compile(reference)).get_by_role("link", name="审贷决定").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text("审贷决定")
    amount, reason = officer.get_by_label("授信金额（元）"), officer.get_by_label("拒绝理由")
    expect(amount).to_be_visible()
    expect(reason).to_be_hidden()

    officer.get_by_label("拒绝", exact=True).check()  # task_form.js hides the approval's fields at once
    expect(amount).to_be_hidden()
    expect(officer.get_by_label("年利率（%）")).to_be_hidden()
    expect(reason).to_be_visible()
    expect(reason).to_be_enabled()
    officer.get_by_role("button", name="提交").click()
    expect(officer.locator("#field-reason-error")).to_contain_text("必填。")
    expect(officer.get_by_label("拒绝", exact=True)).to_be_checked()  # the choice is kept
    expect(amount).to_be_hidden()
    assert scalar(engine, sa.select(LoanApplication.status)) == "accepted"

    officer.get_by_label("拒绝理由").fill("经营流水不足以支持该金额")
    officer.get_by_role("button", name="提交").click()
    expect(officer.get_by_role("heading", level=1)).to_have_text(f"{reference} — 已拒绝")
    assert scalar(engine, sa.select(LoanApplication.status)) == "rejected"
    assert scalar(engine, sa.select(LoanApplication.rejection_reason)) == "经营流水不足以支持该金额"
