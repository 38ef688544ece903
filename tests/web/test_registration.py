"""Self-registration through the pages, with the code delivered by a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from engine.models import (
    AuditEvent,
    CreditCommitment,
    Delivery,
    Enterprise,
    IdentityCheck,
    LoanApplication,
    OutboxMessage,
    PendingRegistration,
    UserAccount,
)
from engine.platform.registration import commitment
from notifications.delivery import deliver_due
from notifications.settings import delivery_settings
from tests.conftest import rows, scalar
from tests.registration_helpers import mailbox, registration_form  # noqa: F401 - the fixture
from tests.web.conftest import TOKEN, Browser
from web import create_app

EMAIL = "li.si@example.cn"


@pytest.fixture
def app(engine, database_url, parties, mailbox):  # noqa: F811 - the fixture imported above
    return create_app({"TESTING": True, "DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1",
                       "SMTP_PORT": mailbox.port, "MAIL_FROM": "platform@xinyidai.example.cn"}, engine=engine)


class Registrant(Browser):
    def open_form(self):
        page = self.client.get("/register")
        self.token = TOKEN.search(page.get_data(as_text=True)).group(1)
        return page


@pytest.fixture
def registrant(app):
    person = Registrant(app)
    person.open_form()
    return person


def _deliver(app, engine):
    return deliver_due(engine, delivery_settings(app.config))


def _count(engine, model) -> int:
    return scalar(engine, sa.select(sa.func.count()).select_from(model))


def test_an_enterprise_registers_with_an_emailed_code_then_signs_in_and_applies(
        app, engine, registrant, mailbox, parties):  # noqa: F811
    page = registrant.client.get("/register").get_data(as_text=True)
    assert "统一社会信用代码" in page and "信用承诺书" in page and "未配置短信服务商" in page
    response = registrant.post("/register", registration_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/code")
    assert _count(engine, Enterprise) == 2  # the fixture's two; nothing yet until the code is entered
    assert "li***@example.cn" in registrant.get("/register/code").get_data(as_text=True)

    run = _deliver(app, engine)
    assert run.sent == 1 and run.failed == 0
    [(to, message)] = mailbox.messages()
    assert to == [EMAIL]
    assert message["Subject"] == "融资信用服务平台注册验证码"
    code = mailbox.last_code(EMAIL)
    assert f"您的验证码为 {code}，10 分钟内有效" in message.get_content()
    # The code is kept as an HMAC only; the outbox and the delivery forget it once fanned out and sent.
    assert code not in str(rows(engine, sa.select(PendingRegistration.__table__)))
    assert all("code" not in payload for (payload,) in rows(engine, sa.select(OutboxMessage.payload)))
    assert all("code" not in params for (params,) in rows(engine, sa.select(Delivery.params)))

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = registrant.post("/register/code", {"code": wrong})
    assert response.status_code == 422 and "验证码不正确，还可尝试 4 次" in response.get_data(as_text=True)

    response = registrant.post("/register/code", {"code": code})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    enterprise = rows(engine, sa.select(Enterprise).where(Enterprise.credit_code == "91430100MA4L16XQ39"))[0][0]
    assert (enterprise.name, enterprise.legal_representative, enterprise.applicant_kind, enterprise.region_code,
            enterprise.industry_section, enterprise.size_class) == (
        "湖南示范农业科技有限公司", "张三", "enterprise", "430100", "A", "small")
    user = rows(engine, sa.select(UserAccount).where(UserAccount.username == "hunan-agri"))[0][0]
    assert (user.role, user.enterprise_id, user.email, user.display_name) == (
        "enterprise", enterprise.id, EMAIL, "李四")
    assert user.password_hash.startswith("pbkdf2:") and "a-long-password-1" not in user.password_hash
    promise = rows(engine, sa.select(CreditCommitment))[0][0]
    assert (promise.user_id, promise.accepted_by, promise.version, promise.language, promise.text_sha256) == (
        user.id, "hunan-agri", commitment.VERSION, "zh",
        hashlib.sha256(commitment.TEXTS["zh"].encode()).hexdigest())
    check = rows(engine, sa.select(IdentityCheck))[0][0]
    assert (check.enterprise_id, check.method, check.status) == (enterprise.id, "manual_review", "pending")
    event = rows(engine, sa.select(AuditEvent).where(AuditEvent.action == "enterprise_registered"))[0][0]
    assert event.actor == "hunan-agri" and event.detail["commitment"]["sha256"] == promise.text_sha256
    assert scalar(engine, sa.select(PendingRegistration.password_hash)) == ""

    # The new user signs in and applies with the existing pages.
    login = registrant.login("hunan-agri", "a-long-password-1")
    assert login.status_code == 302
    response = registrant.post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "300000.00", "term_months": "12",
        "purpose": "购买农机", "authorize": "yes"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert scalar(engine, sa.select(LoanApplication.enterprise_id)) == enterprise.id


def test_an_expired_code_is_refused_and_a_new_one_works(app, engine, registrant, mailbox, clock):  # noqa: F811
    registrant.post("/register", registration_form())
    _deliver(app, engine)
    old = mailbox.last_code(EMAIL)
    clock.advance(minutes=10, seconds=1)
    response = registrant.post("/register/code", {"code": old})
    assert response.status_code == 422 and "验证码已过期" in response.get_data(as_text=True)
    assert _count(engine, UserAccount) == 0
    assert registrant.post("/register/code/resend").status_code == 302
    _deliver(app, engine)
    new = mailbox.last_code(EMAIL)
    if new != old:  # the old code stops working (unless chance drew the same digits)
        assert registrant.post("/register/code", {"code": old}).status_code == 422
    assert registrant.post("/register/code", {"code": new}).status_code == 302
    assert _count(engine, UserAccount) == 1


def test_new_codes_are_throttled(app, engine, registrant, mailbox, clock):  # noqa: F811
    registrant.post("/register", registration_form())
    response = registrant.post("/register/code/resend")
    assert response.status_code == 429 and "请等待" in response.get_data(as_text=True)
    clock.advance(seconds=61)
    assert registrant.post("/register/code/resend").status_code == 302
    _deliver(app, engine)
    assert len(mailbox.envelopes) == 2


def test_too_many_wrong_codes_lock_the_registration(app, engine, registrant, mailbox):  # noqa: F811
    registrant.post("/register", registration_form())
    _deliver(app, engine)
    code = mailbox.last_code(EMAIL)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        assert f"还可尝试 {left} 次" in registrant.post("/register/code", {"code": wrong}).get_data(as_text=True)
    response = registrant.post("/register/code", {"code": wrong})
    assert response.status_code == 422 and "此次注册已锁定" in response.get_data(as_text=True)
    response = registrant.post("/register/code", {"code": code})  # even the right code, now
    assert response.status_code == 422 and "此次注册已锁定" in response.get_data(as_text=True)
    assert registrant.post("/register/code/resend").status_code == 302
    _deliver(app, engine)
    assert len(mailbox.envelopes) == 1  # no new code for a locked registration
    assert _count(engine, UserAccount) == 0 and _count(engine, Enterprise) == 2
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "registration_locked")) == 1


def test_a_credit_code_registered_already_is_refused_and_nothing_is_stored(
        app, engine, registrant, mailbox):  # noqa: F811
    with engine.transaction() as session:
        session.add(Enterprise(name="已注册企业", credit_code="91430100MA4L16XQ39"))
    response = registrant.post("/register", registration_form())
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "该统一社会信用代码已注册" in page and "已注册企业" not in page
    assert 'value="hunan-agri"' in page and 'value="湖南示范农业科技有限公司"' in page  # input kept
    assert "a-long-password-1" not in page  # but never the password
    assert _count(engine, PendingRegistration) == 0 and _count(engine, OutboxMessage) == 0


def test_without_the_credit_commitment_nothing_is_stored(app, engine, registrant):
    form = registration_form()
    del form["accept_commitment"]
    response = registrant.post("/register", form)
    assert response.status_code == 422 and "须接受信用承诺" in response.get_data(as_text=True)
    assert _count(engine, PendingRegistration) == 0 and _count(engine, OutboxMessage) == 0


def test_field_errors_are_worded_in_chinese_with_the_input_kept(app, engine, registrant):
    response = registrant.post("/register", registration_form(
        credit_code="91430100MA4L16XQ3A", region_choice="other", region_other="990000", industry_section="",
        applicant_kind="individual_business", password_again="something-else", email="not-an-address"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "校验码" in page and "不存在以该两位数字开头的省级行政区划" in page and "两次输入的密码不一致" in page
    assert "电子邮箱地址无效" in page
    assert 'value="91430100MA4L16XQ3A"' in page and 'value="990000"' in page
    response = registrant.post("/register", registration_form(applicant_kind="individual_business"))
    assert "该类主体的统一社会信用代码以 92 开头" in response.get_data(as_text=True)
    assert _count(engine, PendingRegistration) == 0


def test_codes_by_text_message_are_refused_while_no_sms_provider_is_configured(app, engine, registrant):
    response = registrant.post("/register", registration_form(channel="sms", phone="13800138000"))
    assert response.status_code == 422 and "未配置短信服务商" in response.get_data(as_text=True)
    assert _count(engine, PendingRegistration) == 0


def test_registrations_from_one_address_are_throttled(engine, database_url, parties, mailbox):  # noqa: F811
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SMTP_HOST": "127.0.0.1",
                      "SMTP_PORT": mailbox.port, "REGISTRATION_STARTS_PER_SOURCE": 2}, engine=engine)
    person = Registrant(app)
    person.open_form()
    for number in range(2):
        response = person.post("/register", registration_form(username=f"user-{number}",
                                                               email=f"u{number}@example.cn"))
        assert response.status_code == 302
    response = person.post("/register", registration_form(username="user-3", email="u3@example.cn"))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "注册过于频繁" in response.get_data(as_text=True)
    assert _count(engine, PendingRegistration) == 2


def test_the_registration_form_needs_its_csrf_token(app, engine, registrant):
    response = registrant.post("/register", registration_form(), csrf=False)
    assert response.status_code == 400
    assert _count(engine, PendingRegistration) == 0


def test_without_a_mail_server_the_page_says_registration_cannot_send_codes(engine, database_url, parties):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url}, engine=engine)
    page = app.test_client().get("/register").get_data(as_text=True)
    assert "暂无法注册" in page
