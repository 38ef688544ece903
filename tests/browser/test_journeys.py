"""Each role's main journey, clicked through in real Chromium against the live server."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.workflow.timers import sweep_due_timers
from tests.browser.conftest import login

# The clock starts at 2026-09-30 10:00 Beijing time; after the National Day holidays the third working
# day is the make-up workday of Saturday 2026-10-10, so the bank must accept by 2026-10-10 24:00.
ACCEPT_BY = "2026-10-10 24:00"


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _apply(page: Page, amount: str = "500000.00", purpose: str = "Working capital") -> str:
    """The enterprise applies through the form; returns the new application's reference."""
    page.goto("/my/applications")
    page.get_by_role("link", name="Apply for a loan").click()
    expect(_heading(page)).to_have_text("Apply for a loan")
    page.get_by_label("Institution and product").select_option(label="Product A")
    page.get_by_label("Amount (yuan)").fill(amount)
    page.get_by_label("Term (months)").fill("12")
    page.get_by_label("Purpose").fill(purpose)
    page.get_by_label("I authorize the query").check()
    page.get_by_role("button", name="Submit the application").click()
    expect(_heading(page)).to_have_text(re.compile(r"^\S+ — Submitted$"))
    return _heading(page).inner_text().split(" — ")[0]


def _open_task(page: Page, name: str) -> None:
    """From the application page, open the task `name` (its row's link) on the task page."""
    page.get_by_role("row", name=re.compile(name)).get_by_role("link", name="Open the task").click()
    expect(_heading(page)).to_have_text(name)


def _enterprise_sees(page: Page, reference: str, status: str) -> None:
    """The enterprise's page of the application, freshly loaded, shows `status`."""
    page.goto(f"/my/applications/{reference}")
    expect(_heading(page)).to_have_text(f"{reference} — {status}")


