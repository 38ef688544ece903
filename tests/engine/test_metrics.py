"""The supervisors' figures, from applications taken through the engine across National Day 2026."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.loans import metrics, services
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, cst


def _reading(engine, fn, *args, **kwargs):
    with engine.reading() as session:
        return fn(session, *args, **kwargs)


@pytest.fixture
def history(engine, parties, submit, clock):
    """Bank A: on time (2 working days to decision), late acceptance (4), same day (0); bank B: breached."""
    officer = parties.officer_a
    on_time, late, same_day = submit(), submit(), submit()
    unanswered = submit(institution_id=parties.bank_b_id, product_id=parties.product_b_id)
    services.accept(engine, officer, on_time)
    services.accept(engine, officer, same_day)
    services.approve(engine, officer, same_day, APPROVAL)

    clock.set(cst("2026-10-09 10:00"))  # 10-01..10-07 are holidays: 10-08 and 10-09 are working days 1 and 2
    services.approve(engine, officer, on_time, {**APPROVAL, "amount": Decimal("300000.00")})
    services.disburse(engine, officer, on_time, {"contract_number": "HT-1", "amount": Decimal("250000.00"),
                                                 "disbursed_on": date(2026, 10, 9)})
    clock.set(cst("2026-10-10 12:00"))  # Saturday, a make-up workday: both acceptance deadlines end tonight
    due = _reading(engine, metrics.today, clock.now())
    assert (due.due_today, due.overdue, due.breaches_today) == (2, 0, 0)

    clock.set(cst("2026-10-11 08:00"))
    sweep_due_timers(engine)
    breached = _reading(engine, metrics.today, clock.now())
    assert (breached.due_today, breached.overdue, breached.breaches_today, breached.open_breaches) == (0, 2, 2, 2)

    clock.set(cst("2026-10-12 10:00"))  # Monday
    services.accept(engine, officer, late)
    services.reject(engine, officer, late, {"reason": "Too late anyway"})
    return {"unanswered": unanswered}


def test_todays_numbers(engine, clock, history):
    figures = _reading(engine, metrics.today, clock.now())
    assert figures.day == date(2026, 10, 12)
    assert (figures.open_applications, figures.due_today, figures.overdue) == (3, 0, 1)
    assert (figures.breaches_today, figures.open_breaches) == (0, 1)
    assert (figures.accepted, figures.accepted_on_time, figures.on_time_acceptance_rate) == (3, 2, 2 / 3)
    assert (figures.decided, figures.decided_on_time, figures.on_time_decision_rate) == (3, 3, 1.0)


def test_each_institutions_record(engine, parties, history):
    bank_a, bank_b = _reading(engine, metrics.institution_records)
    assert bank_a.institution.id == parties.bank_a_id
    assert (bank_a.applications, bank_a.accepted, bank_a.accepted_on_time) == (3, 3, 2)
    assert (bank_a.decided, bank_a.decided_on_time, bank_a.approved, bank_a.approval_rate) == (3, 3, 2, 2 / 3)
    assert bank_a.median_working_days_to_decision == 2.0  # of 0, 2 and 4
    assert (bank_a.amount_approved, bank_a.amount_disbursed) == (Decimal("700000.00"), Decimal("250000.00"))
    assert bank_a.open_breaches == 0
    assert (bank_b.applications, bank_b.accepted, bank_b.open_breaches) == (1, 0, 1)
    assert bank_b.on_time_acceptance_rate is None and bank_b.median_working_days_to_decision is None
    assert bank_b.amount_approved == Decimal("0.00")


def test_weekly_trend(engine, clock, parties, history):
    earlier, this_week = _reading(engine, metrics.weekly_trend, clock.now(), weeks=2)
    assert (earlier.start, this_week.start) == (date(2026, 10, 5), date(2026, 10, 12))
    assert (earlier.breaches, this_week.breaches) == (2, 0)  # both recorded on Sunday 10-11
    assert (earlier.accepted, this_week.accepted, this_week.accepted_late) == (0, 1, 1)
    assert this_week.on_time_acceptance_rate == 0.0 and earlier.on_time_acceptance_rate is None
    assert (earlier.decided, this_week.decided) == (1, 1)
    only_b = _reading(engine, metrics.weekly_trend, clock.now(), weeks=2, institution_id=parties.bank_b_id)
    assert [week.breaches for week in only_b] == [1, 0] and only_b[1].decided == 0


@pytest.mark.parametrize(("histogram", "median"), [
    ({}, None), ({3: 1}, 3.0), ({1: 1, 3: 1}, 2.0), ({0: 1, 2: 1, 4: 1}, 2.0), ({1: 5, 10: 1}, 1.0),
    ({1: 2, 10: 2}, 5.5), ({2: 3, 7: 4}, 7.0),
])
def test_median_from_a_histogram(histogram, median):
    assert metrics.median_from_histogram(histogram) == median


def test_today_is_the_shanghai_date_at_both_ends_of_the_day(engine, clock, submit):
    """Submitted 2026-09-30: the acceptance deadline is 2026-10-10 24:00 CST (16:00 UTC)."""
    submit()
    clock.set(cst("2026-10-09 23:59"))
    assert _reading(engine, metrics.today, clock.now()).due_today == 0  # due tomorrow, not today
    clock.set(cst("2026-10-10 00:00"))
    figures = _reading(engine, metrics.today, clock.now())
    assert (figures.day, figures.due_today, figures.overdue) == (date(2026, 10, 10), 1, 0)
    clock.set(cst("2026-10-10 23:59"))
    assert _reading(engine, metrics.today, clock.now()).due_today == 1
    # 00:30 in Beijing is still 10-10 in UTC: the breach belongs to Sunday 10-11, and so does "today".
    clock.set(cst("2026-10-11 00:30"))
    sweep_due_timers(engine)
    figures = _reading(engine, metrics.today, clock.now())
    assert (figures.day, figures.due_today, figures.overdue, figures.breaches_today) == (date(2026, 10, 11), 0, 1, 1)
    clock.set(cst("2026-10-11 23:59"))
    assert _reading(engine, metrics.today, clock.now()).breaches_today == 1
    clock.set(cst("2026-10-12 00:00"))
    figures = _reading(engine, metrics.today, clock.now())
    assert (figures.breaches_today, figures.open_breaches) == (0, 1)
    trend = _reading(engine, metrics.weekly_trend, clock.now(), weeks=2)
    assert [week.breaches for week in trend] == [1, 0]  # the week of Monday 10-05, not 10-12


def test_median_working_days_to_decision_is_stored_at_the_decision(engine, parties, submit, clock):
    """Counted like a period: the submission day is not counted, National Day and weekends are skipped."""
    import sqlalchemy as sa

    from engine.models import LoanApplication

    first, second = submit(), submit()
    services.accept(engine, parties.officer_a, first)
    services.accept(engine, parties.officer_a, second)
    clock.set(cst("2026-10-08 09:00"))  # the first working day after 09-30
    services.reject(engine, parties.officer_a, first, {"reason": "No"})
    clock.set(cst("2026-10-12 09:00"))  # 10-08, 10-09, 10-10 (make-up Saturday), 10-12
    services.approve(engine, parties.officer_a, second, APPROVAL)
    with engine.reading() as session:
        stored = dict(session.execute(sa.select(LoanApplication.id, LoanApplication.decision_working_days)).all())
    assert stored == {first: 1, second: 4}
    [bank_a, _bank_b] = _reading(engine, metrics.institution_records)
    assert bank_a.median_working_days_to_decision == 2.5
