"""The officer's inbox and the enterprise's pages, through the web forms."""

from __future__ import annotations

import re

import sqlalchemy as sa

from engine.models import AuditEvent, LoanApplication, TaskRow
from tests.conftest import cst, scalar


def _reference(engine):
    with engine.transaction() as session:
        return session.scalars(sa.select(LoanApplication.reference).order_by(LoanApplication.id.desc())).first()


def _task(engine, reference: str, bpmn_id: str) -> int:
    """The open task `bpmn_id` of an application, worked on its task page (/tasks/<id>)."""
    return scalar(engine, sa.select(TaskRow.id).join(LoanApplication, LoanApplication.id == TaskRow.application_id)
                  .where(LoanApplication.reference == reference, TaskRow.bpmn_id == bpmn_id, TaskRow.state == "open"))


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
    steps = [("Accept", "受理", {"note": "齐全"}),
             ("Decide", "审贷决定", {"decision": "approve", "amount": "400000.00", "annual_rate": "3.85",
                                   "term_months": "12"}),
             ("Disburse", "放款", {"contract_number": "HT-1", "amount": "400000.00", "disbursed_on": "2026-09-30"}),
             ("Settle", "结清", {"settled_on": "2026-09-30"})]
    for bpmn_id, name, data in steps:
        task = _task(engine, reference, bpmn_id)
        page = officer.get(f"/inbox/{reference}").get_data(as_text=True)
        tasks = page.split('id="open-tasks"')[1].split("</section>")[0]
        assert f"<td>{name}</td>" in tasks and f'href="/tasks/{task}">办理</a>' in tasks  # each step, from its page
        assert tasks.count("<tr>") == 2  # the header and the one open task
        response = officer.post(f"/tasks/{task}", data)
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/inbox/{reference}")
    done = officer.get(f"/inbox/{reference}").get_data(as_text=True)
    assert "本申请暂无待您办理的任务。" in done and ">办理</a>" not in done

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
    officer.post(f"/tasks/{_task(engine, reference, 'Accept')}", {})
    rejected = officer.post(f"/tasks/{_task(engine, reference, 'Decide')}", {"decision": "reject", "reason": "  "})
    body = rejected.get_data(as_text=True)
    assert rejected.status_code == 422 and '<span id="field-reason-error" class="error" role="alert"> 必填。' in body
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
    officer.post(f"/tasks/{_task(engine, second, 'Accept')}", {})
    officer.post(f"/tasks/{_task(engine, second, 'Decide')}", {"decision": "reject", "reason": "缺少抵押"})
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


def test_the_application_page_lists_its_open_tasks_in_the_readers_language(browser, parties, engine, clock):
    _apply(browser("ent-user"), parties)
    reference = _reference(engine)
    officer = browser("officer-a")
    officer.post(f"/tasks/{_task(engine, reference, 'Accept')}", {})
    task = _task(engine, reference, "Decide")
    officer.post(f"/tasks/{task}/claim")
    clock.advance(days=1)
    tasks = officer.get(f"/inbox/{reference}").get_data(as_text=True).split('id="open-tasks"')[1].split("</section>")[0]
    assert "本申请的待办任务" in tasks and "<td>审贷决定</td>" in tasks and "<td>officer-a</td>" in tasks
    assert re.search(r'<td>2026-10-20 24:00</td>\s*<td><span class="green">剩余 10 个工作日</span></td>', tasks)
    assert f'href="/tasks/{task}">办理</a>' in tasks
    english = officer.get(f"/inbox/{reference}?lang=en").get_data(as_text=True)
    tasks = english.split('id="open-tasks"')[1].split("</section>")[0]
    assert "Open tasks of this application" in tasks and "<td>Credit decision</td>" in tasks  # the model's en.name
    assert "working days left" in tasks and f'href="/tasks/{task}">Open the task</a>' in tasks
    assert "审贷决定" not in tasks and "办理" not in tasks


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
    assert officer.post(f"/tasks/{_task(engine, reference, 'Accept')}", {}).status_code == 302
    assert officer.post(f"/tasks/{_task(engine, reference, 'Decide')}", {
        "decision": "reject", "reason": "No"}).status_code == 302
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