def test_the_enterprise_applies_and_follows_each_step_officer_a_takes(open_page):
    enterprise = open_page("ent-user")
    reference = _apply(enterprise)
    expect(enterprise.get_by_text(f"The bank must accept by {ACCEPT_BY}.")).to_be_visible()
    expect(enterprise.get_by_text("Amount (yuan): 500,000.00 · Term (months): 12")).to_be_visible()
    enterprise.get_by_role("link", name="My applications").click()
    row = enterprise.get_by_role("row", name=re.compile(reference))
    expect(row).to_contain_text("Submitted")
    expect(row).to_contain_text("500,000.00")
    expect(row).to_contain_text("2026-09-30 10:00")

    officer = open_page("officer-a")
    expect(_heading(officer)).to_have_text("Inbox")  # officers land on their inbox
    row = officer.get_by_role("row", name=re.compile(reference))
    expect(row).to_contain_text("Accept")
    expect(row).to_contain_text(ACCEPT_BY)
    row.get_by_role("button", name="Claim").click()
    row = officer.get_by_role("row", name=re.compile(reference))
    expect(row.get_by_role("button", name="Give back")).to_be_visible()
    expect(row).to_contain_text("officer-a")
    _enterprise_sees(enterprise, reference, "Submitted")  # claiming is the bank's own business
    row.get_by_role("link", name=reference).click()
    expect(_heading(officer)).to_have_text(f"{reference} — Submitted")

    diagram = officer.locator("#process-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true")
    expect(officer.locator('[data-element-id="Accept"].position-active')).to_have_count(1)

    tasks = officer.get_by_role("region", name="Open tasks of this application")
    row = tasks.get_by_role("row", name=re.compile("Accept"))
    expect(row).to_contain_text(ACCEPT_BY)
    expect(row).to_contain_text("officer-a")  # who holds it
    _open_task(officer, "Accept")
    officer.get_by_label("Note").fill("Documents complete")
    officer.get_by_role("button", name="Submit").click()
    expect(officer.get_by_role("status").first).to_have_text("Task “Accept” completed.")
    expect(_heading(officer)).to_have_text(f"{reference} — Accepted")
    _enterprise_sees(enterprise, reference, "Accepted")
    expect(enterprise.get_by_text(re.compile(r"The bank must decide by 2026-10-\d\d 24:00\."))).to_be_visible()
    expect(enterprise.locator('[data-element-id="Decide"].position-active')).to_have_count(1)
    expect(enterprise.locator('[data-element-id="Accept"].position-done')).to_have_count(1)

    _open_task(officer, "Credit decision")
    officer.get_by_label("Approve").check()
    officer.get_by_label("Credit amount (yuan)").fill("400000.00")
    officer.get_by_label("Annual rate (%)").fill("3.85")
    officer.get_by_label("Term (months)").fill("12")
    officer.get_by_role("button", name="Submit").click()
    expect(_heading(officer)).to_have_text(f"{reference} — Approved")
    _enterprise_sees(enterprise, reference, "Approved")
    expect(enterprise.get_by_text("Approved: 400,000.00 yuan at 3.85 % a year for 12 months.")).to_be_visible()
    expect(enterprise.get_by_role("button", name="Withdraw the application")).to_have_count(0)

    _open_task(officer, "Disbursement")
    officer.get_by_label("Contract (loan note) number").fill("HT-2026-0001")
    officer.get_by_label("Amount disbursed (yuan)").fill("400000.00")
    officer.get_by_label("Disbursed on").fill("2026-09-30")
    officer.get_by_label("Account").fill("6222020200112233")
    officer.get_by_role("button", name="Submit").click()
    expect(_heading(officer)).to_have_text(f"{reference} — Disbursed")
    expect(officer.get_by_text("************2233")).to_be_visible()  # the account number is masked
    _enterprise_sees(enterprise, reference, "Disbursed")
    expect(enterprise.get_by_text("HT-2026-0001")).to_be_visible()

    _open_task(officer, "Settlement")
    officer.get_by_label("Settlement date").fill("2026-09-30")
    officer.get_by_role("button", name="Submit").click()
    expect(_heading(officer)).to_have_text(f"{reference} — Settled")
    expect(officer.get_by_text("No open task for you on this application.")).to_be_visible()
    _enterprise_sees(enterprise, reference, "Settled")
    timeline = enterprise.locator("ol.timeline")
    for event in ("Application submitted", "Accepted by the bank", "Credit approved", "Loan disbursed",
                  "Loan settled"):
        expect(timeline).to_contain_text(event)
    expect(enterprise.locator('[data-element-id="End_Settled"].position-end')).to_have_count(1)

    officer.get_by_role("link", name="Inbox").click()
    expect(officer.get_by_role("row", name=re.compile(reference))).to_have_count(0)  # nothing left to do
    enterprise.get_by_role("link", name="My applications").click()
    expect(enterprise.get_by_role("row", name=re.compile(reference))).to_contain_text("Settled")


def test_a_rejection_needs_a_reason_which_the_enterprise_then_reads(open_page):
    enterprise = open_page("ent-user")
    reference = _apply(enterprise)
    officer = open_page("officer-a")
    officer.get_by_role("row", name=re.compile(reference)).get_by_role("link", name=reference).click()
    _open_task(officer, "Accept")
    officer.get_by_role("button", name="Submit").click()
    expect(_heading(officer)).to_have_text(f"{reference} — Accepted")

    _open_task(officer, "Credit decision")
    officer.get_by_label("Reject", exact=True).check()
    officer.get_by_role("button", name="Submit").click()
    expect(officer.locator("#field-reason-error")).to_contain_text("Required.")
    expect(_heading(officer)).to_have_text("Credit decision")  # still the task, nothing changed
    expect(officer.get_by_label("Reject", exact=True)).to_be_checked()  # the input is kept
    _enterprise_sees(enterprise, reference, "Accepted")
    expect(enterprise.get_by_text("Reason given by the bank")).to_have_count(0)

    officer.get_by_label("Reason for rejection").fill("Turnover too low for this amount")
    officer.get_by_role("button", name="Submit").click()
    expect(_heading(officer)).to_have_text(f"{reference} — Rejected")
    _enterprise_sees(enterprise, reference, "Rejected")
    expect(enterprise.get_by_text("Reason given by the bank: Turnover too low for this amount")).to_be_visible()
    expect(enterprise.locator("ol.timeline")).to_contain_text("Rejected")

    officer.get_by_role("link", name="My institution's record").click()
    expect(_heading(officer)).to_have_text("My institution's record — Bank A")
    expect(officer.locator(".figure", has_text="Approval rate").locator("strong")).to_have_text("0.0 %")
    expect(officer.locator("#chart-rates")).to_have_attribute("data-rendered", "true")


