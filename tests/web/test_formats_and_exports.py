"""Money, rates and times as Chinese readers expect them; actors in words; CSV cells that cannot run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from engine.loans import services
from engine.models import Institution, LoanApplication
from engine.workflow.timers import sweep_due_timers
from tests.conftest import cst
from web.csv_export import neutralised
from web.formatting import actor_label, amount, beijing, deadline, rate, yuan

ATTACKS = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\tx", "\rx"]


def test_money_rates_and_instants_are_formatted_for_chinese_readers():
    assert amount(Decimal("1234567")) == "1,234,567.00" and yuan(Decimal("1234567.5")) == "¥1,234,567.50"
    assert rate(Decimal("3.8500")) == "3.85 %" and rate(Decimal("3.875")) == "3.875 %" and rate(4) == "4.00 %"
    assert beijing(datetime(2026, 9, 30, 16, 30, tzinfo=UTC)) == "2026-10-01 00:30"
    assert deadline(datetime(2026, 10, 10, 16, 0, tzinfo=UTC)) == "2026-10-10 24:00"


def test_internal_actor_names_become_words(web_app):
    with web_app.test_request_context("/?lang=zh"):
        assert actor_label("system:timer") == "期限计时器（平台）" and actor_label("system:seed") == "平台初始化"
        assert actor_label("system:BANK-A:ab12cd34") == "机构系统（接口）"
        assert actor_label("user:officer-a") == "officer-a"


def test_formula_cells_are_neutralised():
    assert [neutralised(cell) for cell in ATTACKS] == ["'" + cell for cell in ATTACKS]
    assert neutralised("LA2026") == "LA2026" and neutralised(3) == 3 and neutralised("") == ""


def test_the_breach_csv_has_beijing_times_translated_kinds_and_no_formulas(browser, parties, engine, clock):
    with engine.transaction() as session:  # an institution name a spreadsheet would run
        session.get(Institution, parties.bank_a_id).name = "=cmd|' /C calc'!A0"
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
        "purpose": "x", "authorize": "yes"})  # 2026-09-30 10:00, accept due 2026-10-10 24:00 Beijing
    clock.set(cst("2026-10-11 09:15"))
    sweep_due_timers(engine)
    response = browser("supervisor").get("/supervision/breaches.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][3] == "截止时间（北京时间）"
    reference, institution, kind, due, breached, provisional, resolved, late = rows[1]
    assert institution == "'=cmd|' /C calc'!A0" and kind == "受理" and provisional == "否"
    assert due == "2026-10-10 24:00" and breached == "2026-10-11 09:15" and resolved == ""


def test_pages_show_grouped_money_rates_and_actors_in_words(browser, parties, engine, clock):
    browser("ent-user").post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "1234567.89", "term_months": "12",
        "purpose": "x", "authorize": "yes"})
    with engine.reading() as session:
        reference = session.scalar(sa.select(LoanApplication.reference))
    clock.set(cst("2026-10-11 09:00"))
    sweep_due_timers(engine)  # the acceptance deadline passes: recorded by system:timer
    services.accept(engine, parties.officer_a, reference)
    services.approve(engine, parties.officer_a, reference, {
        "amount": Decimal("1000000.00"), "annual_rate": Decimal("3.85"), "term_months": 12})
    page = browser("officer-a").get(f"/inbox/{reference}").get_data(as_text=True)
    assert "1,234,567.89" in page and "1,000,000.00" in page and "3.85 %" in page
    assert "期限计时器（平台）" in page and "system:" not in page
    search = browser("officer-a").get(f"/inbox?q={reference}").get_data(as_text=True)
    assert "1,234,567.89" in search and "2026-09-30 10:00" in search  # submitted, in Beijing time


def test_the_language_switch_keeps_the_filters_of_the_page(browser):
    html = browser("supervisor").get("/supervision?institution=1&kind=accept&open=1").get_data(as_text=True)
    english = html.split('hreflang="en"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert english.startswith("/supervision?") and {"institution=1", "kind=accept", "open=1", "lang=en"} == set(
        english.split("?")[1].split("&"))
