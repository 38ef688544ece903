"""The officer's inbox and the enterprise's pages, through the web forms."""

from __future__ import annotations

import re

import sqlalchemy as sa

from engine.models import AuditEvent, LoanApplication
from tests.conftest import cst, scalar


def _reference(engine):
    with engine.transaction() as session:
        return session.scalars(sa.select(LoanApplication.reference).order_by(LoanApplication.id.desc())).first()


def _apply(enterprise, parties, **overrides):
    data = {"product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00",
            "term_months": "12", "purpose": "采购原材料", "authorize": "yes", **overrides}
    return enterprise.post("/my/applications/new", data)


def test_enterprise_applies_and_officer_takes_every_step(browser, parties, engine, clock):
    enterprise = browser("ent-user")
    assert "采购原材料" not in enterprise.get("/my/applications").get_data(as_text=True)
    response = _apply(enterprise, parties)
    assert response.status_code == 302
    reference = _reference(engine)

    officer = browser("officer-a")
    inbox = officer.get("/inbox").get_data(as_text=True)
    assert reference in inbox and "个工作日" in inbox  # the countdown, in Chinese by default
    page = officer.get(f"/inbox/{reference}").get_data(as_text=True)
    assert "受理" in page
    assert officer.post(f"/inbox/{reference}/accept", {"note": "齐全"}).status_code == 302
    assert officer.post(f"/inbox/{reference}/decision", {
        "decision": "approve", "amount": "400000.00", "annual_rate": "3.85", "term_months": "12"}).status_code == 302
    assert officer.post(f"/inbox/{reference}/disbursement", {
        "contract_number": "HT-1", "amount": "400000.00", "disbursed_on": "2026-09-30"}).status_code == 302
    assert officer.post(f"/inbox/{reference}/settlement", {"settled_on": "2026-09-30"}).status_code == 302

    mine = enterprise.get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "已结清" in mine and "已授信" not in mine.split("<h1>")[1].split("</h1>")[0]
    assert "400,000.00" in mine


def test_bad_input_gets_its_message_keeps_the_input_and_changes_nothing(browser, parties, engine):
    enterprise = browser("ent-user")
    response = _apply(enterprise, parties, amount="12.345", purpose="保留的用途")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "最多两位小数" in body and "保留的用途" in body
    no_consent = _apply(enterprise, parties, authorize="")
    assert no_consent.status_code == 422
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0

    _apply(enterprise, parties)
    reference = _reference(engine)
    officer = browser("officer-a")
    officer.post(f"/inbox/{reference}/accept", {})
    rejected = officer.post(f"/inbox/{reference}/decision", {"decision": "reject", "reason": "  "})
    assert rejected.status_code == 422 and "需要填写理由" in rejected.get_data(as_text=True)
    assert scalar(engine, sa.select(LoanApplication.status)) == "accepted"


def test_the_enterprise_sees_the_rejection_reason_and_can_withdraw_before(browser, parties, engine):
    enterprise = browser("ent-user")
    _apply(enterprise, parties)
    first = _reference(engine)
    enterprise.post(f"/my/applications/{first}/withdraw", {"reason": "不需要了"})
    assert "已撤销" in enterprise.get(f"/my/applications/{first}").get_data(as_text=True)
    _apply(enterprise, parties)
    second = _reference(engine)
    officer = browser("officer-a")
    officer.post(f"/inbox/{second}/accept", {})
    officer.post(f"/inbox/{second}/decision", {"decision": "reject", "reason": "缺少抵押"})
    page = enterprise.get(f"/my/applications/{second}").get_data(as_text=True)
    assert "缺少抵押" in page and "撤销申请" not in page


def test_a_breached_task_is_marked_in_the_inbox(browser, parties, engine, clock):
    from engine.workflow.timers import sweep_due_timers

    _apply(browser("ent-user"), parties)
    clock.set(cst("2026-10-11 09:00"))
    sweep_due_timers(engine)
    inbox = browser("officer-a").get("/inbox?due=overdue").get_data(as_text=True)
    assert 'class="breached"' in inbox and "已超时" in inbox


def test_institution_views_are_recorded_in_the_audit_log(browser, parties, engine):
    _apply(browser("ent-user"), parties)
    reference = _reference(engine)
    browser("officer-a").get(f"/inbox/{reference}")
    viewers = scalar(engine, sa.select(AuditEvent.actor).where(AuditEvent.action == "viewed"))
    assert viewers == "officer-a"


def test_english_is_available(browser):
    page = browser("officer-a").get("/inbox?lang=en").get_data(as_text=True)
    assert "Nothing waiting for your institution." in page


def test_wrong_password_and_rate_limit(browser, clock):
    anonymous = browser()
    assert anonymous.login("officer-a", "wrong").status_code == 401
    for _ in range(2):
        anonymous.login("officer-a", "wrong")
    slowed = anonymous.login("officer-a")
    assert slowed.status_code == 429 and slowed.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert anonymous.login("officer-a").status_code == 302


def test_session_cookie_is_httponly(browser):
    response = browser().login("officer-a")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and re.search("SameSite=Lax", cookie)


def test_the_timeline_says_which_steps_were_on_time_and_how_late_the_others(browser, parties, engine, clock):
    enterprise = browser("ent-user")
    _apply(enterprise, parties)
    reference = _reference(engine)
    clock.advance(days=12)  # 2026-10-12 10:00: two days past the acceptance deadline (10-10 24:00)
    officer = browser("officer-a")
    assert officer.post(f"/inbox/{reference}/accept", {}).status_code == 302
    assert officer.post(f"/inbox/{reference}/decision", {"decision": "reject", "reason": "No"}).status_code == 302
    for page in (officer.get(f"/inbox/{reference}?lang=en"), enterprise.get(f"/my/applications/{reference}?lang=en")):
        items = page.get_data(as_text=True).split('<ol class="timeline">')[1].split("</ol>")[0].split("<li>")
        accepted = next(item for item in items if "Accepted by the bank" in item)
        rejected = next(item for item in items if "— Rejected" in item)
        assert "1 working day late" in accepted and "on time" not in accepted
        assert "on time" in rejected


def test_every_response_carries_the_security_headers(browser):
    client = browser("supervisor")
    for path in ("/", "/login", "/supervision", "/api/v1/openapi.json", "/vendor/chart.js", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in headers  # only when served over HTTPS (production)


def test_the_countdown_skips_the_national_day_week(browser, parties, engine, clock):
    _apply(browser("ent-user"), parties)  # 2026-09-30 10:00, due 2026-10-10 24:00
    officer = browser("officer-a")

    def left() -> tuple[str, str]:
        row = officer.get("/inbox?lang=en").get_data(as_text=True).split("<tbody>")[1].split("</tr>")[0]
        cell = row.split('<td class="')[1]
        return cell.split('"')[0], cell.split(">")[1].split("<")[0]

    clock.set(cst("2026-10-03 12:00"))  # a holiday: 10/8, 10/9 and the make-up Saturday 10/10 remain
    assert left() == ("green", "3 working days left")
    clock.set(cst("2026-10-09 08:00"))  # Friday: only the make-up Saturday is left after today
    assert left() == ("amber", "1 working day left")
    clock.set(cst("2026-10-10 20:00"))  # the last day itself: hours, in red
    assert left() == ("red", "4 h left")
