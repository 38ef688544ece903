"""Demo data for the reports page: last month's applications, taken through the engine on a clock set back.

The reports page opens on the last closed month; without this the demo's applications (all made
"now") would leave it empty. The engine's clock is swapped for a controlled one while the history
is written, then put back.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from engine.loans import services
from engine.loans.actors import ENTERPRISE, OFFICER, Actor
from engine.loans.reports.periods import MONTH, last_closed
from engine.models import Enterprise
from engine.workflow.clock import ControlledClock
from engine.workflow.runtime import Engine
from engine.workflow.timers import sweep_due_timers
from engine.workflow.working_days import SHANGHAI


def load_history(engine: Engine, bank_a_id: int, bank_b_id: int, product_a_id: int, product_b_id: int,
                 enterprise_id: int) -> None:
    """Four applications of last month: two loans (one 首贷 信用贷 中长期), a rejection, a late acceptance."""
    with engine.transaction() as session:
        second = Enterprise(name="株洲湘韵商贸有限公司", credit_code="91430200MA4L00002T", region_code="430203",
                            industry_section="F", size_class="micro")
        session.add(second)
        session.flush()
        second_id = second.id
    real_clock = engine.clock
    start = last_closed(MONTH, real_clock.now()).start + timedelta(days=2)
    clock = ControlledClock(datetime.combine(start, time(10), SHANGHAI))
    engine.clock = clock
    try:
        _take_steps(engine, clock, bank_a_id, bank_b_id, product_a_id, product_b_id, enterprise_id, second_id)
        clock.set(real_clock.now())
        sweep_due_timers(engine)  # what came due since (the late one's decision, surveys) as the scheduler would
    finally:
        engine.clock = real_clock


def _take_steps(engine: Engine, clock: ControlledClock, bank_a_id: int, bank_b_id: int, product_a_id: int,
                product_b_id: int, enterprise_id: int, second_id: int) -> None:
    officer_a = Actor("officer-a", OFFICER, institution_id=bank_a_id)
    officer_b = Actor("officer-b", OFFICER, institution_id=bank_b_id)

    def apply(enterprise: int, institution_id: int, product_id: int, amount: str, term: int) -> int:
        now = clock.now()
        return services.submit(engine, Actor("enterprise", ENTERPRISE, enterprise_id=enterprise), {
            "institution_id": institution_id, "product_id": product_id, "amount": amount, "term_months": term,
            "purpose": "经营周转", "authorization": {
                "scope": "企业征信报告查询（本次贷款审批）", "granted_by": "enterprise",
                "granted_at": now.isoformat(), "expires_at": (now + timedelta(days=90)).isoformat()},
        }).id

    first = apply(enterprise_id, bank_a_id, product_a_id, "800000.00", 36)
    second = apply(second_id, bank_a_id, product_a_id, "200000.00", 12)
    refused = apply(enterprise_id, bank_b_id, product_b_id, "150000.00", 12)
    late = apply(second_id, bank_b_id, product_b_id, "100000.00", 12)
    clock.advance(days=1)
    services.accept(engine, officer_a, first)
    services.accept(engine, officer_a, second)
    services.accept(engine, officer_b, refused)
    clock.advance(days=2)
    services.approve(engine, officer_a, first, {"amount": Decimal("600000.00"), "annual_rate": Decimal("3.65"),
                                                "term_months": 36, "loan_type": "credit", "first_loan": True})
    services.approve(engine, officer_a, second, {"amount": Decimal("200000.00"), "annual_rate": Decimal("4.20"),
                                                 "term_months": 12, "loan_type": "guaranteed", "first_loan": False})
    services.reject(engine, officer_b, refused, {"reason": "经营流水不足"})
    clock.advance(days=2)
    today = clock.now().astimezone(SHANGHAI).date()
    services.disburse(engine, officer_a, first, {"contract_number": "HT-DEMO-001", "amount": Decimal("600000.00"),
                                                 "disbursed_on": today})
    services.disburse(engine, officer_a, second, {"contract_number": "HT-DEMO-002", "amount": Decimal("200000.00"),
                                                  "disbursed_on": today})
    clock.advance(days=3)
    sweep_due_timers(engine)  # the late one's acceptance deadline has passed: a breach against bank B
    clock.advance(days=1)
    services.accept(engine, officer_b, late)
