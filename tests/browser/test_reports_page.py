"""The reports page in Chromium: the charts are drawn from our own scripts under the CSP, over the same figures."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.report_helpers import take_the_quarter


def test_a_supervisor_picks_a_quarter_and_sees_its_charts_and_tables(open_page, engine, parties, submit, clock):
    take_the_quarter(engine, parties, submit, clock)
    supervisor = open_page("supervisor", lang="zh")
    supervisor.get_by_role("link", name="统计报表").click()
    expect(supervisor.locator("#report-period")).to_have_value("2026-12")  # the last closed month
    supervisor.select_option("#report-kind", "quarter")
    supervisor.get_by_role("button", name="查看").click()
    expect(supervisor.locator("#report-period")).to_have_value("2026-Q4")
    for chart in ("#chart-on-time", "#chart-success", "#chart-regions"):
        expect(supervisor.locator(chart)).to_have_attribute("data-rendered", "true")
    success = supervisor.locator("#report-success tbody tr").first
    expect(success).to_contain_text("全平台")
    expect(success).to_contain_text("50.0 %")
    with supervisor.expect_download() as download:
        supervisor.locator("#download-xlsx").click()
    assert download.value.suggested_filename == "report-2026-Q4.xlsx"


def test_an_officer_finds_only_their_own_institution(open_page, engine, parties, submit, clock):
    take_the_quarter(engine, parties, submit, clock)
    officer = open_page("officer-b")
    officer.goto("/reports?kind=quarter&period=2026-Q4")
    expect(officer.locator("#report-heading")).to_contain_text("Bank B")
    expect(officer.locator("#report-steps tbody tr")).to_have_count(1)
    expect(officer.locator("#report-institution")).to_have_count(0)
