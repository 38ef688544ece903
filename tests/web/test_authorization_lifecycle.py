"""The credit-query authorization over its life on the pages: the risk notice ticked to apply, shown to both
sides, revoked by the enterprise (audited, the bank told), and the officer's reads and reveals limited by it
and by the application's closure, with the masked record kept readable for the retention window."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.models import AuditEvent, CreditAuthorization, Enterprise, LoanApplication, OutboxMessage
from engine.models.loans import DisclosureRecord
from engine.platform.authorizations import RISK_NOTICE_VERSION
from tests.conftest import APPROVAL, rows, scalar

PHONE, ID_NUMBER = "13912345678", "430102198001011234"
MASKED_PHONE = "139****5678"


def _apply(client, parties, **overrides):
    form = {"product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00", "term_months": "12",
            "purpose": "Buy a packaging line", "authorize": "yes", **overrides}
    return client.post("/my/applications/new", {k: v for k, v in form.items() if v is not None})


@pytest.fixture
def reference(browser, parties, engine):
    with engine.transaction() as session:
        enterprise = session.get(Enterprise, parties.enterprise.enterprise_id)
        enterprise.legal_representative, enterprise.representative_id_number = "王建国", ID_NUMBER
        enterprise.contact_phone = PHONE
    assert _apply(browser("ent-user"), parties).status_code == 302
    return scalar(engine, sa.select(LoanApplication.reference))


def _audit(engine, action):
    return rows(engine, sa.select(AuditEvent.actor, AuditEvent.detail).where(AuditEvent.action == action)
                .order_by(AuditEvent.id))


def _ledger(engine):
    return rows(engine, sa.select(DisclosureRecord.actor, DisclosureRecord.action, DisclosureRecord.via,
                                  DisclosureRecord.purpose).order_by(DisclosureRecord.id))


def test_the_apply_page_shows_the_risk_notice_before_the_authorization(browser):
    page = browser("ent-user").get("/my/applications/new").get_data(as_text=True)
    notice, tick = page.index("风险提示"), page.index('name="authorize"')
    assert notice < tick
    for words in ("查询内容", "查询主体", "查询用途", "授权期限", "撤回", "90 天", "180 天"):
        assert words in page[notice:tick], words


def test_applying_without_ticking_the_risk_notice_is_refused_and_the_input_kept(browser, parties, engine):
    response = _apply(browser("ent-user"), parties, authorize=None, amount="123456.78", purpose="扩大生产线")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请阅读上方的风险提示并勾选。" in page and "未经您的授权，金融机构不得查询您的信用报告。" in page
    assert 'value="123456.78"' in page and "扩大生产线" in page
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0


def test_the_authorization_records_the_notice_read_its_purpose_and_validity(reference, engine):
    authorization = rows(engine, sa.select(CreditAuthorization))[0][0]
    assert authorization.risk_notice_version == RISK_NOTICE_VERSION
    assert authorization.purpose == "financing_application" and authorization.revoked_at is None
    assert (authorization.expires_at - authorization.granted_at).days == 90


def test_both_sides_see_the_authorization(browser, reference):
    mine = browser("ent-user").get(f"/my/applications/{reference}?lang=en").get_data(as_text=True)
    officer = browser("officer-a").get(f"/inbox/{reference}?lang=en").get_data(as_text=True)
    for page in (mine, officer):
        assert "Credit-query authorization" in page and "This financing application" in page
        assert 'data-status="active"' in page and "2026-12-29 10:00" in page  # valid 90 days
    assert "Revoke this authorization" in mine and "Revoke this authorization" not in officer
    assert "Show the contact data in full" in officer


def test_revoking_asks_first_then_refuses_the_officers_reveal(browser, reference, engine, parties):
    enterprise = browser("ent-user")
    confirm = enterprise.get(f"/my/data/authorizations/{reference}/revoke").get_data(as_text=True)
    assert "撤回申请" in confirm and "银行将立即收到通知" in confirm
    assert scalar(engine, sa.select(CreditAuthorization.revoked_at)) is None  # asking changes nothing
    response = enterprise.post(f"/my/data/authorizations/{reference}/revoke")
    assert response.status_code == 302
    assert "已撤回" in enterprise.get(response.headers["Location"]).get_data(as_text=True)
    assert scalar(engine, sa.select(CreditAuthorization.revoked_by)) == "ent-user"
    assert [detail["authorization_status"] for _actor, detail in _audit(engine, "authorization_revoked")] == ["active"]
    message = rows(engine, sa.select(OutboxMessage.payload).where(OutboxMessage.topic == "authorization.revoked"))
    assert message == [({"application": reference, "institution_id": parties.bank_a_id,
                         "enterprise_id": parties.enterprise.enterprise_id, "status": "submitted",
                         "revoked_at": "2026-09-30T02:00:00+00:00"},)]

    officer = browser("officer-a")
    page = officer.get(f"/inbox/{reference}?lang=en").get_data(as_text=True)
    assert 'data-status="revoked"' in page and "Show the contact data in full" not in page
    assert "the enterprise revoked its authorization" in page and MASKED_PHONE in page and PHONE not in page
    refused = officer.post(f"/inbox/{reference}/contact")  # a page loaded before the revocation
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403 and PHONE not in text and ID_NUMBER not in text and MASKED_PHONE in text
    assert "The contact data cannot be shown in full: the enterprise revoked its authorization. The refused " \
           "attempt is on record." in text
    assert _audit(engine, "personal_data_revealed") == []
    assert _audit(engine, "disclosure_refused") == [("officer-a", {"wanted": "reveal", "via": "page",
                                                                   "reason": "revoked"})]
    assert ("officer-a", "refused_reveal", "page", "revoked") in _ledger(engine)


def test_revoking_needs_csrf_and_happens_once(browser, reference, engine):
    enterprise = browser("ent-user")
    assert enterprise.post(f"/my/data/authorizations/{reference}/revoke", csrf=False).status_code == 400
    assert scalar(engine, sa.select(CreditAuthorization.revoked_at)) is None
    enterprise.post(f"/my/data/authorizations/{reference}/revoke")
    again = enterprise.post(f"/my/data/authorizations/{reference}/revoke")
    assert "该授权已被撤回" in enterprise.get(again.headers["Location"]).get_data(as_text=True)
    assert len(_audit(engine, "authorization_revoked")) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(OutboxMessage)
                  .where(OutboxMessage.topic == "authorization.revoked")) == 1


@pytest.mark.parametrize("intruder", ["other-user", "officer-a", "supervisor"])
def test_nobody_else_can_revoke(browser, reference, engine, intruder):
    client = browser(intruder)
    assert client.get(f"/my/data/authorizations/{reference}/revoke").status_code == 404
    assert client.post(f"/my/data/authorizations/{reference}/revoke").status_code == 404
    assert scalar(engine, sa.select(CreditAuthorization.revoked_at)) is None


def _close(how, engine, parties, reference):
    officer = parties.officer_a
    if how == "withdrawn":
        services.withdraw(engine, parties.enterprise, reference, {"reason": "found another bank"})
        return
    services.accept(engine, officer, reference)
    if how == "rejected":
        services.reject(engine, officer, reference, {"reason": "No collateral"})
        return
    services.approve(engine, officer, reference, APPROVAL)
    services.disburse(engine, officer, reference, {"contract_number": "HT-1", "amount": Decimal("400000.00"),
                                                   "disbursed_on": date(2026, 9, 30)})
    services.settle(engine, officer, reference, {"settled_on": date(2026, 9, 30)})


@pytest.mark.parametrize("how", ["withdrawn", "rejected", "settled"])
def test_a_closed_case_stays_readable_masked_for_the_retention_window_then_explains_why_not(
        browser, reference, engine, parties, clock, how):
    _close(how, engine, parties, reference)
    clock.advance(days=179)
    officer = browser("officer-a")
    page = officer.get(f"/inbox/{reference}?lang=en")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and MASKED_PHONE in text and PHONE not in text
    assert 'data-status="closed"' in text and "Show the contact data in full" not in text
    assert "can read this record, with contact data masked, until 2027-03-29" in text  # 180 days after closure
    refused = officer.post(f"/inbox/{reference}/contact")
    assert refused.status_code == 403 and PHONE not in refused.get_data(as_text=True)
    assert rows(engine, sa.select(DisclosureRecord.action, DisclosureRecord.purpose)
                .where(DisclosureRecord.actor == "officer-a").order_by(DisclosureRecord.id)) == [
        ("read", "case_record"), ("read", "case_record"), ("refused_reveal", how)]

    clock.advance(days=2)
    officer = browser("officer-a")  # a new sign-in: sessions do not last half a year
    closed = officer.get(f"/inbox/{reference}")
    text = closed.get_data(as_text=True)
    assert closed.status_code == 403 and closed.mimetype == "text/html"
    assert "已不再向贵机构开放" in text and "只读案卷" in text and "结案后 180 天" in text
    assert MASKED_PHONE not in text and "王建国" not in text
    english = officer.get(f"/inbox/{reference}?lang=en").get_data(as_text=True)
    assert "This application is closed to your institution" in english
    assert officer.post(f"/inbox/{reference}/contact").status_code == 403
    assert [detail["wanted"] for _actor, detail in _audit(engine, "disclosure_refused")] == [
        "reveal", "read", "read", "read"]


def test_an_expired_authorization_of_an_open_case_refuses_the_reveal_only(browser, reference, engine, clock):
    clock.advance(days=91)
    officer = browser("officer-a")
    page = officer.get(f"/inbox/{reference}?lang=en").get_data(as_text=True)
    assert 'data-status="expired"' in page and MASKED_PHONE in page and "Show the contact data in full" not in page
    response = officer.post(f"/inbox/{reference}/contact")
    assert response.status_code == 403 and PHONE not in response.get_data(as_text=True)
    assert _audit(engine, "disclosure_refused")[-1][1]["reason"] == "expired"


def test_within_its_validity_the_reveal_records_its_purpose(browser, reference, engine):
    officer = browser("officer-a")
    response = officer.post(f"/inbox/{reference}/contact")
    assert response.status_code == 200 and PHONE in response.get_data(as_text=True)
    assert _ledger(engine) == [("officer-a", "read", "page", "handling_application"),
                               ("officer-a", "reveal", "page", "handling_application")]


def test_the_retention_window_is_configured(engine, database_url, parties, reference, clock):
    from tests.web.conftest import Browser
    from web import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CASE_RECORD_RETENTION_DAYS": 0},
                     engine=engine)
    services.withdraw(engine, parties.enterprise, reference, {})
    clock.advance(seconds=1)
    officer = Browser(app)
    officer.login("officer-a")
    assert officer.get(f"/inbox/{reference}").status_code == 403


def test_the_bank_is_told_of_the_revocation_in_its_notifications(browser, reference, engine):
    from notifications.delivery import deliver_due
    from tests.notification_helpers import settings

    deliver_due(engine, settings())  # the submission's own notifications first
    browser("ent-user").post(f"/my/data/authorizations/{reference}/revoke")
    deliver_due(engine, settings())
    officer = browser("officer-a").get("/notifications").get_data(as_text=True)
    assert f"授权已撤回：{reference}" in officer and "企业已撤回申请" in officer
    assert f"授权已撤回：{reference}" in browser("bank-admin-a").get("/notifications").get_data(as_text=True)
    assert f"授权已撤回：{reference}" not in browser("officer-b").get("/notifications").get_data(as_text=True)
    assert f"授权已撤回：{reference}" not in browser("ent-user").get("/notifications").get_data(as_text=True)


def test_the_officers_search_finds_a_closed_case_only_within_the_window(browser, reference, engine, parties, clock):
    services.withdraw(engine, parties.enterprise, reference, {})
    clock.advance(days=179)
    link = f'href="/inbox/{reference}"'
    assert link in browser("officer-a").get(f"/inbox?q={reference}").get_data(as_text=True)
    clock.advance(days=2)
    assert link not in browser("officer-a").get(f"/inbox?q={reference}").get_data(as_text=True)
    assert link not in browser("officer-a").get("/inbox?q=Ent").get_data(as_text=True)
