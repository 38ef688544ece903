"""The board's kept figures equal a scan of the applications and the ledger after a mixed history:
steps on time and late, breaches recorded by the sweep and by a late step itself, a withdrawal that
resolves an open breach, a request for material, a rejection, disbursements and settlement; a
savepoint rolled back takes its figures with it; a late step racing the sweep, and concurrent steps
of one institution, lose no increment (PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from engine.loans import metrics, services
from engine.loans.figures_rebuild import rebuild
from engine.loans.satisfaction import survey_figures
from engine.models import BreachFigures, DailyFigures, DecisionDays, LoanApplication, ProcessFigures, SlaBreach
from engine.workflow import tasks
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, cst, scalar
from tests.engine.racing import race

MATERIAL = {"decision": "supplement", "material_requested": "近三个月的银行流水"}


def assert_figures_match_a_scan(engine, now):
    with engine.reading() as session:
        kept = metrics.board(session, now, weeks=20)
        scanned = metrics.board(session, now, weeks=20, scan=True)
        kept_statuses = metrics.status_counts(session)
        scanned_statuses = dict(session.execute(sa.select(LoanApplication.status, sa.func.count()).group_by(
            LoanApplication.status)).all())
        kept_survey, scanned_survey = survey_figures(session, kept_statuses), survey_figures(session)
    assert kept == scanned and kept_survey == scanned_survey
    assert {s: n for s, n in kept_statuses.items() if n} == scanned_statuses
    return kept


def _figure_rows(engine):
    with engine.reading() as session:
        return [sorted(tuple(row) for row in session.execute(sa.select(*table.__table__.columns)))
                for table in (DailyFigures, BreachFigures, DecisionDays, ProcessFigures)]


def _open_task(engine, actor, application_id, bpmn_id):
    return next(t for t in tasks.list_tasks(engine, actor).items
                if t.row.application_id == application_id and t.row.bpmn_id == bpmn_id)


def test_the_kept_figures_equal_a_scan_after_a_mixed_history(engine, parties, submit, clock):
    officer, other_bank = parties.officer_a, dict(institution_id=parties.bank_b_id, product_id=parties.product_b_id)
    settled, late_by_sweep, late_by_step, withdrawn_late, rejected, supplemented = (submit() for _ in range(6))
    unanswered = submit(**other_bank)
    services.accept(engine, officer, settled)
    services.approve(engine, officer, settled, APPROVAL)
    clock.set(cst("2026-10-09 10:00"))  # after National Day: the acceptance deadlines (10-10 24:00) still run
    services.disburse(engine, officer, settled, {"contract_number": "HT-1", "amount": Decimal("250000.00"),
                                                 "disbursed_on": date(2026, 10, 9)})
    services.accept(engine, officer, rejected)
    services.reject(engine, officer, rejected, {"reason": "Insufficient cash flow"})
    services.accept(engine, officer, supplemented)
    tasks.complete(engine, officer, _open_task(engine, officer, supplemented, "Decide").id, MATERIAL)
    assert_figures_match_a_scan(engine, clock.now())

    clock.set(cst("2026-10-11 08:00"))
    sweep_due_timers(engine)  # breaches: late_by_sweep, late_by_step, withdrawn_late (bank A), unanswered (B)
    assert_figures_match_a_scan(engine, clock.now())
    clock.set(cst("2026-10-12 10:00"))
    services.accept(engine, officer, late_by_sweep)  # resolves its breach: a late step
    services.withdraw(engine, parties.enterprise, withdrawn_late, {"reason": "Found another lender"})
    services.settle(engine, officer, settled, {"settled_on": "2026-10-12"})
    late_decision = submit()  # its acceptance is on time; the decision is taken after its deadline passed
    services.accept(engine, officer, late_decision)
    services.accept(engine, officer, late_by_step)
    clock.set(cst("2026-11-10 10:00"))  # no sweep since: the step fires its own due deadline first
    services.approve(engine, officer, late_decision, {**APPROVAL, "amount": Decimal("123456.78")})
    kept = assert_figures_match_a_scan(engine, clock.now())
    today, records, weeks = kept
    assert today.open_breaches == scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach).where(
        SlaBreach.resolved_at.is_(None))) > 0
    assert sum(week.accepted_late for week in weeks) == 2  # late_by_sweep and late_by_step
    assert sum(week.decided_late for week in weeks) == 1
    assert sum(record.applications for record in records) == 8 and unanswered
    with engine.reading() as session:
        assert survey_figures(session).started == 2  # the disbursement and the rejection started one each

    before = _figure_rows(engine)
    with engine.transaction() as session:
        rebuild(session.connection())
    assert _figure_rows(engine) == before  # what the migration's backfill computes is what was kept


def test_a_rolled_back_savepoint_takes_its_figures_with_it(engine, parties, submit, clock):
    application_id = submit()
    before = _figure_rows(engine)
    with engine.transaction() as session:
        application = session.get(LoanApplication, application_id)
        savepoint = session.begin_nested()
        application.status, application.accepted_at = "accepted", clock.now()
        session.flush()
        savepoint.rollback()
        session.flush()
    assert _figure_rows(engine) == before
    with engine.transaction() as session:
        session.expire_all()  # the old values are not loaded: the hook reads them from the row
        session.get(LoanApplication, application_id).status = "withdrawn"
    assert_figures_match_a_scan(engine, clock.now())


def test_late_steps_racing_the_sweep_keep_the_figures_exact(engine, parties, submit, clock):
    for _ in range(3):
        clock.set(cst("2026-09-30 10:00"))
        first, second = submit(), submit()
        engine.forget_live_workflows()
        clock.set(cst("2026-10-12 09:00"))  # both acceptance deadlines have passed, nothing swept yet
        race(lambda first=first: services.accept(engine, parties.officer_a, first),
             lambda second=second: services.accept(engine, parties.officer_a, second),
             lambda: sweep_due_timers(engine))
        for application_id in (first, second):  # a step refused by the race is simply taken again
            if scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id)) \
                    == "submitted":
                services.accept(engine, parties.officer_a, application_id)
        assert_figures_match_a_scan(engine, clock.now())


def test_concurrent_submissions_of_one_institution_lose_no_increment(engine, parties, submit, clock):
    outcomes = race(*(submit for _ in range(8)))
    assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
    today = assert_figures_match_a_scan(engine, clock.now())[0]
    assert today.open_applications == 8
