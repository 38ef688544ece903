"""In real Chromium: a task an author added in the model only (担保审查, the guarantee review of
tests/api/author_variants.py) is worked from the generic task pages, shows in its institution's inbox
only, and its missed deadline reaches the supervisors' board and the breach ledger — no code changed.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from engine.loans import services
from engine.models import LoanApplication, SlaBreach
from engine.workflow.definitions import deploy
from engine.workflow.timers import sweep_due_timers
from tests.api.author_variants import GUARANTEE_FORM, with_guarantee_review
from tests.conftest import rows, scalar

# The clock starts at 2026-09-30 10:00 Beijing time and the bank accepts at once. Two working days from
# then, past the National Day holidays (10-01 to 10-07), end with Friday 2026-10-09.
GUARANTEE_BY = "2026-10-09 24:00"
TASK_ID = re.compile(r"/tasks/(\d+)$")


@pytest.fixture
def guarantee_model(engine):
    """The shipped loan model plus 担保审查, deployed by an author as the next version (no code)."""
    with engine.transaction() as session:
        definition = deploy(session, with_guarantee_review(), "author", engine.clock,
                            forms={"guarantee_review": GUARANTEE_FORM}, reason="担保审查（省方案）",
                            operations=engine.operation_names())
        assert definition.version == 2
        return definition.version


@pytest.fixture
def accepted_case(engine, parties, submit, guarantee_model):
    """An application by the enterprise to bank A, accepted through the banks' façade; its reference."""
    def make() -> str:
        application_id = submit()
        services.accept(engine, parties.officer_a, application_id, {"note": "资料齐全"})
        return scalar(engine, sa.select(LoanApplication.reference).where(LoanApplication.id == application_id))
    return make


def _heading(page: Page):
    return page.get_by_role("heading", level=1)


def _task_rows(page: Page, reference: str):
    """The rows of /tasks (freshly loaded, its heading checked) for the application `reference`."""
    page.goto("/tasks")
    expect(_heading(page)).to_have_text("待办任务")
    return page.get_by_role("row", name=re.compile(reference))


def test_the_officer_works_the_authors_new_task_from_the_task_pages(open_page, engine, parties, accepted_case):
    reference = accepted_case()
    officer = open_page("officer-a", lang="zh")

    officer.get_by_role("link", name="待办任务").click()
    row = officer.get_by_role("row", name=re.compile(reference))
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name="担保审查")).to_be_visible()
    expect(row).to_contain_text(GUARANTEE_BY)
    expect(row).to_contain_text("剩余 2 个工作日")
    expect(row).not_to_contain_text("审贷决定")  # the decision is not open before the review is done
    row.get_by_role("link", name="担保审查").click()
    expect(_heading(officer)).to_have_text("担保审查")
    task_path = TASK_ID.search(officer.url)
    assert task_path, officer.url
    facts = officer.locator("dl.facts")
    expect(facts).to_contain_text(reference)
    expect(facts).to_contain_text(f"时限{GUARANTEE_BY} 剩余 2 个工作日")
    expect(facts).to_contain_text("第 2 版")
    expect(officer.get_by_role("region", name="任务说明")).to_contain_text("担保审查。")  # the model's text

    officer.get_by_role("button", name="提交").click()  # nothing filled in
    expect(_heading(officer)).to_have_text("担保审查")
    expect(officer.locator("#field-guarantee_ok-error")).to_have_text("必填。")
    expect(officer.locator("#field-guarantor-error")).to_have_text("必填。")
    expect(officer.get_by_label("担保机构")).to_have_attribute("aria-invalid", "true")

    officer.get_by_label("担保机构").fill("湖南省融资担保集团")
    officer.get_by_role("button", name="提交").click()  # the guarantor given, the choice still missing
    expect(officer.locator("#field-guarantee_ok-error")).to_have_text("必填。")
    expect(officer.locator("#field-guarantor-error")).to_have_count(0)
    expect(officer.get_by_label("担保机构")).to_have_value("湖南省融资担保集团")  # what was typed is kept
    officer.screenshot(path="/tmp/author_change_task_refused.png", full_page=True)
    assert scalar(engine, sa.select(LoanApplication.status).where(
        LoanApplication.reference == reference)) == "accepted"

    officer.get_by_label("已落实").check()
    officer.get_by_role("button", name="提交").click()
    expect(_heading(officer)).to_have_text(f"{reference} — 已受理")  # back on the case's page
    expect(officer.get_by_role("status").first).to_have_text("任务“担保审查”已办结。")

    rows_now = _task_rows(officer, reference)
    expect(rows_now).to_have_count(1)
    expect(rows_now.get_by_role("link", name="审贷决定")).to_be_visible()
    expect(rows_now.get_by_role("link", name="担保审查")).to_have_count(0)
    officer.goto(f"/tasks/{task_path.group(1)}")  # the review itself says it is done, and by whom
    expect(officer.get_by_role("status").first).to_contain_text("该任务已不在待办中")
    expect(officer.get_by_role("button", name="提交")).to_have_count(0)


