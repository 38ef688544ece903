"""Each role's main journey, clicked through in real Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.timers import sweep_due_timers


def _apply(page: Page, amount: str = "500000.00", purpose: str = "Working capital") -> str:
    page.goto("/my/applications")
    page.get_by_role("link", name="Apply for a loan").click()
    page.get_by_label("Institution and product").select_option(label="Product A")
    page.get_by_label("Amount (yuan)").fill(amount)
    page.get_by_label("Term (months)").fill("12")
    page.get_by_label("Purpose").fill(purpose)
    page.get_by_label("I authorize the query").check()
    page.get_by_role("button", name="Submit the application").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Submitted")
    return heading.inner_text().split(" ")[0]


def _status(page: Page, reference: str, status: str) -> None:
    page.goto(f"/my/applications/{reference}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{reference} — {status}")


def test_the_enterprise_applies_and_follows_each_step_officer_a_takes(open_page):
    enterprise = open_page("ent-user")
    reference = _apply(enterprise)
    expect(enterprise.get_by_text("The bank must accept by 2026-10-10 24:00.")).to_be_visible()
    enterprise.goto("/my/applications")
    expect(enterprise.get_by_role("row", name=re.compile(reference))).to_contain_text("Submitted")

    officer = open_page("officer-a")
    officer.goto("/inbox")
    row = officer.locator("tr", has_text=reference)
    expect(row).to_contain_text("Accept")
    row.get_by_role("button", name="Claim").click()
    expect(officer.locator("tr", has_text=reference)).to_contain_text("officer-a")
    officer.get_by_role("link", name=reference).click()

    diagram = officer.locator("#process-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true")
    expect(officer.locator('[data-element-id="Accept"].position-active')).to_have_count(1)

    officer.get_by_role("button", name="Accept the application").click()
    expect(officer.get_by_role("status").first).to_have_text("Saved.")
    _status(enterprise, reference, "Accepted")
    expect(enterprise.locator('[data-element-id="Decide"].position-active')).to_have_count(1)
    expect(enterprise.locator('[data-element-id="Accept"].position-done')).to_have_count(1)

    officer.get_by_label("Credit amount (yuan)").fill("400000.00")
    officer.get_by_label("Annual rate, percent").fill("3.85")
    officer.get_by_label("Term (months)").fill("12")
    officer.get_by_role("button", name="Report the decision").click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Approved")
    _status(enterprise, reference, "Approved")
    expect(enterprise.get_by_text("Approved: 400000.00 yuan at 3.8500 % a year for 12 months.")).to_be_visible()

    officer.get_by_label("Contract number").fill("HT-2026-0001")
    officer.get_by_label("Amount (yuan)").fill("400000.00")
    officer.get_by_label("Date").fill("2026-09-30")
    officer.get_by_label("Account (optional)").fill("6222020200112233")
    officer.get_by_role("button", name="Report the disbursement").click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Disbursed")
    expect(officer.get_by_text("************2233")).to_be_visible()
    _status(enterprise, reference, "Disbursed")
    expect(enterprise.get_by_text("HT-2026-0001")).to_be_visible()

    officer.get_by_label("Settlement date").fill("2026-09-30")
    officer.get_by_role("button", name="Report the settlement").click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Settled")
    _status(enterprise, reference, "Settled")
    timeline = enterprise.locator("ol.timeline")
    for event in ("Application submitted", "Accepted by the bank", "Credit approved", "Loan disbursed",
                  "Loan settled"):
        expect(timeline).to_contain_text(event)
    expect(enterprise.locator('[data-element-id="End_Settled"].position-end')).to_have_count(1)


def test_a_rejection_needs_a_reason_which_the_enterprise_then_reads(open_page):
    enterprise = open_page("ent-user")
    reference = _apply(enterprise)
    officer = open_page("officer-a")
    officer.goto(f"/inbox/{reference}")
    officer.get_by_role("button", name="Accept the application").click()
    officer.get_by_label("Reject").check()
    officer.get_by_role("button", name="Report the decision").click()
    expect(officer.get_by_role("alert")).to_contain_text("Length must be between 1 and 1000.")
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Accepted")
    expect(officer.get_by_label("Reject")).to_be_checked()  # the input is kept

    officer.get_by_label("Reason (shown to the enterprise)").fill("Turnover too low for this amount")
    officer.get_by_role("button", name="Report the decision").click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text("Rejected")
    _status(enterprise, reference, "Rejected")
    expect(enterprise.get_by_text("Reason given by the bank: Turnover too low for this amount")).to_be_visible()


def test_the_supervisor_sees_a_breach_appear_once_the_clock_passes_the_deadline(open_page, engine, clock):
    reference = _apply(open_page("ent-user"))
    supervisor = open_page("supervisor")
    supervisor.goto("/supervision")
    expect(supervisor.get_by_text(reference)).to_have_count(0)

    clock.advance(days=11)  # 2026-10-11 10:00, past the acceptance deadline of 2026-10-10 24:00
    sweep_due_timers(engine)
    supervisor.reload()
    row = supervisor.locator("tr", has_text=reference)
    expect(row).to_contain_text("Acceptance")
    expect(row).to_contain_text("2026-10-10 24:00")
    expect(supervisor.locator("#chart-breaches")).to_have_attribute("data-rendered", "true")
    expect(supervisor.locator("#chart-rates")).to_have_attribute("data-rendered", "true")

    row.get_by_role("link", name=reference).click()
    expect(supervisor.get_by_role("heading", level=1)).to_have_text(f"{reference} — Submitted")
    expect(supervisor.locator("#process-diagram")).to_have_attribute("data-rendered", "true")
    expect(supervisor.locator('[data-element-id="Accept_Deadline"].position-fired')).to_have_count(1)


def test_switching_the_language(open_page):
    page = open_page(lang="zh")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto("/")  # the choice is kept while browsing
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("融资信用服务平台贷款申请")
