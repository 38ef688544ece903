"""Demo data for `make run`: two institutions, an enterprise, applications at every step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from engine.loans import services
from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR, Actor
from engine.models import Enterprise, Institution, LoanProduct, UserAccount
from engine.platform.access import PROCESS_AUTHOR, SYSTEM_ADMIN, create_user
from engine.workflow.runtime import Engine

ENTERPRISE_ACTOR_ID = "enterprise"
DEMO_PASSWORD = "demo-password"
DEMO_USERNAMES = ("enterprise", "officer-a", "officer-b", "bank-admin-a", "supervisor", "author", "admin")


def demo_accounts_present(engine: Engine) -> bool:
    """Whether any demo account exists (production refuses to start with one)."""
    with engine.transaction() as session:
        return bool(session.scalar(sa.select(sa.func.count()).select_from(UserAccount).where(
            UserAccount.username.in_(DEMO_USERNAMES))))


def load_demo_data(engine: Engine) -> bool:
    """Create the demo parties and applications once; return False if they already exist."""
    with engine.transaction() as session:
        if session.scalar(sa.select(sa.func.count()).select_from(Institution)):
            return False
        bank_a = Institution(code="BANK-A", name="湘江银行长沙分行")
        bank_b = Institution(code="BANK-B", name="洞庭农商银行")
        enterprise = Enterprise(name="长沙星火精密制造有限公司", credit_code="91430100MA4L000001",
                                legal_representative="王建国", representative_id_number="430102198001011233",
                                contact_phone="13800138000", region_code="430102", industry_section="C",
                                size_class="small")
        session.add_all([bank_a, bank_b, enterprise])
        session.flush()
        product_a = LoanProduct(institution_id=bank_a.id, code="XYD-A1", name="信易贷·科创贷")
        product_b = LoanProduct(institution_id=bank_b.id, code="XYD-B1", name="信易贷·惠农贷")
        session.add_all([product_a, product_b])
        session.flush()
        ids = (bank_a.id, bank_b.id, enterprise.id, product_a.id, product_b.id)
        now = engine.clock.now()
        for username, role, institution_id, enterprise_id in (
            ("enterprise", ENTERPRISE, None, enterprise.id),
            ("officer-a", OFFICER, bank_a.id, None),
            ("officer-b", OFFICER, bank_b.id, None),
            ("bank-admin-a", INSTITUTION_ADMIN, bank_a.id, None),
            ("supervisor", SUPERVISOR, None, None),
            ("author", PROCESS_AUTHOR, None, None),
            ("admin", SYSTEM_ADMIN, None, None),
        ):
            create_user(session, now, username, DEMO_PASSWORD, role,
                        institution_id=institution_id, enterprise_id=enterprise_id)
    bank_a_id, bank_b_id, enterprise_id, product_a_id, product_b_id = ids

    applicant = Actor(ENTERPRISE_ACTOR_ID, "enterprise", enterprise_id=enterprise_id)
    officer_a = Actor("officer-a", OFFICER, institution_id=bank_a_id)
    now = engine.clock.now()

    def apply(institution_id: int, product_id: int, amount: str, purpose: str) -> int:
        return services.submit(engine, applicant, {
            "institution_id": institution_id, "product_id": product_id, "amount": amount,
            "term_months": 12, "purpose": purpose,
            "authorization": {
                "scope": "企业征信报告查询（本次贷款审批）", "granted_by": ENTERPRISE_ACTOR_ID,
                "granted_at": now.isoformat(), "expires_at": (now + timedelta(days=90)).isoformat(),
            },
        }).id

    apply(bank_a_id, product_a_id, "500000.00", "采购原材料")
    accepted = apply(bank_a_id, product_a_id, "1200000.00", "新增生产线设备")
    services.accept(engine, officer_a, accepted, {"note": "材料齐全"})
    approved = apply(bank_a_id, product_a_id, "300000.00", "补充流动资金")
    services.accept(engine, officer_a, approved)
    services.approve(engine, officer_a, approved,
                     {"amount": Decimal("300000.00"), "annual_rate": Decimal("3.85"), "term_months": 12})
    apply(bank_b_id, product_b_id, "200000.00", "支付货款")
    # Last month's applications, so that the reports page (which opens on the last closed month) shows figures.
    from engine.platform.demo_history import load_history

    load_history(engine, bank_a_id, bank_b_id, product_a_id, product_b_id, enterprise_id)
    return True
