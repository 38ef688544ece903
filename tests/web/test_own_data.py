"""The enterprise's own data (免费查询): its authorizations, what the banks reported, and the access log —
institutions named, never their staff, reads one line per institution and Beijing day — and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import LoanApplication
from engine.platform import authorizations
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, cst, scalar

FORMULA = '=HYPERLINK("http://evil.example","click")'


def _apply(browser, parties, engine) -> str:
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "Working capital", "authorize": "yes"})
    return scalar(engine, sa.select(LoanApplication.reference).order_by(LoanApplication.id.desc()).limit(1))


@pytest.fixture
def history(browser, parties, engine, clock):
    """A loan read, revealed, approved, disbursed and settled; a second application accepted late and rejected
    with a reason a spreadsheet would run."""
    settled = _apply(browser, parties, engine)
    officer, admin = browser("officer-a"), browser("bank-admin-a")
    officer.get(f"/inbox/{settled}")
    clock.advance(hours=1)
    admin.get(f"/inbox/{settled}")  # a colleague: the same institution, the same day, the same line
    officer.post(f"/inbox/{settled}/contact")  # a read and a reveal
    services.accept(engine, parties.officer_a, settled)
    services.approve(engine, parties.officer_a, settled, APPROVAL)
    services.disburse(engine, parties.officer_a, settled, {
        "contract_number": "HT-2026-001", "amount": Decimal("400000.00"), "disbursed_on": date(2026, 9, 30),
        "account": "6222021234567890123"})
    clock.set(cst("2026-10-01 09:00"))
    browser("officer-a").get(f"/inbox/{settled}")  # the next Beijing day: a line of its own
    services.settle(engine, parties.officer_a, settled, {"settled_on": date(2026, 10, 1)})
    rejected = _apply(browser, parties, engine)
    clock.set(cst("2026-10-11 00:00"))  # past the acceptance deadline (2026-10-10 24:00): a breach
    sweep_due_timers(engine)
    services.accept(engine, parties.officer_a, rejected)
    services.reject(engine, parties.officer_a, rejected, {"reason": FORMULA})
    authorizations.revoke(engine, parties.enterprise, rejected)
    return settled, rejected


def test_the_data_page_shows_authorizations_reports_and_the_grouped_access_log(browser, history):
    settled, rejected = history
    page = browser("ent-user").get("/my/data?lang=en").get_data(as_text=True)
    authorizations_part = page.split('id="authorizations"')[1].split("</section>")[0]
    assert settled in authorizations_part and rejected in authorizations_part
    assert 'data-status="closed"' in authorizations_part and 'data-status="revoked"' in authorizations_part
    reports = page.split('id="reports"')[1].split("</section>")[0]
    for words in ("Accepted by the bank", "Credit approved", "400,000.00 yuan at 3.85 % a year for 12 months",
                  "Loan disbursed", "400,000.00 yuan on 2026-09-30, contract HT-2026-001, account ***************0123",
                  "Loan settled", "Settled on 2026-10-01", "Deadline missed",
                  "Acceptance deadline 2026-10-10 24:00 missed", "Reason: " + FORMULA):
        assert words.replace('"', "&#34;") in reports or words in reports, words
    log = page.split('id="access-log"')[1].split("</section>")[0]
    assert "Read the application record 3 times (first 10:00, last 11:00)" in log  # officer twice, admin once
    assert "Read the application record 1 times (first 09:00, last 09:00)" in log
    assert "Showed the contact data in full: ID number, Contact phone" in log
    assert "purpose: Handling the application" in log
    assert "The application and its authorization were sent to the institution" in log
    assert log.count("Bank A") == 5  # two read lines, a reveal and the two applications sent
    assert "officer-a" not in page and "bank-admin-a" not in page  # the institution, never the person


def test_the_data_page_is_in_chinese_by_default(browser, history):
    page = browser("ent-user").get("/my/data").get_data(as_text=True)
    assert "我的数据" in page and "查询记录" in page and "征信查询授权" in page and "银行报送的信息" in page


def test_another_enterprise_sees_only_its_own(browser, history):
    settled, rejected = history
    other = browser("other-user")
    page = other.get("/my/data").get_data(as_text=True)
    assert settled not in page and rejected not in page and "Bank A" not in page
    exported = other.get("/my/data/export.csv").get_data(as_text=True)
    assert settled not in exported and rejected not in exported
    assert other.get(f"/my/data/authorizations/{settled}/revoke").status_code == 404


def test_the_export_neutralises_formula_cells_and_lists_everything(browser, history):
    settled, rejected = history
    response = browser("ent-user").get("/my/data/export.csv?lang=en")
    assert response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["Section", "Application", "Institution", "Item", "Time (Beijing)", "Count", "Details"]
    sections = {row[0] for row in table[1:]}
    assert sections == {"Application", "Authorization", "Reported by the bank", "Access log"}
    rejection = next(row for row in table if row[0] == "Reported by the bank" and row[3] == "Rejected")
    assert rejection[6] == "Reason: " + FORMULA  # not at the cell's start: harmless as it is
    reads = [row for row in table if row[0] == "Access log" and row[3] == "reads"]
    assert [row[5] for row in reads] == ["1", "3"] and all(row[2] == "Bank A" for row in reads)
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in table for cell in row)


def test_a_purpose_starting_like_a_formula_is_quoted_in_the_export(browser, parties, engine):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    reference = scalar(engine, sa.select(LoanApplication.reference))
    with engine.transaction() as session:  # a scope someone's system sent over the API
        session.execute(sa.text("UPDATE credit_authorization SET scope = :scope"), {"scope": "=1+1"})
    exported = browser("ent-user").get("/my/data/export.csv").get_data(as_text=True)
    assert "'=1+1" in exported and reference in exported
