"""The plan's period reports, from applications taken through the engine across National Day 2026.

Hand-computed figures (Beijing dates; 2026-10-01..07 are holidays, Saturday 10-10 a make-up workday):
- X1 (Ent → bank A): submitted and accepted 09-30 (term 36); approved 10-09 (300,000 at 3.85 %, 24 months,
  credit, first loan); disbursed 250,000 on 10-09.
- X2 (Ent → bank A): submitted 10-09; accepted and approved 10-12 (200,000 at 4.35 %, 12 months,
  guaranteed, not a first loan); its disbursement deadline (5 working days) passes; disbursed 10-21, late.
- X3 (Other → bank A): submitted 10-09; accepted and rejected 10-12.
- X4 (Ent → bank B): submitted 10-09; its acceptance deadline (10-13 24:00) passes; accepted 10-15, late.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.loans.reports import periods
from engine.loans.reports.figures import Report
from engine.loans.reports.queries import compute
from tests.conftest import cst
from tests.report_helpers import take_the_quarter

TARGETS = {2026: Decimal("150000000000.00")}


def report_of(engine, kind, key, institution_id=None) -> Report:
    with engine.reading() as session:
        calendar = engine.calendars.get(session)
        return compute(session, calendar, periods.parse(kind, key), engine.clock.now(),
                       institution_id=institution_id, targets=TARGETS)


@pytest.fixture
def quarter(engine, parties, submit, clock):
    return take_the_quarter(engine, parties, submit, clock)


def test_each_institutions_steps_amounts_and_on_time_rates(engine, parties, quarter):
    report = report_of(engine, periods.QUARTER, "2026-Q4")
    bank_a, bank_b = report.institutions
    a, b = bank_a.figures, bank_b.figures
    assert (bank_a.institution_id, bank_b.institution_id) == (parties.bank_a_id, parties.bank_b_id)
    assert (a.received, a.accepted, a.decided, a.approved, a.rejected, a.disbursed, a.settled) == (2, 2, 3, 2, 1, 2, 0)
    assert [a.on_time_rate(kind) for kind in ("accept", "decision", "disbursement")] == [1.0, 1.0, 0.5]
    assert a.breaches == {"disbursement": 1}
    assert (a.amount_approved, a.amount_disbursed) == (Decimal("500000.00"), Decimal("450000.00"))
    # Weighted by the amount disbursed: (250,000 × 3.85 + 200,000 × 4.35) / 450,000 = 4.07222…
    assert a.average_rate == Decimal("4.0722")
    assert (b.received, b.accepted, b.on_time_rate("accept"), b.breaches) == (1, 1, 0.0, {"accept": 1})
    assert b.on_time_rate("decision") is None and b.average_rate is None


def test_median_working_days_per_step_skip_national_day(engine, quarter):
    report = report_of(engine, periods.QUARTER, "2026-Q4")
    a, b = (scope.figures for scope in report.institutions)
    # Acceptance: X2 and X3 10-09 → 10-12 count 10-10 (make-up Saturday) and 10-12: 2 each.
    assert a.median_working_days("accept") == 2.0
    # Decision: X1 accepted 09-30, decided 10-09: nine calendar days but only 10-08 and 10-09 count (2);
    # X2 and X3 the same day (0).
    assert a.step_days["decision"] == {2: 1, 0: 2} and a.median_working_days("decision") == 0.0
    # Disbursement: X1 the same day (0); X2 10-12 → 10-21: 13, 14, 15, 16, 19, 20, 21 (7).
    assert a.step_days["disbursement"] == {0: 1, 7: 1} and a.median_working_days("disbursement") == 3.5
    # X4 10-09 → 10-15: 10, 12, 13, 14, 15 (5).
    assert b.median_working_days("accept") == 5.0
    platform = report.platform.figures
    assert platform.step_days["accept"] == {2: 2, 5: 1} and platform.median_working_days("accept") == 2.0


def test_loan_success_rate_counts_each_enterprise_once(engine, quarter):
    report = report_of(engine, periods.QUARTER, "2026-Q4")
    a, b = (scope.figures for scope in report.institutions)
    assert (a.enterprises_applied, a.enterprises_obtained, a.loan_success_rate) == (2, 1, 0.5)
    assert (b.enterprises_applied, b.enterprises_obtained, b.loan_success_rate) == (1, 0, 0.0)
    platform = report.platform.figures
    # Ent applied twice (X2 at bank A, X4 at bank B) and counts once: 2 enterprises, not 3.
    assert (platform.enterprises_applied, platform.enterprises_obtained, platform.loan_success_rate) == (2, 1, 0.5)
    assert platform.approval_rate == 2 / 3  # approved ÷ decided: another measure


def test_the_loan_must_be_disbursed_by_the_end_of_the_period(engine, quarter):
    """September: Ent applied (X1) but its loan came in October, after the month closed."""
    september = report_of(engine, periods.MONTH, "2026-09").platform.figures
    assert (september.received, september.accepted, september.enterprises_applied) == (1, 1, 1)
    assert (september.enterprises_obtained, september.loan_success_rate) == (0, 0.0)
    assert september.step_days == {"accept": {0: 1}}
    year = report_of(engine, periods.YEAR, "2026").platform.figures
    assert (year.received, year.enterprises_applied, year.enterprises_obtained) == (4, 2, 1)


def test_first_credit_and_medium_long_loans(engine, quarter):
    platform = report_of(engine, periods.QUARTER, "2026-Q4").platform.figures
    assert (platform.first_loans, platform.first_loan_amount) == (1, Decimal("250000.00"))
    assert (platform.credit_loans, platform.credit_loan_amount) == (1, Decimal("250000.00"))
    # X1's 24 months is medium or long term (over a year), X2's 12 months is not.
    assert (platform.medium_long_loans, platform.medium_long_amount) == (1, Decimal("250000.00"))
    assert platform.share_of_disbursed(platform.credit_loan_amount) == pytest.approx(250000 / 450000)


def test_platform_totals_and_new_credit_against_the_target(engine, quarter):
    report = report_of(engine, periods.QUARTER, "2026-Q4")
    platform = report.platform.figures
    assert (platform.received, platform.accepted, platform.decided, platform.disbursed) == (3, 3, 3, 2)
    assert platform.on_time_rate("accept") == 2 / 3 and platform.on_time_rate("disbursement") == 0.5
    assert platform.breaches == {"accept": 1, "disbursement": 1} and platform.breaches_total == 2
    assert platform.new_credit_year_to_date == Decimal("500000.00")
    assert report.new_credit_target == Decimal("150000000000.00")
    assert report.new_credit_progress == pytest.approx(500000 / 150000000000)


def test_breakdowns_by_region_industry_and_product(engine, parties, quarter):
    report = report_of(engine, periods.QUARTER, "2026-Q4")

    def rows(scope, dimension):
        return [(row.key, row.received, row.enterprises_applied, row.enterprises_obtained, row.disbursed,
                 row.amount_disbursed) for row in scope.breakdowns[dimension]]

    platform = report.platform
    assert rows(platform, "region") == [("430100", 2, 1, 1, 2, Decimal("450000.00")),
                                        ("430200", 1, 1, 0, 0, Decimal("0.00"))]
    assert rows(platform, "industry") == [("C", 2, 1, 1, 2, Decimal("450000.00")),
                                          ("F", 1, 1, 0, 0, Decimal("0.00"))]
    assert rows(platform, "product") == [(str(parties.product_a_id), 2, 2, 1, 2, Decimal("450000.00")),
                                         (str(parties.product_b_id), 1, 1, 0, 0, Decimal("0.00"))]
    assert [row.label for row in platform.breakdowns["product"]] == ["Product A", "Product B"]
    bank_a = report.institutions[0]
    assert rows(bank_a, "region") == [("430100", 1, 1, 1, 2, Decimal("450000.00")),
                                      ("430200", 1, 1, 0, 0, Decimal("0.00"))]


def test_an_institutions_report_has_only_its_own_figures(engine, parties, quarter):
    whole = report_of(engine, periods.QUARTER, "2026-Q4")
    own = report_of(engine, periods.QUARTER, "2026-Q4", institution_id=parties.bank_b_id)
    assert own.platform is None and [scope.institution_id for scope in own.institutions] == [parties.bank_b_id]
    assert own.institutions[0].as_data() == whole.institutions[1].as_data()
    assert whole.for_institution(parties.bank_b_id).as_data() == own.as_data() | {
        "computed_at": whole.computed_at.isoformat()}


def test_a_report_survives_its_json(engine, quarter):
    report = report_of(engine, periods.QUARTER, "2026-Q4")
    again = Report.from_data(report.as_data())
    assert again.as_data() == report.as_data()
    assert again.platform.figures.median_working_days("disbursement") == 3.5


def test_an_empty_period_has_no_rates(engine, parties):
    report = report_of(engine, periods.MONTH, "2026-08")
    platform = report.platform.figures
    assert platform.received == 0 and platform.loan_success_rate is None and platform.average_rate is None
    assert platform.on_time_rate("accept") is None and platform.median_working_days("decision") is None
    assert [scope.figures.received for scope in report.institutions] == [0, 0]


def test_the_number_of_queries_does_not_grow_with_the_applications(engine, parties, quarter, submit, clock):
    def statements() -> int:
        seen = []
        bind = engine.session_factory.kw["bind"]
        listener = lambda *args: seen.append(1)  # noqa: E731
        sa.event.listen(bind, "before_cursor_execute", listener)
        try:
            report_of(engine, periods.QUARTER, "2026-Q4")
        finally:
            sa.event.remove(bind, "before_cursor_execute", listener)
        return len(seen)

    before = statements()
    clock.set(cst("2026-11-02 10:00"))
    for _ in range(3):
        submit()
    clock.set(cst("2027-01-04 09:00"))
    assert statements() == before