def test_the_supervisor_sees_a_breach_appear_once_the_clock_passes_the_deadline(open_page, engine, clock):
    reference = _apply(open_page("ent-user"))
    supervisor = open_page("supervisor")
    expect(_heading(supervisor)).to_have_text("Supervision")  # supervisors land on the board
    open_breaches = supervisor.locator(".figure", has_text="Unresolved SLA breaches").locator("strong")
    breach_rows = supervisor.locator("table", has=supervisor.get_by_role("columnheader", name="Breached at"))
    expect(open_breaches).to_have_text("0")
    expect(breach_rows).to_contain_text("No breaches.")
    expect(breach_rows.get_by_role("row", name=re.compile(reference))).to_have_count(0)

    clock.advance(days=10)  # 2026-10-10 10:00: the last day to accept, not over yet
    sweep_due_timers(engine)
    supervisor.reload()
    expect(open_breaches).to_have_text("0")
    expect(breach_rows).to_contain_text("No breaches.")

    clock.advance(days=1)  # 2026-10-11 10:00, past the acceptance deadline of 2026-10-10 24:00
    assert sweep_due_timers(engine).claimed >= 1
    supervisor.reload()
    expect(open_breaches).to_have_text("1")
    row = breach_rows.get_by_role("row", name=re.compile(reference))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Acceptance")
    expect(row).to_contain_text(ACCEPT_BY)
    expect(row).to_contain_text("2026-10-11 10:00")  # recorded when the sweep found it, by the clock
    expect(breach_rows).not_to_contain_text("No breaches.")
    expect(supervisor.locator("#chart-breaches")).to_have_attribute("data-rendered", "true")
    expect(supervisor.locator("#chart-rates")).to_have_attribute("data-rendered", "true")

    row.get_by_role("link", name=reference).click()
    expect(_heading(supervisor)).to_have_text(f"{reference} — Submitted")
    expect(supervisor.locator("#process-diagram")).to_have_attribute("data-rendered", "true")
    expect(supervisor.locator('[data-element-id="Accept_Deadline"].position-fired')).to_have_count(1)


def test_switching_the_language(open_page):
    page = open_page(lang="zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(_heading(page)).to_have_text("登录")
    page.get_by_role("link", name="English").click()
    expect(_heading(page)).to_have_text("Sign in")
    page.goto("/")  # the choice is kept while browsing
    expect(_heading(page)).to_have_text("Loan applications on the financing credit service platform")

    login(page, "ent-user")  # the English form; the choice survives signing in
    expect(_heading(page)).to_have_text("My applications")
    page.get_by_role("link", name="Apply for a loan").click()
    expect(_heading(page)).to_have_text("Apply for a loan")
    expect(page.get_by_role("button", name="Submit the application")).to_be_visible()

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(_heading(page)).to_have_text("申请贷款")
    expect(page.get_by_role("button", name="提交申请")).to_be_visible()
    page.get_by_role("link", name="我的申请").click()  # the header's link, in Chinese too
    expect(_heading(page)).to_have_text("我的申请")
    page.get_by_role("link", name="English").click()
    expect(_heading(page)).to_have_text("My applications")
