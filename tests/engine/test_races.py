"""Races that SQLite hides: late steps, the sweep and withdrawals interleaved on one case.

Each race ends in success or a 409-class refusal (ConcurrencyConflict, InvalidTransition), never
another error, and the ledger holds exactly one breach per missed deadline. CI runs a few trials
per race; `make stress` runs many more (STRESS_TRIALS).
"""

from __future__ import annotations

import os

import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, LoanApplication, SlaBreach, TimerRow
from engine.workflow.errors import ConcurrencyConflict, InvalidTransition
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, cst, scalar
from tests.engine.racing import race

TRIALS = int(os.environ.get("STRESS_TRIALS", "4"))
REFUSALS = (ConcurrencyConflict, InvalidTransition)  # both answer 409 over the API


def _only_success_or_refusal(outcomes):
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException) or isinstance(outcome, REFUSALS), repr(outcome)
    return [o for o in outcomes if not isinstance(o, BaseException)]


def _breaches(engine, application_id, kind):
    return scalar(engine, sa.select(sa.func.count()).select_from(SlaBreach).where(
        SlaBreach.application_id == application_id, SlaBreach.kind == kind))


def test_two_concurrent_late_accepts_one_succeeds_the_other_is_refused(engine, parties, submit, clock):
    for _ in range(TRIALS):
        clock.set(cst("2026-09-30 10:00"))
        application_id = submit()
        engine.forget_live_workflows()
        clock.set(cst("2026-10-12 09:00"))  # the accept deadline (10-10 24:00) has passed

        def accept(application_id=application_id):
            return services.accept(engine, parties.officer_a, application_id)

        winners = _only_success_or_refusal(race(accept, accept))
        assert len(winners) == 1
        assert _breaches(engine, application_id, "accept") == 1
        assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.application_id == application_id, AuditEvent.action == "accepted")) == 1


def test_a_late_accept_racing_the_sweep_records_one_breach(engine, parties, submit, clock):
    for _ in range(TRIALS):
        clock.set(cst("2026-09-30 10:00"))
        application_id = submit()
        engine.forget_live_workflows()
        clock.set(cst("2026-10-12 09:00"))

        outcomes = race(lambda application_id=application_id: services.accept(engine, parties.officer_a,
                                                                               application_id),
                         lambda: sweep_due_timers(engine))
        _only_success_or_refusal(outcomes)
        sweep = outcomes[1]
        assert sweep.failed == 0
        assert _breaches(engine, application_id, "accept") == 1
        status = scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id))
        if isinstance(outcomes[0], BaseException):  # refused: the officer may simply try again
            services.accept(engine, parties.officer_a, application_id)
            status = "accepted"
        assert status == "accepted"
        assert _breaches(engine, application_id, "accept") == 1
        assert scalar(engine, sa.select(sa.func.count()).select_from(TimerRow).where(
            TimerRow.state == "failed")) == 0


def test_a_late_decision_racing_the_enterprises_withdrawal_ends_in_one_of_them(engine, parties, submit, clock):
    for _ in range(TRIALS):
        clock.set(cst("2026-09-30 10:00"))
        application_id = submit()
        services.accept(engine, parties.officer_a, application_id)
        engine.forget_live_workflows()
        clock.set(cst("2026-11-20 09:00"))  # past the decision deadline too

        outcomes = race(
            lambda application_id=application_id: services.approve(engine, parties.officer_a, application_id,
                                                                   dict(APPROVAL)),
            lambda application_id=application_id: services.withdraw(engine, parties.enterprise, application_id,
                                                                    {"reason": "found another lender"}),
            lambda: sweep_due_timers(engine),
        )
        winners = _only_success_or_refusal(outcomes)
        assert winners, outcomes
        status = scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id))
        approved, withdrawn = (not isinstance(outcomes[0], BaseException),
                               not isinstance(outcomes[1], BaseException))
        assert approved != withdrawn, outcomes  # decision and withdrawal exclude each other
        assert status == ("approved" if approved else "withdrawn")
        assert _breaches(engine, application_id, "decision") == 1


def test_the_task_runtime_racing_the_facade_a_claim_withdrawal_and_the_sweep(engine, parties, submit, clock):
    """One late decision taken twice at once — through the generic task runtime and the banks' façade —
    while a colleague claims the task, the enterprise withdraws and the sweep fires the deadline."""
    from engine.models import TaskRow
    from engine.workflow import tasks

    decision = {"decision": "approve", "amount": "400000.00", "annual_rate": "3.8500", "term_months": 12}
    for _ in range(TRIALS):
        clock.set(cst("2026-09-30 10:00"))
        application_id = submit()
        services.accept(engine, parties.officer_a, application_id)
        task_id = scalar(engine, sa.select(TaskRow.id).where(
            TaskRow.application_id == application_id, TaskRow.state == "open"))
        engine.forget_live_workflows()
        clock.set(cst("2026-11-20 09:00"))  # past the decision deadline

        outcomes = race(
            lambda task_id=task_id: tasks.complete(engine, parties.officer_a, task_id, decision),
            lambda application_id=application_id: services.approve(engine, parties.officer_a, application_id,
                                                                   dict(APPROVAL)),
            lambda task_id=task_id: tasks.claim(engine, parties.officer_a, task_id),
            lambda application_id=application_id: services.withdraw(engine, parties.enterprise, application_id,
                                                                    {"reason": "found another lender"}),
            lambda: sweep_due_timers(engine),
        )
        _only_success_or_refusal(outcomes)
        decided = [o for o in outcomes[:2] if not isinstance(o, BaseException)]
        withdrawn = not isinstance(outcomes[3], BaseException)
        assert len(decided) + withdrawn == 1, outcomes  # exactly one of the three closing acts
        status = scalar(engine, sa.select(LoanApplication.status).where(LoanApplication.id == application_id))
        assert status == ("withdrawn" if withdrawn else "approved")
        assert _breaches(engine, application_id, "decision") == 1
        assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.application_id == application_id, AuditEvent.action.in_(("approved", "withdrawn")))) == 1
