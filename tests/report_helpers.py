"""The reports' shared history: four applications across National Day 2026 (see tests/engine/test_reports.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from engine.loans import services
from engine.models import Enterprise
from engine.workflow.timers import sweep_due_timers
from tests.conftest import APPROVAL, application_input, cst


def take_the_quarter(engine, parties, submit, clock) -> dict[str, int]:
    with engine.transaction() as session:
        session.execute(sa.update(Enterprise).where(Enterprise.id == parties.enterprise.enterprise_id).values(
            region_code="430102", industry_section="C", size_class="small"))
        session.execute(sa.update(Enterprise).where(Enterprise.id == parties.other_enterprise.enterprise_id).values(
            region_code="430203", industry_section="F", size_class="micro"))
    officer, officer_b = parties.officer_a, parties.officer_b
    x1 = submit(term_months=36)
    services.accept(engine, officer, x1)

    clock.set(cst("2026-10-09 10:00"))
    services.approve(engine, officer, x1, {**APPROVAL, "amount": Decimal("300000.00"), "term_months": 24,
                                           "loan_type": "credit", "first_loan": True})
    services.disburse(engine, officer, x1, {"contract_number": "HT-1", "amount": Decimal("250000.00"),
                                            "disbursed_on": date(2026, 10, 9)})
    x2 = submit()
    x3 = services.submit(engine, parties.other_enterprise, application_input(parties, clock.now())).id
    x4 = submit(institution_id=parties.bank_b_id, product_id=parties.product_b_id)

    clock.set(cst("2026-10-12 10:00"))
    services.accept(engine, officer, x2)
    services.approve(engine, officer, x2, {**APPROVAL, "amount": Decimal("200000.00"), "annual_rate": Decimal("4.35"),
                                           "loan_type": "guaranteed", "first_loan": False})
    services.accept(engine, officer, x3)
    services.reject(engine, officer, x3, {"reason": "Not now"})

    clock.set(cst("2026-10-14 08:00"))
    sweep_due_timers(engine)  # X4's acceptance deadline ended 10-13 24:00
    clock.set(cst("2026-10-15 10:00"))
    services.accept(engine, officer_b, x4)
    clock.set(cst("2026-10-20 08:00"))
    sweep_due_timers(engine)  # X2's disbursement deadline ended 10-19 24:00
    clock.set(cst("2026-10-21 10:00"))
    services.disburse(engine, officer, x2, {"contract_number": "HT-2", "amount": Decimal("200000.00"),
                                            "disbursed_on": date(2026, 10, 21)})
    clock.set(cst("2027-01-04 09:00"))
    return {"x1": x1, "x2": x2, "x3": x3, "x4": x4}