def test_only_the_handling_institution_sees_the_new_task(open_page, accepted_case):
    reference = accepted_case()
    officer = open_page("officer-a", lang="zh")
    mine = _task_rows(officer, reference)
    expect(mine.get_by_role("link", name="担保审查")).to_have_count(1)
    task_url = mine.get_by_role("link", name="担保审查").get_attribute("href")
    assert task_url and TASK_ID.search(task_url), task_url

    for username in ("officer-b", "ent-user"):
        other = open_page(username, lang="zh")
        expect(_task_rows(other, reference)).to_have_count(0)
        expect(other.get_by_role("table")).to_contain_text("暂无待办任务。")
        other.goto(task_url)  # nor can they open it by its address
        expect(_heading(other)).not_to_have_text("担保审查")
        expect(other.locator("#task-form")).to_have_count(0)

    english = open_page("officer-a", lang="en")  # the form's English labels come from the model too
    english.goto(task_url)
    expect(english.locator("dl.facts")).to_contain_text(f"{GUARANTEE_BY} 2 working days left")
    expect(english.get_by_label("Guarantor")).to_be_visible()
    expect(english.get_by_role("radiogroup", name="Guarantee in place")).to_contain_text("Not in place")


def test_a_missed_guarantee_deadline_is_a_breach_against_the_handling_institution(
        open_page, engine, clock, parties, accepted_case):
    reference = accepted_case()
    supervisor = open_page("supervisor", lang="zh")
    expect(_heading(supervisor)).to_have_text("监管")
    breach_table = supervisor.locator("table", has=supervisor.get_by_role("columnheader", name="超时时间"))
    expect(breach_table).to_contain_text("暂无超时记录。")

    clock.advance(days=10)  # 2026-10-10 10:00: past 2026-10-09 24:00, the review still open
    assert sweep_due_timers(engine).claimed >= 1
    [(kind, institution_id, resolved_at)] = rows(engine, sa.select(
        SlaBreach.kind, SlaBreach.institution_id, SlaBreach.resolved_at).join(
        LoanApplication, LoanApplication.id == SlaBreach.application_id).where(LoanApplication.reference == reference))
    assert (kind, institution_id, resolved_at) == ("guarantee", parties.bank_a_id, None)

    supervisor.reload()
    expect(supervisor.locator(".figure", has_text="未解决的超时记录").locator("strong")).to_have_text("1")
    institutions = supervisor.locator("table", has=supervisor.get_by_role("columnheader", name="未解决超时"))
    expect(institutions.get_by_role("row", name=re.compile("^Bank A")).get_by_role("cell").nth(7)).to_have_text("1")
    expect(institutions.get_by_role("row", name=re.compile("^Bank B")).get_by_role("cell").nth(7)).to_have_text("0")
    row = breach_table.get_by_role("row", name=re.compile(reference))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(GUARANTEE_BY)
    expect(row).to_contain_text("2026-10-10 10:00")  # recorded when the sweep found it, by the clock
    supervisor.screenshot(path="/tmp/author_change_board.png", full_page=True)

    supervisor.get_by_label("金融机构", exact=True).select_option(label="Bank A")  # held against bank A …
    supervisor.get_by_role("button", name="筛选").click()
    expect(breach_table.get_by_role("row", name=re.compile(reference))).to_have_count(1)
    supervisor.get_by_label("金融机构", exact=True).select_option(label="Bank B")  # … not bank B
    supervisor.get_by_role("button", name="筛选").click()
    expect(breach_table).to_contain_text("暂无超时记录。")
    expect(breach_table.get_by_role("row", name=re.compile(reference))).to_have_count(0)

    supervisor.goto(f"/supervision/applications/{reference}")
    expect(_heading(supervisor)).to_have_text(f"{reference} — 已受理")
    expect(supervisor.locator("ol.timeline li", has_text="超过时限")).to_contain_text("超时")

    officer = open_page("officer-a", lang="zh")  # the review stays open, shown overdue in the inbox
    late = _task_rows(officer, reference)
    expect(late.get_by_role("link", name="担保审查")).to_have_count(1)
    expect(late).to_contain_text("逾期")


def test_the_board_does_not_call_a_guarantee_breach_a_credit_decision(open_page, engine, clock, accepted_case):
    reference = accepted_case()
    clock.advance(days=10)
    sweep_due_timers(engine)
    supervisor = open_page("supervisor", lang="zh")
    breach_table = supervisor.locator("table", has=supervisor.get_by_role("columnheader", name="超时时间"))
    row = breach_table.get_by_role("row", name=re.compile(reference))
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(1)).to_have_text("担保审查")  # the model's name for its commitment
    supervisor.goto("/supervision?lang=en")
    english_row = supervisor.get_by_role("row", name=re.compile(reference))
    expect(english_row).to_have_count(1)
    expect(english_row.get_by_role("cell").nth(1)).to_have_text("Guarantee review")
    supervisor.goto("/supervision?lang=zh&kind=guarantee")  # the model's commitment is a filter of its own
    expect(supervisor.get_by_role("combobox").nth(1)).to_have_value("guarantee")
    expect(supervisor.get_by_role("row", name=re.compile(reference))).to_have_count(1)
    supervisor.goto("/supervision?kind=accept")
    expect(supervisor.get_by_role("row", name=re.compile(reference))).to_have_count(0)
